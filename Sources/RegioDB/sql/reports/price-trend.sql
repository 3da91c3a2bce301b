-- parameters: $1 alliance, $2 from, $3 to, $4 item, $5 group
-- price-trend: per alliance, standard item and month, the median price per base unit of the
-- members' lines (each line one value) and the quantity-weighted mean (Σ amount ÷ Σ base units),
-- with the agreed price in force that month (the line to compare against) and the listed price.
-- Lines whose pack size is in doubt are left out. From reports.purchase_month.
WITH p AS (
    SELECT * FROM reports.period($2::text, $3::text)
), points AS (
    SELECT a.* FROM p, reports.alliance_purchases($1::text, p.first_month, p.last_month) a
    JOIN procurement.items i ON i.national_code = a.national_code
    WHERE a.comparable AND ($4::text IS NULL OR a.national_code = $4) AND ($5::text IS NULL OR i.generic_group = $5)
), months AS (
    SELECT alliance_id, alliance_code, month, national_code, count(DISTINCT facility_id) AS members, sum(lines) AS lines,
           sum(base_units) AS base_units, sum(amount) AS amount
    FROM points GROUP BY alliance_id, alliance_code, month, national_code
), medians AS (
    SELECT alliance_id, month, national_code,
           reports.quantile(array_agg(base_unit_price ORDER BY base_unit_price), 0.5) AS median
    FROM points, generate_series(1, points.lines)
    GROUP BY alliance_id, month, national_code
)
SELECT m.alliance_code,
       m.national_code,
       i.generic_name,
       i.base_unit,
       to_char(m.month, 'YYYY-MM')                   AS month,
       m.members::bigint                             AS members,
       m.lines::bigint                               AS lines,
       m.base_units,
       round(m.amount, 2)                            AS amount,
       round(d.median, 4)                            AS median_price,
       round(m.amount / m.base_units, 4)             AS mean_price,
       round(ap.price, 4)                            AS agreed_price,
       round(lp.price, 4)                            AS listed_price
FROM months m
JOIN medians d ON d.alliance_id = m.alliance_id AND d.month = m.month AND d.national_code = m.national_code
JOIN procurement.items i ON i.national_code = m.national_code
LEFT JOIN procurement.agreed_prices ap
       ON ap.alliance_id = m.alliance_id AND ap.national_code = m.national_code
      AND ap.valid_from <= m.month AND (ap.valid_to IS NULL OR ap.valid_to >= m.month)
LEFT JOIN procurement.listed_prices lp
       ON lp.national_code = m.national_code AND lp.valid_from <= m.month AND (lp.valid_to IS NULL OR lp.valid_to >= m.month)
ORDER BY m.alliance_code, m.national_code, m.month

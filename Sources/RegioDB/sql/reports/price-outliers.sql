-- parameters: $1 alliance, $2 from, $3 to, $4 item, $5 group, $6 member, $7 tolerance
-- price-outliers: the alliance members' purchases (a member's lines of one month, item, supplier
-- and price per base unit) priced above the item's reference that month (as in price-comparison)
-- by more than the tolerance ($7 %, default setting price_tolerance_percent = 10) — rule
-- 'tolerance' — or with a modified z-score above setting price_modified_z (3.5) among that month's
-- lines of the item across the alliance — rule 'z-score': z = 0.6745 × (price − median) ÷ MAD, the
-- median and the median absolute deviation taken over the lines (each line one value); none when
-- the MAD is 0. Excess cost = (price − reference) × base units. Members are ranked as in
-- price-comparison. From reports.purchase_month.
WITH p AS (
    SELECT * FROM reports.period($2::text, $3::text)
), settings AS (
    SELECT coalesce($7::numeric, registry.setting_number('price_tolerance_percent', 10)) AS tolerance,
           registry.setting_number('price_modified_z', 3.5) AS z_limit
), prices AS (
    SELECT mp.*, rank() OVER (PARTITION BY mp.alliance_id, mp.month, mp.national_code ORDER BY mp.price)::int AS member_rank
    FROM p, reports.member_prices($1::text, p.first_month, p.last_month) mp
), points AS (
    SELECT a.* FROM p, reports.alliance_purchases($1::text, p.first_month, p.last_month) a WHERE a.comparable
), line_medians AS (
    -- Each line one value: a price point stands for as many lines as it has.
    SELECT alliance_id, month, national_code,
           reports.quantile(array_agg(base_unit_price ORDER BY base_unit_price), 0.5) AS median
    FROM points, generate_series(1, points.lines)
    GROUP BY alliance_id, month, national_code
), deviations AS (
    SELECT x.alliance_id, x.month, x.national_code, m.median,
           reports.quantile(array_agg(abs(x.base_unit_price - m.median) ORDER BY abs(x.base_unit_price - m.median)), 0.5) AS mad
    FROM points x
    JOIN line_medians m USING (alliance_id, month, national_code), generate_series(1, x.lines)
    GROUP BY x.alliance_id, x.month, x.national_code, m.median
), judged AS (
    SELECT x.*, r.member_rank, r.reference_price, r.reference_source, d.median,
           0.6745 * (x.base_unit_price - d.median) / nullif(d.mad, 0) AS z,
           x.base_unit_price > r.reference_price * (1 + s.tolerance / 100) AS over_tolerance,
           coalesce(0.6745 * (x.base_unit_price - d.median) / nullif(d.mad, 0) > s.z_limit, false) AS over_z
    FROM points x
    CROSS JOIN settings s
    JOIN prices r ON r.alliance_id = x.alliance_id AND r.facility_id = x.facility_id AND r.month = x.month AND r.national_code = x.national_code
    JOIN deviations d ON d.alliance_id = x.alliance_id AND d.month = x.month AND d.national_code = x.national_code
)
SELECT j.alliance_code,
       to_char(j.month, 'YYYY-MM')                                                    AS month,
       j.national_code,
       i.generic_name,
       i.base_unit,
       j.member_rank,
       f.code                                                                         AS member_code,
       f.name                                                                         AS member_name,
       j.supplier,
       round(j.base_unit_price, 4)                                                    AS price,
       j.lines::bigint                                                                AS lines,
       j.base_units,
       round(j.reference_price, 4)                                                    AS reference_price,
       j.reference_source,
       round(100 * (j.base_unit_price / j.reference_price - 1), 1)                    AS excess_percent,
       round(j.median, 4)                                                             AS median_line_price,
       round(j.z, 2)                                                                  AS modified_z,
       concat_ws(', ', CASE WHEN j.over_tolerance THEN 'tolerance' END, CASE WHEN j.over_z THEN 'z-score' END) AS rule,
       round(greatest(j.base_unit_price - j.reference_price, 0) * j.base_units, 2)    AS excess_cost
FROM judged j
JOIN procurement.items i ON i.national_code = j.national_code
JOIN registry.facilities f ON f.id = j.facility_id
WHERE (j.over_tolerance OR j.over_z)
  AND ($4::text IS NULL OR j.national_code = $4) AND ($5::text IS NULL OR i.generic_group = $5)
  AND ($6::text IS NULL OR f.code = $6)
ORDER BY j.alliance_code, j.month, j.national_code, j.base_unit_price DESC, f.code, j.supplier

-- parameters: $1 alliance, $2 from, $3 to, $4 item, $5 group
-- price-trend: per alliance, standard item and month, the median price per base unit of the
-- members' lines (each line one value) and the quantity-weighted mean (Σ amount ÷ Σ base units),
-- with the agreed price in force that month (the line to compare against) and the listed price.
-- Lines whose pack size is in doubt are left out. From reports.item_lines.
SELECT l.alliance_code,
       l.national_code,
       i.generic_name,
       i.base_unit,
       to_char(l.month, 'YYYY-MM')                   AS month,
       l.members,
       l.lines,
       l.base_units,
       round(l.amount, 2)                            AS amount,
       round(l.median, 4)                            AS median_price,
       round(l.amount / l.base_units, 4)             AS mean_price,
       round(l.agreed_price, 4)                      AS agreed_price,
       round(l.listed_price, 4)                      AS listed_price
FROM reports.period($2::text, $3::text) p
CROSS JOIN LATERAL reports.item_lines($1::text, p.first_month, p.last_month) l
JOIN procurement.items i ON i.national_code = l.national_code
WHERE ($4::text IS NULL OR l.national_code = $4) AND ($5::text IS NULL OR i.generic_group = $5)
ORDER BY l.alliance_code, l.national_code, l.month

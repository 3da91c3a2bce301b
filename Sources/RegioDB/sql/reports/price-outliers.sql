-- parameters: $1 alliance, $2 from, $3 to, $4 item, $5 group, $6 member, $7 tolerance
-- price-outliers: the alliance members' purchases (a member's lines of one month, item, supplier
-- and price per base unit) priced above the item's reference that month (as in price-comparison)
-- by more than the tolerance ($7 %, default setting price_tolerance_percent = 10) — rule
-- 'tolerance' — or with a modified z-score above setting price_modified_z (3.5) among that month's
-- lines of the item across the alliance — rule 'z-score': z = 0.6745 × (price − median) ÷ MAD, the
-- median and the median absolute deviation taken over the lines (each line one value,
-- reports.item_lines); none when the MAD is 0. Excess cost = (price − reference) × base units.
-- Members are ranked as in price-comparison.
WITH settings AS (
    SELECT coalesce($7::numeric, registry.setting_number('price_tolerance_percent', 10)) AS tolerance,
           registry.setting_number('price_modified_z', 3.5) AS z_limit
), period AS (
    SELECT * FROM reports.period($2::text, $3::text)
), members AS (
    SELECT r.*, rank() OVER (PARTITION BY r.alliance_id, r.month, r.national_code ORDER BY r.price)::int AS member_rank
    FROM period p, reports.member_prices($1::text, p.first_month, p.last_month) r
), points AS (
    -- Each member's price points, out of its arrays.
    SELECT m.alliance_id, m.alliance_code, m.facility_id, m.month, m.national_code, m.member_rank, m.reference_price,
           m.reference_source, x.price, x.units, x.lines, x.supplier
    FROM members m, unnest(m.point_prices, m.point_units, m.point_lines, m.point_suppliers) AS x (price, units, lines, supplier)
), judged AS (
    SELECT x.*, l.median, 0.6745 * (x.price - l.median) / nullif(l.mad, 0) AS z,
           x.price > x.reference_price * (1 + s.tolerance / 100) AS over_tolerance,
           coalesce(0.6745 * (x.price - l.median) / nullif(l.mad, 0) > s.z_limit, false) AS over_z
    FROM points x
    CROSS JOIN settings s
    JOIN (SELECT i.* FROM period p, reports.item_lines($1::text, p.first_month, p.last_month) i) l
      ON l.alliance_id = x.alliance_id AND l.month = x.month AND l.national_code = x.national_code
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
       round(j.price, 4)                                                              AS price,
       j.lines,
       j.units                                                                        AS base_units,
       round(j.reference_price, 4)                                                    AS reference_price,
       j.reference_source,
       round(100 * (j.price / j.reference_price - 1), 1)                              AS excess_percent,
       round(j.median, 4)                                                             AS median_line_price,
       round(j.z, 2)                                                                  AS modified_z,
       concat_ws(', ', CASE WHEN j.over_tolerance THEN 'tolerance' END, CASE WHEN j.over_z THEN 'z-score' END) AS rule,
       round(greatest(j.price - j.reference_price, 0) * j.units, 2)                   AS excess_cost
FROM judged j
JOIN procurement.items i ON i.national_code = j.national_code
JOIN registry.facilities f ON f.id = j.facility_id
WHERE (j.over_tolerance OR j.over_z)
  AND ($4::text IS NULL OR j.national_code = $4) AND ($5::text IS NULL OR i.generic_group = $5)
  AND ($6::text IS NULL OR f.code = $6)
ORDER BY j.alliance_code, j.month, j.national_code, j.price DESC, f.code, j.supplier

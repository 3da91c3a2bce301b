-- parameters: $1 alliance, $2 from, $3 to, $4 item, $5 group, $6 member
-- price-comparison: per alliance, month and standard item (national code, priced per base unit),
-- each member's quantity-weighted price per base unit; across the members buying it that month
-- min, 25th percentile, median, 75th percentile, max (interpolated, reports.quantile) and the
-- coefficient of variation (population standard deviation ÷ mean × 100); the reference price —
-- the alliance's agreed price in force that month, else the members' median (reports.member_prices);
-- each member's price ratio = its price ÷ reference; its savings potential = Σ (price − reference) ×
-- base units over its purchases priced above the reference, and the item's over all members.
-- Lines whose pack size is in doubt are left out (flagged_lines). Members are ranked by price,
-- cheapest first. The member filter picks rows; the statistics stay the whole alliance's.
WITH rows AS (
    SELECT r.*,
           (SELECT coalesce(sum((x - r.reference_price) * u) FILTER (WHERE x > r.reference_price), 0)
            FROM unnest(r.point_prices, r.point_units) AS pt (x, u)) AS savings
    FROM reports.period($2::text, $3::text) p, reports.member_prices($1::text, p.first_month, p.last_month) r
), result AS (
    SELECT r.alliance_code,
           to_char(r.month, 'YYYY-MM')                                                   AS month,
           r.national_code,
           i.generic_name,
           i.spec,
           i.base_unit,
           rank() OVER (PARTITION BY r.alliance_id, r.month, r.national_code ORDER BY r.price)::int AS member_rank,
           f.code                                                                        AS member_code,
           f.name                                                                        AS member_name,
           r.lines,
           r.base_units,
           round(r.amount, 2)                                                            AS amount,
           round(r.price, 4)                                                             AS price,
           r.members,
           round(reports.quantile(r.prices, 0), 4)                                       AS min_price,
           round(reports.quantile(r.prices, 0.25), 4)                                    AS p25_price,
           round(reports.quantile(r.prices, 0.5), 4)                                     AS median_price,
           round(reports.quantile(r.prices, 0.75), 4)                                    AS p75_price,
           round(reports.quantile(r.prices, 1), 4)                                       AS max_price,
           round(100 * r.sd / nullif(r.mean, 0), 2)                                      AS cv,
           round(r.agreed_price, 4)                                                      AS agreed_price,
           round(r.listed_price, 4)                                                      AS listed_price,
           round(r.reference_price, 4)                                                   AS reference_price,
           r.reference_source,
           round(r.price / r.reference_price, 3)                                         AS price_ratio,
           round(r.savings, 2)                                                           AS savings_potential,
           round(sum(r.savings) OVER (PARTITION BY r.alliance_id, r.month, r.national_code), 2) AS item_savings_potential,
           r.flagged_lines,
           r.price                                                                       AS exact_price
    FROM rows r
    JOIN procurement.items i ON i.national_code = r.national_code
    JOIN registry.facilities f ON f.id = r.facility_id
    WHERE ($4::text IS NULL OR r.national_code = $4) AND ($5::text IS NULL OR i.generic_group = $5)
)
SELECT alliance_code, month, national_code, generic_name, spec, base_unit, member_rank, member_code, member_name, lines,
       base_units, amount, price, members, min_price, p25_price, median_price, p75_price, max_price, cv, agreed_price,
       listed_price, reference_price, reference_source, price_ratio, savings_potential, item_savings_potential, flagged_lines
FROM result
WHERE $6::text IS NULL OR member_code = $6
ORDER BY alliance_code, month, national_code, exact_price, member_code

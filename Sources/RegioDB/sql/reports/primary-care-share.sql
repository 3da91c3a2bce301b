-- parameters: $1 level, $2 region, $3 from, $4 to
-- primary-care-share: 基层诊疗量占比 = outpatient + emergency visits at primary facilities (tier 1,
-- and community and township health centres) ÷ all outpatient + emergency visits in the unit × 100,
-- per unit and month, from the rollups; the national reference line is 65 %.
-- $1 level (county by default; city, tier or facility also work), $2 region, $3 first month, $4 last month.
SELECT coalesce($1::text, 'county')                                              AS level,
       u.unit_code,
       u.unit_name,
       to_char(m.month, 'YYYY-MM')                                                 AS month,
       sum(m.outpatient_visits + m.emergency_visits) FILTER (WHERE u.is_primary)::bigint AS primary_visits,
       sum(m.outpatient_visits + m.emergency_visits)::bigint                       AS all_visits,
       round(100 * coalesce(sum(m.outpatient_visits + m.emergency_visits) FILTER (WHERE u.is_primary), 0)::numeric
             / nullif(sum(m.outpatient_visits + m.emergency_visits), 0), 1)        AS primary_care_share,
       65::numeric                                                                 AS reference_share
FROM reports.facility_units(coalesce($1::text, 'county'), $2::text, NULL, NULL) u
JOIN reports.facility_month m ON m.facility_id = u.facility_id
CROSS JOIN reports.period($3::text, $4::text) p
WHERE m.month BETWEEN p.first_month AND p.last_month
GROUP BY u.unit_code, u.unit_name, m.month
ORDER BY u.unit_code, m.month

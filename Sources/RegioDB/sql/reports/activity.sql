-- activity: outpatient + emergency visits (门急诊人次), emergency visits, outpatient visits,
-- inpatient discharges (出院人次) and the outpatient-to-discharge ratio (门诊人次数与出院人次数比:
-- outpatient visits, emergency excluded, ÷ discharges), per unit and month, from the rollups.
-- $1 level (facility | county | city | tier; default facility), $2 region, $3 tier, $4 facility,
-- $5 first month, $6 last month (default: the 12 months up to the current one, China time).
WITH RECURSIVE area (code) AS (
    SELECT code FROM registry.regions WHERE code = $2::text OR $2::text IS NULL
    UNION
    SELECT r.code FROM registry.regions r JOIN area a ON r.parent_code = a.code
), period AS (
    SELECT coalesce(to_date($5::text, 'YYYY-MM'), last_month - 11 * interval '1 month')::date AS first_month, last_month
    FROM (SELECT coalesce(to_date($6::text, 'YYYY-MM'),
                          date_trunc('month', now() AT TIME ZONE 'Asia/Shanghai')::date) AS last_month) b
), facts AS (
    SELECT CASE coalesce($1::text, 'facility')
               WHEN 'county' THEN county.code WHEN 'city' THEN city.code WHEN 'tier' THEN f.tier::text ELSE f.code END AS unit_code,
           CASE coalesce($1::text, 'facility')
               WHEN 'county' THEN county.name WHEN 'city' THEN city.name
               WHEN 'tier' THEN (ARRAY['一级 primary', '二级 secondary', '三级 tertiary'])[f.tier] ELSE f.name END AS unit_name,
           m.*
    FROM reports.facility_month m
    JOIN registry.facilities f ON f.id = m.facility_id
    JOIN registry.regions county ON county.code = f.region_code
    LEFT JOIN registry.regions city ON city.code = county.parent_code
    CROSS JOIN period p
    WHERE m.month BETWEEN p.first_month AND p.last_month
      AND f.region_code IN (SELECT code FROM area)
      AND ($3::int IS NULL OR f.tier = $3::int)
      AND ($4::text IS NULL OR f.code = $4::text)
)
SELECT coalesce($1::text, 'facility')                                   AS level,
       unit_code,
       unit_name,
       to_char(month, 'YYYY-MM')                                         AS month,
       sum(outpatient_visits + emergency_visits)::bigint                 AS outpatient_emergency_visits,
       sum(emergency_visits)::bigint                                     AS emergency_visits,
       sum(outpatient_visits)::bigint                                    AS outpatient_visits,
       sum(discharges)::bigint                                           AS discharges,
       round(sum(outpatient_visits)::numeric / nullif(sum(discharges), 0), 2) AS outpatient_to_discharge_ratio
FROM facts
GROUP BY unit_code, unit_name, month
ORDER BY unit_code, month

-- parameters: $1 level, $2 region, $3 tier, $4 facility, $5 from, $6 to
-- activity: outpatient + emergency visits (门急诊人次), emergency visits, outpatient visits,
-- inpatient discharges (出院人次) and the outpatient-to-discharge ratio (门诊人次数与出院人次数比:
-- outpatient visits, emergency excluded, ÷ discharges), per unit and month, from the rollups.
-- $1 level (facility | county | city | tier; default facility), $2 region, $3 tier, $4 facility,
-- $5 first month, $6 last month (default: the 12 months up to the current one, China time).
SELECT coalesce($1::text, 'facility')                                   AS level,
       u.unit_code,
       u.unit_name,
       to_char(m.month, 'YYYY-MM')                                       AS month,
       sum(m.outpatient_visits + m.emergency_visits)::bigint             AS outpatient_emergency_visits,
       sum(m.emergency_visits)::bigint                                   AS emergency_visits,
       sum(m.outpatient_visits)::bigint                                  AS outpatient_visits,
       sum(m.discharges)::bigint                                         AS discharges,
       round(sum(m.outpatient_visits)::numeric / nullif(sum(m.discharges), 0), 2) AS outpatient_to_discharge_ratio
FROM reports.facility_units($1::text, $2::text, $3::int, $4::text) u
JOIN reports.facility_month m ON m.facility_id = u.facility_id
CROSS JOIN reports.period($5::text, $6::text) p
WHERE m.month BETWEEN p.first_month AND p.last_month
GROUP BY u.unit_code, u.unit_name, m.month
ORDER BY u.unit_code, m.month

-- parameters: $1 facility, $2 from, $3 to
-- duplicate-exam-pairs (stewards only): each repeat counted by duplicate-exams, beside the earlier
-- result it repeats. $1 facility code of the repeat (all when empty), $2 first month, $3 last month.
-- From emr.exam_registry; at most 5,000 rows, newest first.
SELECT f.code                                                                 AS facility_code,
       r.report_id,
       to_char(r.performed_at AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM-DD HH24:MI') AS performed_at,
       r.regional_code,
       coalesce(c.name, '')                                                   AS exam_name,
       r.category,
       r.price,
       ef.code                                                                AS earlier_facility_code,
       r.repeat_of_report                                                     AS earlier_report_id,
       to_char(e.performed_at AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM-DD HH24:MI') AS earlier_performed_at,
       r.days_after,
       r.window_days,
       r.person_id
FROM emr.exam_registry r
JOIN registry.facilities f ON f.id = r.facility_id
JOIN registry.facilities ef ON ef.id = r.repeat_of_facility
LEFT JOIN emr.exam_registry e ON e.facility_id = r.repeat_of_facility AND e.report_id = r.repeat_of_report
LEFT JOIN emr.exam_codes c ON c.code = r.regional_code
CROSS JOIN reports.period($2::text, $3::text) p
WHERE r.repeat_of_report IS NOT NULL AND r.month BETWEEN p.first_month AND p.last_month
  AND ($1::text IS NULL OR f.code = $1::text)
ORDER BY r.performed_at DESC, f.code, r.report_id
LIMIT 5000

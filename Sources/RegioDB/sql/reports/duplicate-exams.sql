-- parameters: $1 level, $2 region, $3 tier, $4 facility, $5 from, $6 to
-- duplicate-exams: per unit, month (China time, by performed time) and exam category: exams,
-- exams with a regional code, repeats (an exam of a person with the same regional code — and body
-- site, for imaging — performed at a different facility within the code's recognition window
-- after an earlier result there; see emr/exam_registry.sql), repeat rate = repeats ÷ exams with a
-- regional code × 100, and avoidable cost = Σ price of the repeats. From reports.exam_month.
SELECT coalesce($1::text, 'facility')                                       AS level,
       u.unit_code,
       u.unit_name,
       to_char(m.month, 'YYYY-MM')                                           AS month,
       m.category,
       sum(m.exams)::bigint                                                  AS exams,
       sum(m.coded_exams)::bigint                                            AS coded_exams,
       sum(m.repeats)::bigint                                                AS repeats,
       round(100 * sum(m.repeats)::numeric / nullif(sum(m.coded_exams), 0), 2) AS repeat_rate,
       sum(m.avoidable_cost)                                                 AS avoidable_cost
FROM reports.facility_units($1::text, $2::text, $3::int, $4::text) u
JOIN reports.exam_month m ON m.facility_id = u.facility_id
CROSS JOIN reports.period($5::text, $6::text) p
WHERE m.month BETWEEN p.first_month AND p.last_month
GROUP BY u.unit_code, u.unit_name, m.month, m.category
ORDER BY u.unit_code, m.month, m.category

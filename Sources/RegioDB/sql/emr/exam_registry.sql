-- parameters: $1 persons, $2 facilities, $3 reports, $4 everything
-- Derives emr.exam_registry again for every exam of these persons ($1, complete: see
-- exam_persons.sql) and for these (facility, report) pairs ($2, $3; an exam whose record has no
-- person yet, or that is gone), or for every exam when $4. Both statements return the
-- (facility, month) keys whose reports.exam_month rows change.
--
-- An exam's regional code is its own (code_system REGIONAL) or its local code's mapping
-- (emr.exam_code_map); its window is the code's, else its category's default. It repeats the
-- latest earlier result of the same person and regional code — for imaging, the same body site —
-- at another facility, performed at most `window_days` calendar days (China time) before it:
-- day W still repeats, day W + 1 does not.
DELETE FROM emr.exam_registry r
WHERE $4 OR r.person_id = ANY($1::bigint[])
   OR (r.facility_id, r.report_id) IN (SELECT * FROM unnest($2::int[], $3::text[]))
RETURNING r.facility_id, r.month::text;

WITH exams AS (
    SELECT e.facility_id, e.report_id, p.person_id, e.exam_code, e.code_system, e.category, e.body_site, e.performed_at, e.price
    FROM emr.exams e
    JOIN emr.patients p ON p.facility_id = e.facility_id AND p.patient_id = e.patient_id
    WHERE NOT $4 AND p.person_id = ANY($1::bigint[])
    UNION
    SELECT e.facility_id, e.report_id, p.person_id, e.exam_code, e.code_system, e.category, e.body_site, e.performed_at, e.price
    FROM unnest($2::int[], $3::text[]) AS k (facility_id, report_id)
    JOIN emr.exams e ON e.facility_id = k.facility_id AND e.report_id = k.report_id
    LEFT JOIN emr.patients p ON p.facility_id = e.facility_id AND p.patient_id = e.patient_id
    WHERE NOT $4
    UNION ALL
    SELECT e.facility_id, e.report_id, p.person_id, e.exam_code, e.code_system, e.category, e.body_site, e.performed_at, e.price
    FROM emr.exams e
    LEFT JOIN emr.patients p ON p.facility_id = e.facility_id AND p.patient_id = e.patient_id
    WHERE $4
), placed AS (
    SELECT x.facility_id, x.report_id, x.person_id, x.category, x.performed_at, x.price,
           coded.regional_code,
           CASE WHEN x.code_system = 'LOCAL' THEN x.exam_code END AS local_code,
           CASE WHEN coded.regional_code IS NOT NULL THEN coalesce(c.window_days, d.window_days, 14) END AS window_days,
           CASE WHEN x.category = 'IMAGING' THEN coalesce(lower(x.body_site), '') ELSE '' END AS site,
           (x.performed_at AT TIME ZONE 'Asia/Shanghai')::date AS day
    FROM exams x
    LEFT JOIN emr.exam_code_map m ON x.code_system = 'LOCAL' AND m.facility_id = x.facility_id AND m.local_code = x.exam_code
    CROSS JOIN LATERAL (SELECT CASE WHEN x.code_system = 'REGIONAL' THEN x.exam_code ELSE m.regional_code END AS regional_code) coded
    LEFT JOIN emr.exam_codes c ON c.code = coded.regional_code
    LEFT JOIN emr.recognition_defaults d ON d.category = coalesce(c.category, x.category)
), repeats AS (
    SELECT DISTINCT ON (x.facility_id, x.report_id) x.facility_id, x.report_id,
           y.facility_id AS of_facility, y.report_id AS of_report, x.day - y.day AS days_after
    FROM placed x
    JOIN placed y ON y.person_id = x.person_id AND y.regional_code = x.regional_code AND y.site = x.site
                 AND y.facility_id <> x.facility_id AND y.performed_at < x.performed_at
                 AND x.day - y.day <= x.window_days
    ORDER BY x.facility_id, x.report_id, y.performed_at DESC, y.facility_id, y.report_id
)
INSERT INTO emr.exam_registry (facility_id, report_id, person_id, month, category, regional_code, local_code,
                               performed_at, price, window_days, repeat_of_facility, repeat_of_report, days_after)
SELECT x.facility_id, x.report_id, x.person_id, date_trunc('month', x.day)::date, x.category, x.regional_code, x.local_code,
       x.performed_at, x.price, x.window_days, r.of_facility, r.of_report, r.days_after
FROM placed x
LEFT JOIN repeats r ON r.facility_id = x.facility_id AND r.report_id = x.report_id
RETURNING facility_id, month::text

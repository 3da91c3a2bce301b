-- parameters: $1 persons, $2 facilities, $3 reports
-- The persons whose exam registry rows a change touches: the given ones, and those of the exam
-- reports given as (facility, report) pairs — whom each report belongs to now and whom its
-- registry row says it belonged to. Their exams are derived again together (exam_registry.sql),
-- since whether one is a repeat depends on the person's others.
SELECT DISTINCT person_id FROM (
    SELECT unnest($1::bigint[]) AS person_id
    UNION ALL
    SELECT r.person_id
    FROM unnest($2::int[], $3::text[]) AS k (facility_id, report_id)
    JOIN emr.exam_registry r ON r.facility_id = k.facility_id AND r.report_id = k.report_id
    UNION ALL
    SELECT p.person_id
    FROM unnest($2::int[], $3::text[]) AS k (facility_id, report_id)
    JOIN emr.exams e ON e.facility_id = k.facility_id AND e.report_id = k.report_id
    JOIN emr.patients p ON p.facility_id = e.facility_id AND p.patient_id = e.patient_id
) t
WHERE person_id IS NOT NULL

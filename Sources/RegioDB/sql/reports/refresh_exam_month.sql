-- parameters: $1 facilities, $2 months
-- Recomputes reports.exam_month for the given (facility, month) keys from emr.exam_registry.
-- $1 facility ids, $2 months (first days), as parallel arrays; given every key, it rebuilds.
DELETE FROM reports.exam_month x
USING unnest($1::int[], $2::date[]) AS k (facility_id, month)
WHERE x.facility_id = k.facility_id AND x.month = k.month;

INSERT INTO reports.exam_month (facility_id, month, category, exams, coded_exams, repeats, avoidable_cost)
SELECT r.facility_id, r.month, r.category, count(*), count(r.regional_code), count(r.repeat_of_report),
       coalesce(sum(r.price) FILTER (WHERE r.repeat_of_report IS NOT NULL), 0)
FROM (SELECT DISTINCT facility_id, month FROM unnest($1::int[], $2::date[]) AS k (facility_id, month)) k
JOIN emr.exam_registry r ON r.facility_id = k.facility_id AND r.month = k.month
GROUP BY r.facility_id, r.month, r.category

-- Recomputes reports.facility_month for the given (facility, month) keys from emr.encounters.
-- $1 facility ids, $2 months (first days), as parallel arrays. The same statement rebuilds
-- everything when given every key, which is how tests check the incremental refresh.
-- (Two statements: an INSERT does not see a DELETE of the same statement.)
DELETE FROM reports.facility_month f
USING unnest($1::int[], $2::date[]) AS k (facility_id, month)
WHERE f.facility_id = k.facility_id AND f.month = k.month;

WITH keys AS (
    SELECT DISTINCT k.facility_id, k.month,
           (k.month::timestamp AT TIME ZONE 'Asia/Shanghai') AS starts,
           ((k.month + interval '1 month')::timestamp AT TIME ZONE 'Asia/Shanghai') AS ends
    FROM unnest($1::int[], $2::date[]) AS k (facility_id, month)
)
INSERT INTO reports.facility_month (facility_id, month, outpatient_visits, emergency_visits, admissions, discharges,
                                    inpatient_days, outpatient_cost, inpatient_cost, drug_cost, consumables_cost)
SELECT k.facility_id, k.month,
       count(*) FILTER (WHERE e.encounter_type = 'O' AND e.start_time >= k.starts AND e.start_time < k.ends),
       count(*) FILTER (WHERE e.encounter_type = 'E' AND e.start_time >= k.starts AND e.start_time < k.ends),
       count(*) FILTER (WHERE e.encounter_type = 'I' AND e.start_time >= k.starts AND e.start_time < k.ends),
       count(*) FILTER (WHERE e.encounter_type = 'I' AND e.end_time >= k.starts AND e.end_time < k.ends),
       coalesce(sum(greatest((e.end_time AT TIME ZONE 'Asia/Shanghai')::date - (e.start_time AT TIME ZONE 'Asia/Shanghai')::date, 1))
                FILTER (WHERE e.encounter_type = 'I' AND e.end_time >= k.starts AND e.end_time < k.ends), 0),
       coalesce(sum(e.total_cost) FILTER (WHERE e.encounter_type IN ('O', 'E') AND e.start_time >= k.starts AND e.start_time < k.ends), 0),
       coalesce(sum(e.total_cost) FILTER (WHERE e.encounter_type = 'I' AND e.end_time >= k.starts AND e.end_time < k.ends), 0),
       coalesce(sum(e.drug_cost) FILTER (WHERE (e.encounter_type IN ('O', 'E') AND e.start_time >= k.starts AND e.start_time < k.ends)
                                            OR (e.encounter_type = 'I' AND e.end_time >= k.starts AND e.end_time < k.ends)), 0),
       coalesce(sum(e.consumables_cost) FILTER (WHERE (e.encounter_type IN ('O', 'E') AND e.start_time >= k.starts AND e.start_time < k.ends)
                                                   OR (e.encounter_type = 'I' AND e.end_time >= k.starts AND e.end_time < k.ends)), 0)
FROM keys k
LEFT JOIN emr.encounters e
       ON e.facility_id = k.facility_id
      AND ((e.start_time >= k.starts AND e.start_time < k.ends) OR (e.end_time >= k.starts AND e.end_time < k.ends))
GROUP BY k.facility_id, k.month

-- The months (China time) whose rollups a batch's encounters change: those of the rows it sends
-- and those of the stored rows they will update or retract. Run before the merge.
SELECT DISTINCT date_trunc('month', t AT TIME ZONE 'Asia/Shanghai')::date::text
FROM (
    SELECT s.start_time AS t FROM {staging} s WHERE NOT s._rejected AND s._op = 'U'
    UNION ALL
    SELECT s.end_time FROM {staging} s WHERE NOT s._rejected AND s._op = 'U' AND s.end_time IS NOT NULL
    UNION ALL
    SELECT e.start_time FROM emr.encounters e JOIN {staging} s ON e.encounter_id = s.encounter_id
    WHERE e.facility_id = $2 AND NOT s._rejected
    UNION ALL
    SELECT e.end_time FROM emr.encounters e JOIN {staging} s ON e.encounter_id = s.encounter_id
    WHERE e.facility_id = $2 AND NOT s._rejected AND e.end_time IS NOT NULL
) months (t)

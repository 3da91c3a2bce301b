-- The months (China time) whose facility rollups a batch's encounters change: every month an
-- encounter spans, for the rows it sends and for the stored rows they update or retract. A stay
-- without a discharge spans up to the facility's latest night. Run before the merge. The months
-- of nights the batch adds are refreshed as well (open_stay_months.sql), for stays still open.
WITH latest AS (
    SELECT (greatest($3::date, max(business_date))::timestamp AT TIME ZONE 'Asia/Shanghai') AS night FROM ingest.batches WHERE facility_id = $2 AND status = 'loaded'
), spans AS (
    SELECT s.start_time AS starts, coalesce(s.end_time, CASE WHEN s.encounter_type = 'I' THEN greatest(s.start_time, (SELECT night FROM latest)) END) AS ends
    FROM {staging} s WHERE NOT s._rejected AND s._op = 'U'
    UNION ALL
    SELECT e.start_time, coalesce(e.end_time, CASE WHEN e.encounter_type = 'I' THEN greatest(e.start_time, (SELECT night FROM latest), e.as_of::timestamp AT TIME ZONE 'Asia/Shanghai') END)
    FROM emr.encounters e JOIN {staging} s ON e.encounter_id = s.encounter_id
    WHERE e.facility_id = $2 AND NOT s._rejected
)
SELECT DISTINCT m::date::text
FROM spans,
     generate_series(date_trunc('month', starts AT TIME ZONE 'Asia/Shanghai'),
                     date_trunc('month', coalesce(ends, starts) AT TIME ZONE 'Asia/Shanghai'), interval '1 month') m

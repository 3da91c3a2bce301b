-- placeholders: {staging}
-- parameters: $1 facility, $2 business_date
-- The months (China time) whose facility rollups a batch's encounters change: every month from
-- the earliest to the latest one its rows span — the rows it sends and the stored rows they update
-- or retract; a stay without a discharge spans up to the facility's latest night. One pass of
-- min/max instead of a month per row: a month in between that nothing touched is recomputed to
-- the same values. Run before the merge. The months of nights the batch adds are refreshed as
-- well (open_stay_months.sql), for stays still open.
WITH latest AS (
    SELECT (greatest($2::date, max(business_date))::timestamp AT TIME ZONE 'Asia/Shanghai') AS night FROM ingest.batches WHERE facility_id = $1 AND status = 'loaded'
), spans AS (
    SELECT min(s.start_time) AS starts,
           max(coalesce(s.end_time, CASE WHEN s.encounter_type = 'I' THEN greatest(s.start_time, (SELECT night FROM latest)) END, s.start_time)) AS ends
    FROM {staging} s WHERE NOT s._rejected AND s._op = 'U'
    UNION ALL
    SELECT min(e.start_time),
           max(coalesce(e.end_time, CASE WHEN e.encounter_type = 'I' THEN greatest(e.start_time, (SELECT night FROM latest), e.as_of::timestamp AT TIME ZONE 'Asia/Shanghai') END, e.start_time))
    FROM emr.encounters e JOIN {staging} s ON e.encounter_id = s.encounter_id
    WHERE e.facility_id = $1 AND NOT s._rejected
)
SELECT m::date::text
FROM (SELECT min(starts) AS starts, max(ends) AS ends FROM spans) r,
     generate_series(date_trunc('month', r.starts AT TIME ZONE 'Asia/Shanghai'),
                     date_trunc('month', r.ends AT TIME ZONE 'Asia/Shanghai'), interval '1 month') m

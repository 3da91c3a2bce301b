-- Every (facility, month) reports.facility_month may hold a row for, for a full rebuild: the
-- months each encounter spans (a stay without a discharge up to its facility's latest extract),
-- the months of bed census nights, and the months of loaded extracts' business dates.
WITH latest AS (
    SELECT facility_id, max(business_date) AS night FROM ingest.batches WHERE status = 'loaded' GROUP BY facility_id
), spans AS (
    SELECT e.facility_id, e.start_time AS starts,
           coalesce(e.end_time, CASE WHEN e.encounter_type = 'I' THEN greatest(e.start_time, (greatest(e.as_of, l.night)::timestamp AT TIME ZONE 'Asia/Shanghai')) END) AS ends
    FROM emr.encounters e LEFT JOIN latest l ON l.facility_id = e.facility_id
)
SELECT DISTINCT facility_id, m::date::text
FROM spans,
     generate_series(date_trunc('month', starts AT TIME ZONE 'Asia/Shanghai'),
                     date_trunc('month', coalesce(ends, starts) AT TIME ZONE 'Asia/Shanghai'), interval '1 month') m
UNION
SELECT DISTINCT facility_id, date_trunc('month', census_date)::date::text FROM emr.bed_census
UNION
SELECT DISTINCT facility_id, date_trunc('month', business_date)::date::text FROM ingest.batches WHERE status = 'loaded'

-- parameters: $1 level, $2 region, $3 tier, $4 facility, $5 from, $6 to
-- data-quality: per unit and business date — extracts expected (one per active facility and
-- night), received, loaded and loaded on time (before the deadline hour, China time, of the next
-- day: setting extract_deadline_hour), rows received and rejected, rejected rows by error code,
-- and the plausibility checks (reports.thresholds, kind 'quality') run and failed.
-- A facility's night is judged by its latest batch (dry runs aside); on time by its first loaded one.
-- $1 level (facility | county | city | tier; default facility), $2 region, $3 tier, $4 facility,
-- $5 first date, $6 last date (default: the 30 nights up to yesterday, China time; at most 366).
WITH deadline AS (
    SELECT registry.setting_number('extract_deadline_hour', 6)::int AS hour
), nights AS (
    SELECT u.facility_id, u.unit_code, u.unit_name, d::date AS night
    FROM reports.facility_units($1::text, $2::text, $3::int, $4::text) u
    JOIN registry.facilities f ON f.id = u.facility_id AND f.active
    CROSS JOIN reports.nights($5::date, $6::date) p
    CROSS JOIN generate_series(p.first_night, p.last_night, interval '1 day') d
), judged AS (
    SELECT n.*, latest.id AS batch_id, latest.status, first_loaded.created_at AS loaded_received_at
    FROM nights n
    LEFT JOIN LATERAL (
        SELECT b.id, b.status FROM ingest.batches b
        WHERE b.facility_id = n.facility_id AND b.business_date = n.night AND NOT b.dry_run
        ORDER BY b.id DESC LIMIT 1) latest ON true
    LEFT JOIN LATERAL (
        SELECT b.created_at FROM ingest.batches b
        WHERE b.facility_id = n.facility_id AND b.business_date = n.night AND NOT b.dry_run AND b.status = 'loaded'
        ORDER BY b.id LIMIT 1) first_loaded ON true
), files AS (
    SELECT j.unit_code, j.night, sum(bf.received_rows) AS received, sum(bf.rejected) AS rejected,
           sum(bf.warnings) AS warnings
    FROM judged j JOIN ingest.batch_files bf ON bf.batch_id = j.batch_id
    GROUP BY j.unit_code, j.night
), codes AS (
    SELECT unit_code, night, string_agg(code || ' ' || n, ', ' ORDER BY code) AS rejected_by_code
    FROM (SELECT j.unit_code, j.night, e.code, count(*) AS n
          FROM judged j JOIN ingest.row_errors e ON e.batch_id = j.batch_id AND e.severity = 'error'
          GROUP BY j.unit_code, j.night, e.code) c
    GROUP BY unit_code, night
), checks AS (
    SELECT j.unit_code, j.night, j.facility_id, m.check_id, m.failing, m.applicable,
           100.0 * m.failing / nullif(m.applicable, 0) AS share
    FROM judged j JOIN ingest.batch_measures m ON m.batch_id = j.batch_id
), verdicts AS (
    SELECT c.unit_code, c.night, count(*) AS run,
           count(*) FILTER (WHERE reports.breaches(c.share, t.comparator, t.threshold)) AS failed,
           string_agg(CASE WHEN reports.breaches(c.share, t.comparator, t.threshold)
                           THEN CASE WHEN coalesce($1::text, 'facility') <> 'facility' THEN f.code || ' ' ELSE '' END
                                || c.check_id || ' ' || round(c.share, 1) || '% ' || t.comparator || ' '
                                || t.threshold || '%' END, ', ' ORDER BY f.code, c.check_id) AS failed_checks
    FROM checks c
    JOIN registry.facilities f ON f.id = c.facility_id
    JOIN reports.thresholds t ON t.kind = 'quality' AND t.indicator = c.check_id
    WHERE c.applicable > 0
    GROUP BY c.unit_code, c.night
)
SELECT coalesce($1::text, 'facility')                                           AS level,
       j.unit_code,
       j.unit_name,
       j.night::text                                                              AS business_date,
       count(*)::bigint                                                           AS expected_extracts,
       count(j.batch_id)::bigint                                                  AS received_extracts,
       count(*) FILTER (WHERE j.loaded_received_at IS NOT NULL)::bigint           AS loaded_extracts,
       count(*) FILTER (WHERE j.loaded_received_at < ((j.night + 1)::timestamp + make_interval(hours => dl.hour)) AT TIME ZONE 'Asia/Shanghai')::bigint
                                                                                  AS on_time_extracts,
       round(100.0 * count(*) FILTER (WHERE j.loaded_received_at IS NOT NULL) / count(*), 1) AS reporting_rate,
       round(100.0 * count(*) FILTER (WHERE j.loaded_received_at < ((j.night + 1)::timestamp + make_interval(hours => dl.hour)) AT TIME ZONE 'Asia/Shanghai')
             / count(*), 1)                                                       AS on_time_rate,
       coalesce(max(fi.received), 0)::bigint                                      AS rows_received,
       coalesce(max(fi.rejected), 0)::bigint                                      AS rows_rejected,
       round(100.0 * max(fi.rejected) / nullif(max(fi.received), 0), 2)           AS rejected_share,
       max(co.rejected_by_code)                                                   AS rejected_by_code,
       coalesce(max(v.run), 0)::bigint                                            AS checks_run,
       coalesce(max(v.failed), 0)::bigint                                         AS checks_failed,
       max(v.failed_checks)                                                       AS failed_checks
FROM judged j
CROSS JOIN deadline dl
LEFT JOIN files fi ON fi.unit_code = j.unit_code AND fi.night = j.night
LEFT JOIN codes co ON co.unit_code = j.unit_code AND co.night = j.night
LEFT JOIN verdicts v ON v.unit_code = j.unit_code AND v.night = j.night
GROUP BY j.unit_code, j.unit_name, j.night
ORDER BY j.unit_code, j.night

-- parameters: $1 facility, $2 from, $3 to
-- upload-history: per facility and night, the batches received and what became of them; nights
-- with no extract show as 'missing'.
-- $1 facility code (NULL: every facility in scope), $2 first night, $3 last night
-- (default: the 30 nights up to yesterday, China time; at most 366 nights).
WITH scope AS (
    SELECT f.id, f.code, f.name FROM registry.facilities f
    WHERE f.active AND ($1::text IS NULL OR f.code = $1::text)
), nights AS (
    SELECT s.id, s.code, s.name, d::date AS night
    FROM scope s, reports.nights($2::date, $3::date) p, generate_series(p.first_night, p.last_night, interval '1 day') d
)
SELECT n.code                                                        AS facility_code,
       n.name                                                        AS facility_name,
       n.night::text                                                 AS business_date,
       b.id                                                          AS batch_id,
       coalesce(b.status, 'missing')                                 AS status,
       to_char(b.created_at AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM-DD HH24:MI:SS') AS received_at,
       f.files                                                       AS files,
       f.rows_received                                               AS rows_received,
       f.inserted                                                    AS inserted,
       f.updated                                                     AS updated,
       f.unchanged                                                   AS unchanged,
       f.retracted                                                   AS retracted,
       f.rejected                                                    AS rejected,
       f.warnings                                                    AS warnings,
       e.rejected_by_code                                            AS rejected_by_code,
       b.duplicate_of                                                AS duplicate_of,
       b.reason                                                      AS reason
FROM nights n
LEFT JOIN ingest.batches b ON b.facility_id = n.id AND b.business_date = n.night
LEFT JOIN LATERAL (
    SELECT string_agg(bf.kind || ':' || coalesce(bf.received_rows::text, '-'), ' ' ORDER BY
                      array_position(ARRAY['patients','encounters','exams','purchases','referrals','beds'], bf.kind)) AS files,
           sum(bf.received_rows)::bigint AS rows_received, sum(bf.inserted)::bigint AS inserted,
           sum(bf.updated)::bigint AS updated, sum(bf.unchanged)::bigint AS unchanged,
           sum(bf.retracted)::bigint AS retracted, sum(bf.rejected)::bigint AS rejected, sum(bf.warnings)::bigint AS warnings
    FROM ingest.batch_files bf WHERE bf.batch_id = b.id
) f ON true
LEFT JOIN LATERAL (
    SELECT string_agg(code || ' ' || n, ', ' ORDER BY code) AS rejected_by_code
    FROM (SELECT re.code, count(*) AS n FROM ingest.row_errors re
          WHERE re.batch_id = b.id AND re.severity = 'error' GROUP BY re.code) c
) e ON true
ORDER BY n.code, n.night, b.id

-- data-quality-checks: every plausibility check of each facility's latest batch per business date
-- (dry runs aside), with the failing and applicable rows, the value, the threshold
-- (reports.thresholds, kind 'quality') and pass, fail, or n/a when no row was applicable.
-- $1 region, $2 facility, $3 first date, $4 last date (default: the 30 nights up to yesterday).
WITH bounds AS (
    SELECT coalesce($4::date, (now() AT TIME ZONE 'Asia/Shanghai')::date - 1) AS last_night
), period AS (
    SELECT greatest(coalesce($3::date, last_night - 29), last_night - 365) AS first_night, last_night FROM bounds
), latest AS (
    SELECT DISTINCT ON (b.facility_id, b.business_date) b.id, b.facility_id, b.business_date
    FROM ingest.batches b
    CROSS JOIN period p
    WHERE NOT b.dry_run AND b.business_date BETWEEN p.first_night AND p.last_night
      AND b.facility_id IN (SELECT facility_id FROM reports.facility_units('facility', $1::text, NULL, $2::text))
    ORDER BY b.facility_id, b.business_date, b.id DESC
), checks AS (
    SELECT l.*, c.check_id, c.failing, c.applicable
    FROM latest l JOIN ingest.batch_checks c ON c.batch_id = l.id
    UNION ALL
    SELECT l.*, x.check_id, x.failing, x.applicable
    FROM latest l
    JOIN LATERAL (SELECT sum(received_rows) AS received, sum(rejected) AS rejected, sum(warnings) AS warnings
                  FROM ingest.batch_files WHERE batch_id = l.id) t ON t.received IS NOT NULL
    CROSS JOIN LATERAL (VALUES ('rejected_rows', t.rejected, t.received), ('warning_rows', t.warnings, t.received)) x (check_id, failing, applicable)
)
SELECT f.code                                                           AS facility_code,
       f.name                                                           AS facility_name,
       c.business_date::text                                            AS business_date,
       c.id                                                             AS batch_id,
       c.check_id,
       t.description,
       c.failing::bigint                                                AS failing_rows,
       c.applicable::bigint                                             AS applicable_rows,
       round(100.0 * c.failing / nullif(c.applicable, 0), 2)            AS value,
       t.comparator || ' ' || t.threshold                               AS fails_when,
       CASE WHEN c.applicable = 0 THEN 'n/a'
            WHEN (t.comparator = '>' AND 100.0 * c.failing / c.applicable > t.threshold)
              OR (t.comparator = '<' AND 100.0 * c.failing / c.applicable < t.threshold) THEN 'fail'
            ELSE 'pass' END                                             AS status
FROM checks c
JOIN registry.facilities f ON f.id = c.facility_id
JOIN reports.thresholds t ON t.kind = 'quality' AND t.indicator = c.check_id
ORDER BY f.code, c.business_date, c.check_id

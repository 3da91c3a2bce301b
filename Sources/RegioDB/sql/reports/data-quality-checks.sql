-- parameters: $1 region, $2 facility, $3 from, $4 to
-- data-quality-checks: every plausibility check of each facility's latest batch per business date
-- (dry runs aside), with the failing and applicable rows, the value, the threshold
-- (reports.thresholds, kind 'quality') and pass, fail, or n/a when no row was applicable.
-- $1 region, $2 facility, $3 first date, $4 last date (default: the 30 nights up to yesterday).
WITH latest AS (
    SELECT DISTINCT ON (b.facility_id, b.business_date) b.id, b.facility_id, b.business_date
    FROM ingest.batches b
    CROSS JOIN reports.nights($3::date, $4::date) p
    WHERE NOT b.dry_run AND b.business_date BETWEEN p.first_night AND p.last_night
      AND b.facility_id IN (SELECT facility_id FROM reports.facility_units('facility', $1::text, NULL, $2::text))
    ORDER BY b.facility_id, b.business_date, b.id DESC
), checks AS (
    SELECT l.*, m.check_id, m.failing, m.applicable
    FROM latest l JOIN ingest.batch_measures m ON m.batch_id = l.id
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
            WHEN reports.breaches(100.0 * c.failing / c.applicable, t.comparator, t.threshold) THEN 'fail'
            ELSE 'pass' END                                             AS status
FROM checks c
JOIN registry.facilities f ON f.id = c.facility_id
JOIN reports.thresholds t ON t.kind = 'quality' AND t.indicator = c.check_id
ORDER BY f.code, c.business_date, c.check_id

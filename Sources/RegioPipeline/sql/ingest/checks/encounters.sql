-- placeholders: {staging}
-- parameters: $1 batch
-- Data-quality checks of a batch's accepted encounter rows (see reports.thresholds, kind 'quality').
INSERT INTO ingest.batch_checks (batch_id, check_id, failing, applicable)
SELECT $1, c.check_id, c.failing, c.applicable
FROM (SELECT count(*) FILTER (WHERE primary_dx IS NULL) AS no_dx,
             count(*) FILTER (WHERE total_cost = 0) AS zero_cost,
             count(*) AS n,
             count(*) FILTER (WHERE encounter_type = 'I' AND end_time - start_time > interval '60 days') AS long_stays,
             count(*) FILTER (WHERE encounter_type = 'I' AND end_time IS NOT NULL) AS discharged
      FROM {staging} WHERE NOT _rejected AND _op = 'U') s
CROSS JOIN LATERAL (VALUES ('encounters_without_diagnosis', s.no_dx, s.n),
                           ('encounters_zero_cost', s.zero_cost, s.n),
                           ('stays_over_60_days', s.long_stays, s.discharged)) c (check_id, failing, applicable)

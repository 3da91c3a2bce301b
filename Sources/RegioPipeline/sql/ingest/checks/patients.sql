-- placeholders: {staging}
-- parameters: $1 batch
-- Data-quality checks of a batch's accepted patient rows (see reports.thresholds, kind 'quality').
INSERT INTO ingest.batch_checks (batch_id, check_id, failing, applicable)
SELECT $1, c.check_id, c.failing, c.applicable
FROM (SELECT count(*) FILTER (WHERE birth_date IS NULL) AS no_birth_date,
             count(*) FILTER (WHERE id_type IS DISTINCT FROM 'RID' OR id_hash IS NULL) AS no_rid,
             count(*) AS n
      FROM {staging} WHERE NOT _rejected AND _op = 'U') s
CROSS JOIN LATERAL (VALUES ('patients_without_birth_date', s.no_birth_date, s.n),
                           ('patients_without_resident_id', s.no_rid, s.n)) c (check_id, failing, applicable)

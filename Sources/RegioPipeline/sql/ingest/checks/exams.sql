-- placeholders: {staging}
-- parameters: $1 batch
-- Data-quality checks of a batch's accepted exam rows (see reports.thresholds, kind 'quality').
INSERT INTO ingest.batch_checks (batch_id, check_id, failing, applicable)
SELECT $1, 'exams_local_code', count(*) FILTER (WHERE code_system = 'LOCAL'), count(*)
FROM {staging} WHERE NOT _rejected AND _op = 'U'

-- Rejected rows are kept as sent (without ID numbers, which were never staged) for download.
INSERT INTO ingest.rejected_rows (batch_id, kind, line, fields)
SELECT $1, $2, s._line, (to_jsonb(s) - '_line' - '_rejected' - '_issues' - '_op' - 'id_hash') || jsonb_build_object('op', s._op)
FROM {staging} s
WHERE s._rejected

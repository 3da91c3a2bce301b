-- placeholders: {staging}
-- parameters: $1 batch, $2 kind
-- Row issues found while streaming (kept per staged row as JSON) become row_errors.
INSERT INTO ingest.row_errors (batch_id, kind, line, column_name, code, severity, message, raw_value)
SELECT $1, $2, s._line, i.c, i.k, i.s, i.m, i.r
FROM {staging} s, jsonb_to_recordset(s._issues::jsonb) AS i (c text, k text, s text, m text, r text)
WHERE s._issues IS NOT NULL

-- placeholders: {staging}
-- parameters: $1 batch, $2 kind
-- Rejected rows are kept as sent (without ID numbers, which were never staged) for download:
-- rows rejected while streaming carry their raw text in _raw; rows rejected by the set-based
-- checks were valid, so their normalised values are shown. A later attempt at the same batch
-- replaces what an earlier one quarantined.
INSERT INTO ingest.rejected_rows (batch_id, kind, line, fields)
SELECT $1, $2, s._line,
       coalesce(s._raw, (SELECT jsonb_object_agg(key, value) FROM jsonb_each_text(
                             to_jsonb(s) - '_line' - '_rejected' - '_issues' - '_op' - '_raw' - '_hash' - '_stored' - 'id_hash')))
       || jsonb_build_object('op', s._op)
FROM {staging} s
WHERE s._rejected
ON CONFLICT (batch_id, kind, line) DO UPDATE SET fields = excluded.fields

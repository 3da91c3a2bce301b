-- placeholders: {encounters}
-- parameters: $1 batch
-- Warning for an optional reference: an encounter's referring facility must be registered. The
-- rows are kept. A line warned by an earlier attempt at the batch is not warned twice.
INSERT INTO ingest.row_errors (batch_id, kind, line, column_name, code, severity, message, raw_value)
SELECT $1, 'encounters', s._line, 'referral_from', 'dangling_reference', 'warning',
       'facility ' || s.referral_from || ' is not registered in the region', s.referral_from
FROM {encounters} s
WHERE NOT s._rejected AND s._op = 'U' AND s.referral_from IS NOT NULL
  AND NOT EXISTS (SELECT 1 FROM registry.facilities f WHERE f.code = s.referral_from)
  AND NOT EXISTS (SELECT 1 FROM ingest.row_errors w
                  WHERE w.batch_id = $1 AND w.kind = 'encounters' AND w.line = s._line AND w.code = 'dangling_reference')

-- placeholders: {exams} {encounters}
-- parameters: $1 batch, $2 facility
-- Warning for an optional reference: an exam's encounter should be known. The rows are kept. A
-- line warned by an earlier attempt at the batch is not warned twice.
INSERT INTO ingest.row_errors (batch_id, kind, line, column_name, code, severity, message, raw_value)
SELECT $1, 'exams', s._line, 'encounter_id', 'dangling_reference', 'warning',
       'encounter ' || s.encounter_id || ' is not in this extract or an earlier one of this facility', s.encounter_id
FROM {exams} s
WHERE NOT s._rejected AND s._op = 'U' AND s.encounter_id IS NOT NULL
  AND NOT EXISTS (SELECT 1 FROM {encounters} e WHERE e.encounter_id = s.encounter_id AND NOT e._rejected)
  AND NOT EXISTS (SELECT 1 FROM emr.encounters e WHERE e.facility_id = $2 AND e.encounter_id = s.encounter_id)
  AND NOT EXISTS (SELECT 1 FROM ingest.row_errors w
                  WHERE w.batch_id = $1 AND w.kind = 'exams' AND w.line = s._line AND w.code = 'dangling_reference')

-- placeholders: {staging} {kind} {patients}
-- parameters: $1 batch, $2 facility
-- dangling_reference: a row's patient must be sent (and accepted) in this batch, or be stored from
-- an earlier batch of the same facility and not retracted in this one. Two anti-joins, so the
-- planner can hash them (staging tables are ANALYZEd after their COPY).
WITH missing AS (
    SELECT s._line FROM {staging} s
    WHERE NOT s._rejected AND s._op = 'U'
      AND NOT EXISTS (SELECT 1 FROM {patients} p WHERE p.patient_id = s.patient_id AND NOT p._rejected AND p._op = 'U')
      AND NOT EXISTS (SELECT 1 FROM emr.patients p
                      WHERE p.facility_id = $2 AND p.patient_id = s.patient_id
                        AND NOT EXISTS (SELECT 1 FROM {patients} d
                                        WHERE d.patient_id = p.patient_id AND NOT d._rejected AND d._op = 'D'))
), marked AS (
    UPDATE {staging} s SET _rejected = true FROM missing m WHERE s._line = m._line AND NOT s._rejected
    RETURNING s._line, s.patient_id
)
INSERT INTO ingest.row_errors (batch_id, kind, line, column_name, code, severity, message, raw_value)
SELECT $1, '{kind}', _line, 'patient_id', 'dangling_reference', 'error',
       'patient ' || patient_id || ' is not in this extract or an earlier one of this facility', patient_id
FROM marked

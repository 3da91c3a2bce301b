-- placeholders: {staging}
-- parameters: $1 batch
-- dangling_reference: a referral's receiving facility must be registered.
WITH missing AS (
    SELECT s._line FROM {staging} s
    WHERE NOT s._rejected AND s._op = 'U'
      AND NOT EXISTS (SELECT 1 FROM registry.facilities f WHERE f.code = s.to_facility_code)
), marked AS (
    UPDATE {staging} s SET _rejected = true FROM missing m WHERE s._line = m._line AND NOT s._rejected
    RETURNING s._line, s.to_facility_code
)
INSERT INTO ingest.row_errors (batch_id, kind, line, column_name, code, severity, message, raw_value)
SELECT $1, 'referrals', _line, 'to_facility_code', 'dangling_reference', 'error',
       'facility ' || to_facility_code || ' is not registered in the region', to_facility_code
FROM marked

-- Patients: new persons enter the regional index by the keyed hash of their national ID number;
-- records are upserted by (facility, patient_id); retractions delete.
INSERT INTO emr.persons (id_hash)
SELECT DISTINCT id_hash FROM {staging} WHERE NOT _rejected AND _op = 'U' AND id_hash IS NOT NULL
ON CONFLICT (id_hash) DO NOTHING;

WITH src AS (
    SELECT s.patient_id, s.name, s.sex, s.birth_date, s.id_type, s.id_hash, s.phone, s.address, s._hash
    FROM {staging} s WHERE NOT s._rejected AND s._op = 'U'
), written AS (
    INSERT INTO emr.patients AS t (facility_id, patient_id, person_id, name, sex, birth_date, id_type, id_hash,
                                   phone, address, as_of, row_hash, batch_id)
    SELECT $2, src.patient_id, p.id, src.name, src.sex, src.birth_date, src.id_type, src.id_hash, src.phone,
           src.address, $3::date, src._hash, $1
    FROM src LEFT JOIN emr.persons p ON p.id_hash = src.id_hash
    ON CONFLICT (facility_id, patient_id) DO UPDATE SET
        person_id = excluded.person_id, name = excluded.name, sex = excluded.sex, birth_date = excluded.birth_date,
        id_type = excluded.id_type, id_hash = excluded.id_hash, phone = excluded.phone, address = excluded.address,
        as_of = excluded.as_of, row_hash = excluded.row_hash, batch_id = excluded.batch_id, updated_at = now()
    WHERE t.row_hash IS DISTINCT FROM excluded.row_hash AND t.as_of <= excluded.as_of
    RETURNING (xmax = 0) AS inserted
), retracted AS (
    DELETE FROM emr.patients t USING {staging} s
    WHERE s._op = 'D' AND NOT s._rejected AND t.facility_id = $2 AND t.as_of <= $3::date AND t.patient_id = s.patient_id
    RETURNING 1
)
SELECT (SELECT count(*) FROM written WHERE inserted)::bigint,
       (SELECT count(*) FROM written WHERE NOT inserted)::bigint,
       (SELECT count(*) FROM retracted)::bigint

-- placeholders: {staging}
-- parameters: $1 batch, $2 facility, $3 business_date
-- Patient records, upserted by (facility, patient_id), linked to the regional person that
-- ingest/merge/persons.sql has just made sure exists; retractions delete. A record without an ID
-- number keeps the person the patient index gave it (PersonLinker), which links the batch's
-- records again once it is loaded.
-- Upsert by key in plain statements — update what changed, insert what is new, delete what is
-- retracted — rather than INSERT … ON CONFLICT, whose speculative insertion costs more per row.
-- A facility's batches never run at once, so nothing inserts the same key in between. A stored
-- row written by a newer night's extract (as_of) is not overwritten, nor retracted, by an older
-- one. KindMerge counts each statement's rows from its command tag (UPDATE: updated,
-- INSERT: inserted, DELETE: retracted) and skips an UPDATE or DELETE that has nothing to do.
UPDATE emr.patients t SET
    person_id = coalesce(p.id, CASE WHEN s.id_hash IS NULL AND t.id_hash IS NULL THEN t.person_id END),
    name = s.name, sex = s.sex,
    birth_date = s.birth_date, id_type = s.id_type, id_hash = s.id_hash,
    phone = s.phone, address = s.address, as_of = $3::date,
    row_hash = s._hash, batch_id = $1, updated_at = now()
FROM {staging} s
LEFT JOIN emr.persons p ON p.id_hash = s.id_hash
WHERE s._stored AND NOT s._rejected AND s._op = 'U' AND t.facility_id = $2 AND t.patient_id = s.patient_id
  AND t.row_hash IS DISTINCT FROM s._hash AND t.as_of <= $3::date;

INSERT INTO emr.patients (facility_id, patient_id, person_id, name, sex, birth_date, id_type,
    id_hash, phone, address,
    as_of, row_hash, batch_id)
SELECT $2, s.patient_id, p.id, s.name, s.sex,
       s.birth_date, s.id_type, s.id_hash, s.phone, s.address,
       $3::date, s._hash, $1
FROM {staging} s
LEFT JOIN emr.persons p ON p.id_hash = s.id_hash
WHERE NOT s._rejected AND s._op = 'U'
  AND NOT s._stored  -- marked by ingest/mark_stored.sql
-- In ID-hash order: persons were numbered in that order, so the person_id index grows at its end
-- instead of at random pages.
ORDER BY s.id_hash;

DELETE FROM emr.patients t USING {staging} s
WHERE s._op = 'D' AND NOT s._rejected AND t.facility_id = $2 AND t.patient_id = s.patient_id AND t.as_of <= $3::date

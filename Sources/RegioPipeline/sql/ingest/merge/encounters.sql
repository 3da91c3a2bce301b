-- placeholders: {staging}
-- parameters: $1 batch, $2 facility, $3 business_date
-- Upsert by key in plain statements — update what changed, insert what is new, delete what is
-- retracted — rather than INSERT … ON CONFLICT, whose speculative insertion costs more per row.
-- A facility's batches never run at once, so nothing inserts the same key in between. A stored
-- row written by a newer night's extract (as_of) is not overwritten, nor retracted, by an older
-- one. KindMerge counts each statement's rows from its command tag (UPDATE: updated,
-- INSERT: inserted, DELETE: retracted) and skips an UPDATE or DELETE that has nothing to do.

UPDATE emr.encounters t SET
    patient_id = s.patient_id, encounter_type = s.encounter_type, dept_code = s.dept_code,
    dept_name = s.dept_name, start_time = s.start_time, end_time = s.end_time,
    primary_dx = s.primary_dx, total_cost = s.total_cost, drug_cost = s.drug_cost,
    consumables_cost = s.consumables_cost, referral_from = s.referral_from, referral_id = s.referral_id,
    as_of = $3::date, row_hash = s._hash, batch_id = $1
FROM {staging} s
WHERE s._stored AND NOT s._rejected AND s._op = 'U' AND t.facility_id = $2 AND t.encounter_id = s.encounter_id
  AND t.row_hash IS DISTINCT FROM s._hash AND t.as_of <= $3::date;

INSERT INTO emr.encounters (facility_id, encounter_id, patient_id, encounter_type, dept_code, dept_name, start_time,
    end_time, primary_dx, total_cost, drug_cost, consumables_cost, referral_from,
    referral_id,
    as_of, row_hash, batch_id)
SELECT $2, s.encounter_id, s.patient_id, s.encounter_type, s.dept_code,
       s.dept_name, s.start_time, s.end_time, s.primary_dx, s.total_cost,
       s.drug_cost, s.consumables_cost, s.referral_from, s.referral_id, $3::date,
       s._hash, $1
FROM {staging} s
WHERE NOT s._rejected AND s._op = 'U'
  AND NOT s._stored;  -- _stored: marked by ingest/mark_stored.sql

DELETE FROM emr.encounters t USING {staging} s
WHERE s._op = 'D' AND NOT s._rejected AND t.facility_id = $2 AND t.encounter_id = s.encounter_id AND t.as_of <= $3::date

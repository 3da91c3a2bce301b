-- placeholders: {staging} {pages}
-- parameters: $1 batch, $2 facility, $3 business_date
-- Upsert by key in plain statements — update what changed, insert what is new, delete what is
-- retracted — rather than INSERT … ON CONFLICT, whose speculative insertion costs more per row.
-- A facility's batches never run at once, so nothing inserts the same key in between. A stored
-- row written by a newer night's extract (as_of) is not overwritten, nor retracted, by an older
-- one. KindMerge counts each statement's rows from its command tag (UPDATE: updated,
-- INSERT: inserted, DELETE: retracted) and skips an UPDATE or DELETE that has nothing to do.

UPDATE emr.exams t SET
    patient_id = s.patient_id, encounter_id = s.encounter_id, exam_code = s.exam_code,
    code_system = s.code_system, exam_name = s.exam_name, category = s.category,
    modality = s.modality, body_site = s.body_site, performed_at = s.performed_at,
    reported_at = s.reported_at, summary = s.summary, document_ref = s.document_ref,
    price = s.price, as_of = $3::date, row_hash = s._hash,
    batch_id = $1
FROM {staging} s
WHERE s._stored AND NOT s._rejected AND s._op = 'U' AND t.facility_id = $2 AND t.report_id = s.report_id
  AND t.row_hash IS DISTINCT FROM s._hash AND t.as_of <= $3::date;

INSERT INTO emr.exams (facility_id, report_id, patient_id, encounter_id, exam_code, code_system, exam_name,
    category, modality, body_site, performed_at, reported_at, summary,
    document_ref, price,
    as_of, row_hash, batch_id)
SELECT $2, s.report_id, s.patient_id, s.encounter_id, s.exam_code,
       s.code_system, s.exam_name, s.category, s.modality, s.body_site,
       s.performed_at, s.reported_at, s.summary, s.document_ref, s.price,
       $3::date, s._hash, $1
FROM {staging} s
WHERE NOT s._rejected AND s._op = 'U'
  AND NOT s._stored  -- _stored: marked by ingest/mark_stored.sql
  AND {pages};  -- the staging pages this transaction takes (SharedInsert), or true

DELETE FROM emr.exams t USING {staging} s
WHERE s._op = 'D' AND NOT s._rejected AND t.facility_id = $2 AND t.report_id = s.report_id AND t.as_of <= $3::date

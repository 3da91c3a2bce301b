-- Upsert by key in plain statements — update what changed, insert what is new, delete what is
-- retracted — rather than INSERT … ON CONFLICT, whose speculative insertion costs more per row;
-- each statement reads staging itself, so no million-row CTE is materialised. A facility's
-- batches never run at once, so nothing inserts the same key in between. A stored row written by
-- a newer night's extract (as_of) is not overwritten, nor retracted, by an older one.
-- Each statement returns (what, how many).
WITH src AS (
    SELECT s.report_id, s.patient_id, s.encounter_id, s.exam_code, s.code_system, s.exam_name, s.category,
           s.modality, s.body_site, s.performed_at, s.reported_at, s.summary, s.document_ref, s.price,
           $3::date AS as_of, s._hash AS row_hash
    FROM {staging} s
    WHERE NOT s._rejected AND s._op = 'U'
), done AS (
    UPDATE emr.exams t SET
        patient_id = src.patient_id, encounter_id = src.encounter_id, exam_code = src.exam_code,
        code_system = src.code_system, exam_name = src.exam_name, category = src.category,
        modality = src.modality, body_site = src.body_site, performed_at = src.performed_at,
        reported_at = src.reported_at, summary = src.summary, document_ref = src.document_ref,
        price = src.price,
        as_of = src.as_of, row_hash = src.row_hash, batch_id = $1
    FROM src
    WHERE t.facility_id = $2 AND t.report_id = src.report_id
      AND t.row_hash IS DISTINCT FROM src.row_hash AND t.as_of <= src.as_of
    RETURNING 1
)
SELECT 'updated', count(*)::bigint FROM done;

WITH src AS (
    SELECT s.report_id, s.patient_id, s.encounter_id, s.exam_code, s.code_system, s.exam_name, s.category,
           s.modality, s.body_site, s.performed_at, s.reported_at, s.summary, s.document_ref, s.price,
           $3::date AS as_of, s._hash AS row_hash
    FROM {staging} s
    WHERE NOT s._rejected AND s._op = 'U'
), done AS (
    INSERT INTO emr.exams (facility_id, report_id, patient_id, encounter_id, exam_code, code_system, exam_name, category, modality, body_site, performed_at, reported_at, summary, document_ref, price, as_of, row_hash, batch_id)
    SELECT $2, src.*, $1 FROM src
    WHERE NOT EXISTS (SELECT 1 FROM emr.exams t WHERE t.facility_id = $2 AND t.report_id = src.report_id)
    RETURNING 1
)
SELECT 'inserted', count(*)::bigint FROM done;

WITH done AS (
    DELETE FROM emr.exams t USING {staging} s
    WHERE s._op = 'D' AND NOT s._rejected AND t.facility_id = $2 AND t.report_id = s.report_id AND t.as_of <= $3::date
    RETURNING 1
)
SELECT 'retracted', count(*)::bigint FROM done

WITH src AS (
    SELECT s.report_id, s.patient_id, s.encounter_id, s.exam_code, s.code_system, s.exam_name, s.category,
           s.modality, s.body_site, s.performed_at,
           s.reported_at, s.summary, s.document_ref, s.price, $3::date AS as_of, s._hash AS row_hash
    FROM {staging} s WHERE NOT s._rejected AND s._op = 'U'
), written AS (
    INSERT INTO emr.exams AS t (facility_id, report_id, patient_id, encounter_id, exam_code, code_system, exam_name,
                                category, modality, body_site, performed_at, reported_at, summary, document_ref,
                                price, as_of, row_hash, batch_id)
    SELECT $2, src.*, $1 FROM src
    ON CONFLICT (facility_id, report_id) DO UPDATE SET
        patient_id = excluded.patient_id, encounter_id = excluded.encounter_id, exam_code = excluded.exam_code,
        code_system = excluded.code_system, exam_name = excluded.exam_name, category = excluded.category,
        modality = excluded.modality, body_site = excluded.body_site, performed_at = excluded.performed_at,
        reported_at = excluded.reported_at, summary = excluded.summary, document_ref = excluded.document_ref,
        price = excluded.price, as_of = excluded.as_of, row_hash = excluded.row_hash, batch_id = excluded.batch_id
    WHERE t.row_hash IS DISTINCT FROM excluded.row_hash AND t.as_of <= excluded.as_of
    RETURNING (xmax = 0) AS inserted
), retracted AS (
    DELETE FROM emr.exams t USING {staging} s
    WHERE s._op = 'D' AND NOT s._rejected AND t.facility_id = $2 AND t.as_of <= $3::date AND t.report_id = s.report_id
    RETURNING 1
)
SELECT (SELECT count(*) FROM written WHERE inserted)::bigint,
       (SELECT count(*) FROM written WHERE NOT inserted)::bigint,
       (SELECT count(*) FROM retracted)::bigint

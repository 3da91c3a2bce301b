WITH src AS (
    SELECT s.encounter_id, s.patient_id, s.encounter_type, s.dept_code, s.dept_name,
           s.start_time, s.end_time, s.primary_dx,
           s.total_cost, s.drug_cost,
           s.consumables_cost, s.referral_from, s.referral_id, $3::date AS as_of, s._hash AS row_hash
    FROM {staging} s WHERE NOT s._rejected AND s._op = 'U'
), written AS (
    INSERT INTO emr.encounters AS t (facility_id, encounter_id, patient_id, encounter_type, dept_code, dept_name,
                                     start_time, end_time, primary_dx, total_cost, drug_cost, consumables_cost,
                                     referral_from, referral_id, as_of, row_hash, batch_id)
    SELECT $2, src.*, $1 FROM src
    ON CONFLICT (facility_id, encounter_id) DO UPDATE SET
        patient_id = excluded.patient_id, encounter_type = excluded.encounter_type, dept_code = excluded.dept_code,
        dept_name = excluded.dept_name, start_time = excluded.start_time, end_time = excluded.end_time,
        primary_dx = excluded.primary_dx, total_cost = excluded.total_cost, drug_cost = excluded.drug_cost,
        consumables_cost = excluded.consumables_cost, referral_from = excluded.referral_from,
        referral_id = excluded.referral_id, as_of = excluded.as_of, row_hash = excluded.row_hash, batch_id = excluded.batch_id
    WHERE t.row_hash IS DISTINCT FROM excluded.row_hash AND t.as_of <= excluded.as_of
    RETURNING (xmax = 0) AS inserted
), retracted AS (
    DELETE FROM emr.encounters t USING {staging} s
    WHERE s._op = 'D' AND NOT s._rejected AND t.facility_id = $2 AND t.as_of <= $3::date AND t.encounter_id = s.encounter_id
    RETURNING 1
)
SELECT (SELECT count(*) FROM written WHERE inserted)::bigint,
       (SELECT count(*) FROM written WHERE NOT inserted)::bigint,
       (SELECT count(*) FROM retracted)::bigint

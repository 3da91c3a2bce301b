-- Upsert by key in plain statements — update what changed, insert what is new, delete what is
-- retracted — rather than INSERT … ON CONFLICT, whose speculative insertion costs more per row;
-- each statement reads staging itself, so no million-row CTE is materialised. A facility's
-- batches never run at once, so nothing inserts the same key in between. A stored row written by
-- a newer night's extract (as_of) is not overwritten, nor retracted, by an older one.
-- Each statement returns (what, how many).
WITH src AS (
    SELECT s.encounter_id, s.patient_id, s.encounter_type, s.dept_code, s.dept_name, s.start_time, s.end_time,
           s.primary_dx, s.total_cost, s.drug_cost, s.consumables_cost, s.referral_from, s.referral_id,
           $3::date AS as_of, s._hash AS row_hash
    FROM {staging} s
    WHERE NOT s._rejected AND s._op = 'U'
), done AS (
    UPDATE emr.encounters t SET
        patient_id = src.patient_id, encounter_type = src.encounter_type, dept_code = src.dept_code,
        dept_name = src.dept_name, start_time = src.start_time, end_time = src.end_time,
        primary_dx = src.primary_dx, total_cost = src.total_cost, drug_cost = src.drug_cost,
        consumables_cost = src.consumables_cost, referral_from = src.referral_from, referral_id = src.referral_id,
        as_of = src.as_of, row_hash = src.row_hash, batch_id = $1
    FROM src
    WHERE t.facility_id = $2 AND t.encounter_id = src.encounter_id
      AND t.row_hash IS DISTINCT FROM src.row_hash AND t.as_of <= src.as_of
    RETURNING 1
)
SELECT 'updated', count(*)::bigint FROM done;

WITH src AS (
    SELECT s.encounter_id, s.patient_id, s.encounter_type, s.dept_code, s.dept_name, s.start_time, s.end_time,
           s.primary_dx, s.total_cost, s.drug_cost, s.consumables_cost, s.referral_from, s.referral_id,
           $3::date AS as_of, s._hash AS row_hash
    FROM {staging} s
    WHERE NOT s._rejected AND s._op = 'U'
), done AS (
    INSERT INTO emr.encounters (facility_id, encounter_id, patient_id, encounter_type, dept_code, dept_name, start_time, end_time, primary_dx, total_cost, drug_cost, consumables_cost, referral_from, referral_id, as_of, row_hash, batch_id)
    SELECT $2, src.*, $1 FROM src
    WHERE NOT EXISTS (SELECT 1 FROM emr.encounters t WHERE t.facility_id = $2 AND t.encounter_id = src.encounter_id)
    RETURNING 1
)
SELECT 'inserted', count(*)::bigint FROM done;

WITH done AS (
    DELETE FROM emr.encounters t USING {staging} s
    WHERE s._op = 'D' AND NOT s._rejected AND t.facility_id = $2 AND t.encounter_id = s.encounter_id AND t.as_of <= $3::date
    RETURNING 1
)
SELECT 'retracted', count(*)::bigint FROM done

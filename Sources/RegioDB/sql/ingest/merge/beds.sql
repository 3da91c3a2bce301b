-- The midnight census of the business date, one row per department.
WITH src AS (
    SELECT s.dept_code, s.staffed_beds::int AS staffed_beds, s.occupied_beds::int AS occupied_beds
    FROM {staging} s WHERE NOT s._rejected
), written AS (
    INSERT INTO emr.bed_census AS t (facility_id, census_date, dept_code, staffed_beds, occupied_beds, batch_id)
    SELECT $2, $3::date, src.dept_code, src.staffed_beds, src.occupied_beds, $1 FROM src
    ON CONFLICT (facility_id, census_date, dept_code) DO UPDATE SET
        staffed_beds = excluded.staffed_beds, occupied_beds = excluded.occupied_beds, batch_id = excluded.batch_id
    WHERE (t.staffed_beds, t.occupied_beds) IS DISTINCT FROM (excluded.staffed_beds, excluded.occupied_beds)
    RETURNING (xmax = 0) AS inserted
)
SELECT 'inserted', count(*) FILTER (WHERE inserted)::bigint FROM written
UNION ALL
SELECT 'updated', count(*) FILTER (WHERE NOT inserted)::bigint FROM written

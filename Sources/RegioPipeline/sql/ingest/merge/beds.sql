-- placeholders: {staging}
-- parameters: $1 batch, $2 facility, $3 business_date
-- The midnight census of the business date, one row per department: a department already counted
-- for that date takes the new figures when they differ, a new one is added. A facility's batches
-- never run at once, so nothing inserts the same key in between. Counted from the command tags,
-- like the other kinds' merges.
UPDATE emr.bed_census t SET
    staffed_beds = s.staffed_beds::int, occupied_beds = s.occupied_beds::int, batch_id = $1
FROM {staging} s
WHERE NOT s._rejected AND t.facility_id = $2 AND t.census_date = $3::date AND t.dept_code = s.dept_code
  AND (t.staffed_beds, t.occupied_beds) IS DISTINCT FROM (s.staffed_beds::int, s.occupied_beds::int);

INSERT INTO emr.bed_census (facility_id, census_date, dept_code, staffed_beds, occupied_beds, batch_id)
SELECT $2, $3::date, s.dept_code, s.staffed_beds::int, s.occupied_beds::int, $1
FROM {staging} s
WHERE NOT s._rejected
  AND NOT EXISTS (SELECT 1 FROM emr.bed_census t
                  WHERE t.facility_id = $2 AND t.census_date = $3::date AND t.dept_code = s.dept_code)

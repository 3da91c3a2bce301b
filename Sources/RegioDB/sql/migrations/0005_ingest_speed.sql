-- Ingest speed: no per-row foreign-key triggers on the big fact tables (docs/benchmarks.md).
--
-- PostgreSQL checks a foreign key with one trigger call and one lookup per inserted row. On the
-- nightly merge that was 40–60 % of the time spent inserting into these tables (1 M encounters:
-- 14.7 s with the key, 8.2 s without; 400 k patients with both keys: 16.1 s, without: 6.3 s).
-- The references still hold, by construction:
--   * facility_id is never taken from the extract: every row gets the facility of its batch,
--     which ingest.batches.facility_id (still a foreign key) checked when the batch was created,
--     and registered facilities are never deleted;
--   * emr.patients.person_id is taken, in the same merge transaction, from the emr.persons row
--     the merge has just made sure exists (persons are never deleted).
-- Smaller tables (bed census, purchases, referrals, rollups) keep their keys.

ALTER TABLE emr.patients DROP CONSTRAINT patients_facility_id_fkey;
ALTER TABLE emr.patients DROP CONSTRAINT patients_person_id_fkey;
ALTER TABLE emr.encounters DROP CONSTRAINT encounters_facility_id_fkey;
ALTER TABLE emr.exams DROP CONSTRAINT exams_facility_id_fkey;

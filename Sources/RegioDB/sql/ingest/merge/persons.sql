-- Run before the patients' merge: new persons enter the regional index by the keyed hash of their
-- national ID number. Batches of different facilities may add the same person at once, hence
-- ON CONFLICT (an ID number is one person whichever hospital sends it first).
-- In ID-hash order, whatever plan the DISTINCT gets: the unique index then grows at its end, and
-- persons are numbered in the order ingest/merge/patients.sql inserts patients in. (A hashed
-- DISTINCT, which a work_mem of 32 MB chooses, without the ORDER BY made both inserts ≈ 40 %
-- slower on the benchmark's night.)
INSERT INTO emr.persons (id_hash)
SELECT DISTINCT id_hash FROM {staging} WHERE NOT _rejected AND _op = 'U' AND id_hash IS NOT NULL
ORDER BY id_hash
ON CONFLICT (id_hash) DO NOTHING

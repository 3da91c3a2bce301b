-- placeholders: {staging}
-- Run before the patients' merge: new persons enter the regional index by the keyed hash of their
-- national ID number (an ID number is one person whichever hospital sends it first).
-- A plain INSERT of the hashes not in the index yet: on the benchmark's night 1.3–1.4 s against
-- 2.1–2.3 s for INSERT … ON CONFLICT DO NOTHING, whose speculative insertion costs more per row.
-- Batches of different facilities may add the same person at once; the later one then fails on
-- the unique key, and KindMerge runs merge/persons_concurrent.sql from a savepoint instead.
-- In ID-hash order, whatever plan the DISTINCT gets: the unique index then grows at its end, and
-- persons are numbered in the order ingest/merge/patients.sql inserts patients in. (A hashed
-- DISTINCT, which a work_mem of 32 MB chooses, without the ORDER BY made both inserts ≈ 40 %
-- slower on the benchmark's night.)
INSERT INTO emr.persons (id_hash)
SELECT DISTINCT s.id_hash FROM {staging} s
WHERE NOT s._rejected AND s._op = 'U' AND s.id_hash IS NOT NULL
  AND NOT EXISTS (SELECT 1 FROM emr.persons p WHERE p.id_hash = s.id_hash)
ORDER BY s.id_hash

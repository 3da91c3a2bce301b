-- Ingest speed: emr.patients no longer indexes id_hash.
--
-- No query looks patients up by their ID hash: the regional index links them through
-- emr.persons.id_hash (unique) and emr.patients.person_id (indexed), which is also how a hospital
-- finds its patient's records elsewhere. Every patient insert paid for the index all the same:
-- the benchmark's night of 403,504 patients took 3.0 s without it against 3.2–3.5 s with it.
DROP INDEX emr.patients_id_hash;

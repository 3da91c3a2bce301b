-- Run before the patients' merge: new persons enter the regional index by the keyed hash of their
-- national ID number. Batches of different facilities may add the same person at once, hence
-- ON CONFLICT (an ID number is one person whichever hospital sends it first).
INSERT INTO emr.persons (id_hash)
SELECT DISTINCT id_hash FROM {staging} WHERE NOT _rejected AND _op = 'U' AND id_hash IS NOT NULL
ON CONFLICT (id_hash) DO NOTHING

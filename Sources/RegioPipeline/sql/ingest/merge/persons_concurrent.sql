-- placeholders: {staging}
-- merge/persons.sql when a batch of another facility has just added one of the same persons
-- (KindMerge runs this from a savepoint after that statement failed on the unique key):
-- ON CONFLICT leaves a person another batch added first as it is.
-- In ID-hash order, whatever plan the DISTINCT gets (see merge/persons.sql).
INSERT INTO emr.persons (id_hash)
SELECT DISTINCT id_hash FROM {staging} WHERE NOT _rejected AND _op = 'U' AND id_hash IS NOT NULL
ORDER BY id_hash
ON CONFLICT (id_hash) DO NOTHING

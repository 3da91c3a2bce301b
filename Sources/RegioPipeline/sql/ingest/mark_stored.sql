-- placeholders: {staging} {target} {key}
-- parameters: $1 facility
-- Marks the sent rows whose key the core table already holds, before the kind's merge, so its
-- INSERT takes the unmarked rows without reading the table it writes: probing a table while it
-- grows can turn quadratic (an empty, freshly analyzed table got a nested loop that rescanned every
-- page inserted so far, for each row). {target} is the kind's core table.
UPDATE {staging} s SET _stored = true
FROM {target} t
WHERE NOT s._rejected AND s._op = 'U' AND t.facility_id = $1 AND t.{key} = s.{key}

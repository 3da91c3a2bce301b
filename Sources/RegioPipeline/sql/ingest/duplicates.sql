-- placeholders: {staging} {kind} {key}
-- parameters: $1 batch, $2 repeated_keys
-- duplicate_key: every line sharing a key with another line of the same file is rejected — the
-- platform cannot know which of them the hospital meant (lines already rejected for another
-- reason count too: a fixed resend of one of them must not be overtaken by the other).
WITH duplicated AS (
    SELECT {key} AS value FROM {staging}
    WHERE {key} IS NOT NULL AND ($2::text[] IS NULL OR {key} = ANY ($2::text[]))  -- $2: the keys that may repeat
    GROUP BY {key} HAVING count(*) > 1
), marked AS (
    UPDATE {staging} s SET _rejected = true
    FROM duplicated d
    WHERE s.{key} = d.value AND NOT s._rejected
    RETURNING s._line, s.{key} AS value
)
INSERT INTO ingest.row_errors (batch_id, kind, line, column_name, code, severity, message, raw_value)
SELECT $1, '{kind}', _line, '{key}', 'duplicate_key', 'error', '{key} ' || value || ' appears on more than one line of this file', value
FROM marked

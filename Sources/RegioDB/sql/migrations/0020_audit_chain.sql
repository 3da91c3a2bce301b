-- The audit tables are append-only for every role but their owner, and tamper-evident:
--
-- - UPDATE, DELETE and TRUNCATE are refused by triggers (the application roles are not granted
--   them either; only the owner could disable a trigger).
-- - Each row carries `hash` = SHA-256 of the previous row's hash and the row's own content, and
--   `prev_hash`, the hash of the newest row it saw when it was written. Rows written at the same
--   moment may name the same previous row (the chain forks for a row and joins again), and a row
--   may name one with a higher id that committed while it was written; so writers never wait
--   for each other. `audit.verify` (and `regio audit verify`) recomputes every
--   hash: an edited row no longer matches its hash, a removed row leaves the row after it naming
--   a hash that no longer exists. Removing the newest rows is detected only against a head hash
--   kept elsewhere: `regio audit verify` prints it.
CREATE OR REPLACE FUNCTION audit.refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '%.% is append-only', TG_TABLE_SCHEMA, TG_TABLE_NAME;
END $$;

CREATE TRIGGER events_no_truncate BEFORE TRUNCATE ON audit.events
    FOR EACH STATEMENT EXECUTE FUNCTION audit.refuse_change();
CREATE TRIGGER lookups_no_truncate BEFORE TRUNCATE ON audit.lookups
    FOR EACH STATEMENT EXECUTE FUNCTION audit.refuse_change();

ALTER TABLE audit.events ADD COLUMN prev_hash text, ADD COLUMN hash text;
ALTER TABLE audit.lookups ADD COLUMN prev_hash text, ADD COLUMN hash text;

-- A row's hash: its content as JSON (every column but the two hashes; timestamps in UTC) after
-- the previous row's hash.
CREATE FUNCTION audit.row_hash(prev text, content jsonb) RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT encode(sha256(convert_to(coalesce(prev, '') || content::text, 'UTF8')), 'hex')
$$;

-- Sets the new row's place in the chain. Security definer: the roles that append audit rows may
-- not read them back.
CREATE FUNCTION audit.chain() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, audit SET timezone = 'UTC' AS $$
BEGIN
    EXECUTE format('SELECT hash FROM %I.%I ORDER BY id DESC LIMIT 1', TG_TABLE_SCHEMA, TG_TABLE_NAME) INTO NEW.prev_hash;
    NEW.hash := audit.row_hash(NEW.prev_hash, to_jsonb(NEW) - 'hash' - 'prev_hash');
    RETURN NEW;
END $$;

-- Rows written before the chain: chained now, in id order.
DO $$
DECLARE
    tbl text;
    item record;
    previous text;
    current_hash text;
BEGIN
    SET LOCAL timezone = 'UTC';
    FOREACH tbl IN ARRAY ARRAY['events', 'lookups'] LOOP
        EXECUTE format('ALTER TABLE audit.%I DISABLE TRIGGER %I', tbl, tbl || '_append_only');
        previous := NULL;
        FOR item IN EXECUTE format('SELECT id, to_jsonb(t) - ''hash'' - ''prev_hash'' AS content FROM audit.%I t ORDER BY id', tbl) LOOP
            current_hash := audit.row_hash(previous, item.content);
            EXECUTE format('UPDATE audit.%I SET prev_hash = $1, hash = $2 WHERE id = $3', tbl) USING previous, current_hash, item.id;
            previous := current_hash;
        END LOOP;
        EXECUTE format('ALTER TABLE audit.%I ENABLE TRIGGER %I', tbl, tbl || '_append_only');
    END LOOP;
END $$;

ALTER TABLE audit.events ALTER COLUMN hash SET NOT NULL;
ALTER TABLE audit.lookups ALTER COLUMN hash SET NOT NULL;
CREATE INDEX events_hash ON audit.events (hash);
CREATE INDEX lookups_hash ON audit.lookups (hash);
CREATE TRIGGER events_chain BEFORE INSERT ON audit.events FOR EACH ROW EXECUTE FUNCTION audit.chain();
CREATE TRIGGER lookups_chain BEFORE INSERT ON audit.lookups FOR EACH ROW EXECUTE FUNCTION audit.chain();

-- What is wrong with one audit table's chain: rows whose content no longer matches their hash,
-- rows naming a previous row that is gone, and a second start of the chain. No rows: intact.
CREATE FUNCTION audit.verify(tbl text) RETURNS TABLE (row_id bigint, problem text) LANGUAGE plpgsql STABLE
SET timezone = 'UTC' AS $$
BEGIN
    IF tbl NOT IN ('events', 'lookups') THEN RAISE EXCEPTION 'audit tables are events and lookups'; END IF;
    RETURN QUERY EXECUTE format($q$
        SELECT t.id, 'its content does not match its hash: edited'
        FROM audit.%1$I t WHERE t.hash IS DISTINCT FROM audit.row_hash(t.prev_hash, to_jsonb(t) - 'hash' - 'prev_hash')
        UNION ALL
        SELECT t.id, 'it names a previous row that is not there: removed'
        FROM audit.%1$I t
        WHERE t.prev_hash IS NOT NULL AND NOT EXISTS (SELECT 1 FROM audit.%1$I p WHERE p.hash = t.prev_hash AND p.id <> t.id)
        UNION ALL
        SELECT t.id, 'it starts a second chain'
        FROM audit.%1$I t WHERE t.prev_hash IS NULL AND t.id > (SELECT min(id) FROM audit.%1$I)
        ORDER BY 1
        $q$, tbl);
END $$;

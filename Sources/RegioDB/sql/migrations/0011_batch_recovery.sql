-- Crash recovery (docs/operations.md): who is deciding a batch, whether they are still alive, and
-- whether a batch's staged rows are still there.

-- Each ingestion process registers itself as an instance, holds the advisory lock
-- (8, instance id) on a connection of its own for as long as it runs, and renews heartbeat_at
-- every five seconds (IngestInstance). That is its lease on the batches it decides: PostgreSQL
-- releases the lock the moment the process dies or its connection is lost (a database crash
-- included), and a heartbeat older than 30 seconds means it hangs or cannot be reached; either
-- way its batches are abandoned, to be taken up again — at once, and never while the owner lives.
CREATE TABLE ingest.instances (
    id           integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    host         text NOT NULL,
    pid          integer NOT NULL,
    started_at   timestamptz NOT NULL DEFAULT now(),
    heartbeat_at timestamptz NOT NULL DEFAULT now()
);

CREATE FUNCTION ingest.instance_alive(instance integer) RETURNS boolean LANGUAGE sql STABLE AS $$
    SELECT EXISTS (SELECT 1 FROM ingest.instances i WHERE i.id = instance AND i.heartbeat_at > now() - interval '30 seconds')
       AND EXISTS (
           SELECT 1 FROM pg_locks
           WHERE locktype = 'advisory' AND granted AND classid = 8 AND objid = instance AND objsubid = 2
             AND database = (SELECT oid FROM pg_database WHERE datname = current_database()))
$$;

-- The instance deciding a batch (while it is validating), and how many times a decision was
-- started: each attempt's writes are fenced by its number, and its side transaction carries it
-- in its name (regio_<database oid>_batch_<batch id>_<attempt>).
ALTER TABLE ingest.batches
    ADD COLUMN owner integer REFERENCES ingest.instances (id) ON DELETE SET NULL,
    ADD COLUMN attempts integer NOT NULL DEFAULT 0;

-- The batch in a side transaction's name, and the attempt (0 for a name without one).
CREATE FUNCTION ingest.side_batch(gid text) RETURNS bigint LANGUAGE sql IMMUTABLE AS $$
    SELECT split_part(split_part(gid, '_batch_', 2), '_', 1)::bigint
$$;
CREATE FUNCTION ingest.side_attempt(gid text) RETURNS integer LANGUAGE sql IMMUTABLE AS $$
    SELECT coalesce(nullif(split_part(split_part(gid, '_batch_', 2), '_', 2), '')::integer, 0)
$$;

CREATE OR REPLACE FUNCTION ingest.pending_side_batches() RETURNS SETOF bigint LANGUAGE sql STABLE AS $$
    SELECT ingest.side_batch(x.gid)
    FROM pg_prepared_xacts x JOIN pg_database d ON d.datname = x.database
    WHERE x.database = current_database() AND x.gid LIKE 'regio\_' || d.oid || '\_batch\_%'
$$;

-- Staging tables are UNLOGGED: PostgreSQL's crash recovery empties them (whole, never in part),
-- while ingest.batch_files still records their files as received. A received file is lost when
-- its staging table is gone, or empty although the file had rows: emptiness is the row count's
-- whole check, since recovery leaves an unlogged table either as it was or empty.
CREATE FUNCTION ingest.lost_files(batch bigint) RETURNS TABLE (kind text, name text) LANGUAGE plpgsql STABLE AS $$
DECLARE
    f record;
    staged regclass;
    has_rows boolean;
BEGIN
    FOR f IN SELECT b.kind, b.name, b.received_rows FROM ingest.batch_files b
             WHERE b.batch_id = batch AND b.received_at IS NOT NULL ORDER BY b.kind LOOP
        staged := to_regclass(format('staging.b%s_%s', batch, f.kind));
        IF staged IS NOT NULL THEN
            EXECUTE format('SELECT EXISTS (SELECT 1 FROM %s)', staged) INTO has_rows;
            CONTINUE WHEN has_rows OR f.received_rows = 0;
        END IF;
        kind := f.kind;
        name := f.name;
        RETURN NEXT;
    END LOOP;
END $$;

-- Puts the batch's lost files back to "to be sent": their receipts, row errors, quarantined rows
-- and what is left of their staging tables go. Returns their names; the upload client's resume
-- then sends them again.
CREATE FUNCTION ingest.forget_lost_files(batch bigint) RETURNS SETOF text LANGUAGE plpgsql AS $$
DECLARE
    f record;
BEGIN
    FOR f IN SELECT * FROM ingest.lost_files(batch) LOOP
        EXECUTE format('DROP TABLE IF EXISTS staging.%I', format('b%s_%s', batch, f.kind));
        UPDATE ingest.batch_files SET received_rows = NULL, received_sha256 = NULL, received_bytes = NULL,
            received_at = NULL, file_error = NULL, rejected = NULL, warnings = NULL, duplicates_checked = false,
            retractions_sent = NULL
        WHERE batch_id = batch AND kind = f.kind;
        DELETE FROM ingest.row_errors WHERE batch_id = batch AND kind = f.kind;
        DELETE FROM ingest.rejected_rows WHERE batch_id = batch AND kind = f.kind;
        RETURN NEXT f.name;
    END LOOP;
END $$;

-- An interrupted decision (its owner gone, or its database connection lost): the batch goes back
-- to the queue, or fails once max_attempts decisions of it were interrupted. Only while `attempt`
-- is still the batch's current one. Returns the new status, or NULL when nothing changed.
CREATE FUNCTION ingest.requeue_batch(batch bigint, attempt integer, max_attempts integer) RETURNS text LANGUAGE sql AS $$
    UPDATE ingest.batches SET
        status = CASE WHEN attempts >= max_attempts THEN 'failed' ELSE 'queued' END,
        reason = CASE WHEN attempts >= max_attempts
                      THEN 'the platform could not load this batch: its decision was interrupted ' || attempts || ' times' END,
        finished_at = CASE WHEN attempts >= max_attempts THEN now() END,
        started_at = NULL, owner = NULL
    WHERE id = batch AND attempts = attempt AND status = 'validating'
    RETURNING status
$$;

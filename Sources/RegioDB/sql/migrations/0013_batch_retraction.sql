-- Retracting a loaded batch (BatchRetraction, `regio batch retract`): the rows it brought are
-- removed and the stored rows it replaced or retracted come back as they were.

ALTER TABLE ingest.batches DROP CONSTRAINT batches_status_check;
ALTER TABLE ingest.batches ADD CONSTRAINT batches_status_check
    CHECK (status IN ('receiving', 'queued', 'validating', 'loaded', 'validated', 'rejected', 'failed', 'retracted'));

-- The stored rows a batch's merge updated or deleted, whole, as they were before it: what its
-- retraction restores. Kept for `retraction_days` after the batch was decided; each loaded
-- batch of a facility removes its facility's older ones.
CREATE TABLE ingest.superseded_rows (
    batch_id   bigint NOT NULL,
    table_name text NOT NULL,
    row        jsonb NOT NULL
);
CREATE INDEX superseded_rows_batch ON ingest.superseded_rows (batch_id);

-- Statement triggers on the core tables keep the rows an UPDATE or DELETE replaced, set-wise
-- from the statement's transition table, while `regio.superseding_batch` names a batch — which
-- the merge sets, transaction-locally, for its own statements only (the referral matching that
-- follows it updates rows too, and those are derived, not replaced).
CREATE FUNCTION ingest.keep_superseded() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    batch text := current_setting('regio.superseding_batch', true);
BEGIN
    IF coalesce(batch, '') <> '' THEN
        INSERT INTO ingest.superseded_rows (batch_id, table_name, row)
        SELECT batch::bigint, TG_TABLE_SCHEMA || '.' || TG_TABLE_NAME, to_jsonb(o) FROM superseded o;
    END IF;
    RETURN NULL;
END
$$;

DO $$
DECLARE
    target text;
BEGIN
    FOREACH target IN ARRAY ARRAY['emr.patients', 'emr.encounters', 'emr.exams', 'emr.bed_census',
                                  'procurement.purchases', 'referral.referrals'] LOOP
        EXECUTE format('CREATE TRIGGER keep_updated AFTER UPDATE ON %s REFERENCING OLD TABLE AS superseded
                        FOR EACH STATEMENT EXECUTE FUNCTION ingest.keep_superseded()', target);
        EXECUTE format('CREATE TRIGGER keep_deleted AFTER DELETE ON %s REFERENCING OLD TABLE AS superseded
                        FOR EACH STATEMENT EXECUTE FUNCTION ingest.keep_superseded()', target);
    END LOOP;
END
$$;

-- Removes what a batch of `facility` wrote to each core table (the rows carrying its id) and puts
-- back the rows it replaced; the counts per table. The caller makes sure no later batch of the
-- facility has written since (BatchRetraction).
CREATE FUNCTION ingest.retract_rows(batch bigint, facility integer)
RETURNS TABLE (table_name text, removed bigint, restored bigint) LANGUAGE plpgsql AS $$
DECLARE
    columns text;
    picked text;
BEGIN
    FOREACH table_name IN ARRAY ARRAY['emr.patients', 'emr.encounters', 'emr.exams', 'emr.bed_census',
                                      'procurement.purchases', 'referral.referrals'] LOOP
        EXECUTE format('DELETE FROM %s WHERE facility_id = $1 AND batch_id = $2', table_name) USING facility, batch;
        GET DIAGNOSTICS removed = ROW_COUNT;
        -- Every stored column but the generated ones, by name.
        SELECT string_agg(quote_ident(a.attname), ', ' ORDER BY a.attnum), string_agg('r.' || quote_ident(a.attname), ', ' ORDER BY a.attnum)
        INTO columns, picked
        FROM pg_attribute a WHERE a.attrelid = table_name::regclass AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = '';
        EXECUTE format('INSERT INTO %s (%s) SELECT %s FROM ingest.superseded_rows s, jsonb_populate_record(NULL::%s, s.row) r
                        WHERE s.batch_id = $1 AND s.table_name = $2', table_name, columns, picked, table_name)
            USING batch, table_name;
        GET DIAGNOSTICS restored = ROW_COUNT;
        RETURN NEXT;
    END LOOP;
    DELETE FROM referral.status_history h WHERE h.facility_id = facility AND h.batch_id = batch;
    DELETE FROM ingest.superseded_rows s WHERE s.batch_id = batch;
END
$$;

INSERT INTO registry.settings (key, value, description) VALUES
    ('retraction_days', '31',
     'A loaded batch can be retracted (regio batch retract) for this many days after it was decided; the rows it replaced are kept as long.');

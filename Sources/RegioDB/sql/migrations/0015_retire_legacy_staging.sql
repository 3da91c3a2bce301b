-- Files staged by a build older than migrations 0007 and 0008 — their duplicate keys left to the
-- decision, their retractions not counted — are no longer decided by this build. A database still
-- holding such a file in an undecided batch is refused here, naming the batches: let the older
-- build decide them, or delete them, then migrate again. (A file whose staged rows were lost goes
-- back to unreceived, and is staged afresh.)
DO $$
DECLARE
    legacy text;
BEGIN
    SELECT string_agg(DISTINCT f.batch_id::text, ', ') INTO legacy
    FROM ingest.batch_files f JOIN ingest.batches b ON b.id = f.batch_id
    WHERE b.status IN ('receiving', 'queued', 'validating') AND f.received_at IS NOT NULL
      AND (NOT f.duplicates_checked OR f.retractions_sent IS NULL);
    IF legacy IS NOT NULL THEN
        RAISE EXCEPTION 'batches % hold files staged by a Regio build older than migration 0008, which this build no longer decides: let that build decide them, or delete them (DELETE FROM ingest.batches WHERE id IN (%)), then migrate again', legacy, legacy;
    END IF;
END
$$;

-- The batches whose side transaction is prepared but not committed yet (BatchProcessor): the main
-- transaction has committed and marked the batch loaded, but the side's rows (encounters,
-- referrals, rollups) become visible a moment later, when it is committed. Until then the batch
-- reads as `validating` (BatchStore), and its facility's next batch is not taken.
CREATE FUNCTION ingest.pending_side_batches() RETURNS SETOF bigint LANGUAGE sql STABLE AS $$
    SELECT split_part(x.gid, '_batch_', 2)::bigint
    FROM pg_prepared_xacts x JOIN pg_database d ON d.datname = x.database
    WHERE x.database = current_database() AND x.gid LIKE 'regio\_' || d.oid || '\_batch\_%'
$$;

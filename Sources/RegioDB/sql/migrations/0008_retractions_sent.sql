-- How many retractions (op = D) a file sent, counted as it streams, so that the merge knows
-- without scanning staging whether it has any to apply. NULL for a file staged before this
-- migration: the merge then looks for them, as it used to.
ALTER TABLE ingest.batch_files ADD COLUMN retractions_sent integer;

-- A file's duplicate keys are marked as soon as it is staged (they are a check of the file alone),
-- so its upload receipt counts them and the batch's decision starts with the merge. A file staged
-- before this migration was not checked yet; the decision checks it then, as it used to.
ALTER TABLE ingest.batch_files ADD COLUMN duplicates_checked boolean NOT NULL DEFAULT false;

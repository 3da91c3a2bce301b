-- patient-index: the regional patient index in one row: persons, facility records, persons seen at
-- two or more facilities and their share, records by how their current link was made (national ID
-- number, probabilistic score, a steward's decision, first of a new person), the open review
-- queue (size, median and oldest age in days), and loaded batches waiting to be linked. From
-- reports.person_index, the open reviews and the batches' queue.
WITH persons AS (
    SELECT count(*)::bigint AS persons,
           coalesce(sum(records), 0)::bigint AS records,
           count(*) FILTER (WHERE facilities >= 2)::bigint AS shared_persons,
           coalesce(sum(by_id), 0)::bigint AS by_id,
           coalesce(sum(probabilistic), 0)::bigint AS probabilistic,
           coalesce(sum(by_steward), 0)::bigint AS by_steward,
           coalesce(sum(first_records), 0)::bigint AS first_records
    FROM reports.person_index
), queue AS (
    SELECT count(*)::bigint AS open_reviews,
           percentile_disc(0.5) WITHIN GROUP (ORDER BY current_date - created_at::date) AS median_age,
           max(current_date - created_at::date) AS oldest_age
    FROM emr.link_reviews WHERE decided_at IS NULL
)
SELECT p.persons, p.records, p.shared_persons,
       round(100 * p.shared_persons::numeric / nullif(p.persons, 0), 2) AS shared_share,
       p.by_id, p.probabilistic, p.by_steward, p.first_records,
       q.open_reviews, coalesce(q.median_age, 0) AS review_median_days, coalesce(q.oldest_age, 0) AS review_oldest_days,
       (SELECT count(*) FROM ingest.batches WHERE status = 'loaded' AND linked_at IS NULL AND NOT dry_run)::bigint AS batches_to_link
FROM persons p, queue q

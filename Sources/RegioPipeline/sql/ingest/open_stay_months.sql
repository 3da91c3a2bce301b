-- parameters: $1 facility, $2 business_date
-- The months from the facility's latest loaded night to this batch's business date ($2): a stay
-- without a discharge counts its nights up to the latest night, so their rollups change even when
-- the batch sends nothing about the stay. Just the business month when the batch is not newer.
SELECT m::date::text
FROM (SELECT max(business_date) AS night FROM ingest.batches WHERE facility_id = $1 AND status = 'loaded') l,
     generate_series(date_trunc('month', least(coalesce(l.night, $2::date), $2::date)), date_trunc('month', $2::date), interval '1 month') m

-- parameters: $1 facility
-- The months reports.purchase_month holds, or should hold, for one facility ($1; NULL: every
-- facility): those of its purchase lines and those already rolled up, as (facility id, month).
SELECT DISTINCT facility_id, date_trunc('month', purchase_date)::date::text FROM procurement.purchases
WHERE $1::int IS NULL OR facility_id = $1
UNION
SELECT DISTINCT facility_id, month::text FROM reports.purchase_month WHERE $1::int IS NULL OR facility_id = $1

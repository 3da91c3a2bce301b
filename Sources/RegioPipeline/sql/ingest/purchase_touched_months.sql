-- placeholders: {staging}
-- parameters: $1 facility
-- The months whose purchase rollups a batch's purchase lines change: those of the lines it sends
-- and of the stored lines they update or retract. Run before the merge.
SELECT DISTINCT date_trunc('month', s.purchase_date)::date::text FROM {staging} s WHERE s._op = 'U' AND s.purchase_date IS NOT NULL
UNION
SELECT DISTINCT date_trunc('month', p.purchase_date)::date::text
FROM procurement.purchases p JOIN {staging} s ON p.line_id = s.line_id
WHERE p.facility_id = $1

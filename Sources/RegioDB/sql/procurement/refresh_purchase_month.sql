-- parameters: $1 facilities, $2 months
-- Recomputes reports.purchase_month for the given (facility, month) keys from the purchase lines
-- (procurement.priced_lines). $1 facility ids, $2 months (first days), as parallel arrays. Given
-- every key it rebuilds everything, which is how tests check the incremental refresh. Lines with
-- no standard item (unmapped or unknown codes) are not rolled up: the stewards' work list shows them.
-- (Two statements: an INSERT does not see a DELETE of the same statement.)
DELETE FROM reports.purchase_month r
USING unnest($1::int[], $2::date[]) AS k (facility_id, month)
WHERE r.facility_id = k.facility_id AND r.month = k.month;

INSERT INTO reports.purchase_month (facility_id, month, national_code, supplier, base_unit_price, pack_check,
                                    lines, base_units, amount)
SELECT l.facility_id, k.month, l.national_code, l.supplier, l.base_unit_price, l.pack_check,
       count(*), sum(l.base_units), sum(l.amount)
FROM (SELECT DISTINCT facility_id, month FROM unnest($1::int[], $2::date[]) AS k (facility_id, month)) k
JOIN procurement.priced_lines l
  ON l.facility_id = k.facility_id AND l.purchase_date >= k.month AND l.purchase_date < (k.month + interval '1 month')::date
WHERE l.national_code IS NOT NULL
GROUP BY l.facility_id, k.month, l.national_code, l.supplier, l.base_unit_price, l.pack_check

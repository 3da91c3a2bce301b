-- placeholders: {staging}
-- parameters: $1 batch, $2 facility, $3 business_date
-- Upsert by key in plain statements — update what changed, insert what is new, delete what is
-- retracted — rather than INSERT … ON CONFLICT, whose speculative insertion costs more per row.
-- A facility's batches never run at once, so nothing inserts the same key in between. A stored
-- row written by a newer night's extract (as_of) is not overwritten, nor retracted, by an older
-- one. KindMerge counts each statement's rows from its command tag (UPDATE: updated,
-- INSERT: inserted, DELETE: retracted) and skips an UPDATE or DELETE that has nothing to do.

UPDATE procurement.purchases t SET
    item_code = s.item_code, code_system = s.code_system, item_name = s.item_name,
    spec = s.spec, manufacturer = s.manufacturer, purchase_unit = s.purchase_unit,
    pack_size = s.pack_size, base_unit = s.base_unit, unit_price = s.unit_price,
    quantity = s.quantity, amount = s.amount, supplier = s.supplier,
    purchase_date = s.purchase_date, invoice_no = s.invoice_no, vbp = coalesce(s.vbp = '1', false),
    as_of = $3::date, row_hash = s._hash, batch_id = $1
FROM {staging} s
WHERE s._stored AND NOT s._rejected AND s._op = 'U' AND t.facility_id = $2 AND t.line_id = s.line_id
  AND t.row_hash IS DISTINCT FROM s._hash AND t.as_of <= $3::date;

INSERT INTO procurement.purchases (facility_id, line_id, item_code, code_system, item_name, spec, manufacturer,
    purchase_unit, pack_size, base_unit, unit_price, quantity, amount,
    supplier, purchase_date, invoice_no, vbp,
    as_of, row_hash, batch_id)
SELECT $2, s.line_id, s.item_code, s.code_system, s.item_name,
       s.spec, s.manufacturer, s.purchase_unit, s.pack_size, s.base_unit,
       s.unit_price, s.quantity, s.amount, s.supplier, s.purchase_date,
       s.invoice_no, coalesce(s.vbp = '1', false), $3::date, s._hash, $1
FROM {staging} s
WHERE NOT s._rejected AND s._op = 'U'
  AND NOT s._stored;  -- _stored: marked by ingest/mark_stored.sql

DELETE FROM procurement.purchases t USING {staging} s
WHERE s._op = 'D' AND NOT s._rejected AND t.facility_id = $2 AND t.line_id = s.line_id AND t.as_of <= $3::date

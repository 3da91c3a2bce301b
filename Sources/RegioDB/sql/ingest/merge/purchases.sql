-- Upsert by key in plain statements — update what changed, insert what is new, delete what is
-- retracted — rather than INSERT … ON CONFLICT, whose speculative insertion costs more per row;
-- each statement reads staging itself, so no million-row CTE is materialised. A facility's
-- batches never run at once, so nothing inserts the same key in between. A stored row written by
-- a newer night's extract (as_of) is not overwritten, nor retracted, by an older one.
-- Each statement returns (what, how many).
WITH src AS (
    SELECT s.line_id, s.item_code, s.code_system, s.item_name, s.spec, s.manufacturer, s.purchase_unit,
           s.pack_size, s.base_unit, s.unit_price, s.quantity, s.amount, s.supplier, s.purchase_date,
           s.invoice_no, coalesce(s.vbp = '1', false) AS vbp,
           $3::date AS as_of, s._hash AS row_hash
    FROM {staging} s
    WHERE NOT s._rejected AND s._op = 'U'
), done AS (
    UPDATE procurement.purchases t SET
        item_code = src.item_code, code_system = src.code_system, item_name = src.item_name,
        spec = src.spec, manufacturer = src.manufacturer, purchase_unit = src.purchase_unit,
        pack_size = src.pack_size, base_unit = src.base_unit, unit_price = src.unit_price,
        quantity = src.quantity, amount = src.amount, supplier = src.supplier,
        purchase_date = src.purchase_date, invoice_no = src.invoice_no, vbp = src.vbp,
        as_of = src.as_of, row_hash = src.row_hash, batch_id = $1
    FROM src
    WHERE t.facility_id = $2 AND t.line_id = src.line_id
      AND t.row_hash IS DISTINCT FROM src.row_hash AND t.as_of <= src.as_of
    RETURNING 1
)
SELECT 'updated', count(*)::bigint FROM done;

WITH src AS (
    SELECT s.line_id, s.item_code, s.code_system, s.item_name, s.spec, s.manufacturer, s.purchase_unit,
           s.pack_size, s.base_unit, s.unit_price, s.quantity, s.amount, s.supplier, s.purchase_date,
           s.invoice_no, coalesce(s.vbp = '1', false) AS vbp,
           $3::date AS as_of, s._hash AS row_hash
    FROM {staging} s
    WHERE NOT s._rejected AND s._op = 'U'
), done AS (
    INSERT INTO procurement.purchases (facility_id, line_id, item_code, code_system, item_name, spec, manufacturer, purchase_unit, pack_size, base_unit, unit_price, quantity, amount, supplier, purchase_date, invoice_no, vbp, as_of, row_hash, batch_id)
    SELECT $2, src.*, $1 FROM src
    WHERE NOT EXISTS (SELECT 1 FROM procurement.purchases t WHERE t.facility_id = $2 AND t.line_id = src.line_id)
    RETURNING 1
)
SELECT 'inserted', count(*)::bigint FROM done;

WITH done AS (
    DELETE FROM procurement.purchases t USING {staging} s
    WHERE s._op = 'D' AND NOT s._rejected AND t.facility_id = $2 AND t.line_id = s.line_id AND t.as_of <= $3::date
    RETURNING 1
)
SELECT 'retracted', count(*)::bigint FROM done

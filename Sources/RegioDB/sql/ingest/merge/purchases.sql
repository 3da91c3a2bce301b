WITH src AS (
    SELECT s.line_id, s.item_code, s.code_system, s.item_name, s.spec, s.manufacturer, s.purchase_unit,
           s.pack_size, s.base_unit, s.unit_price,
           s.quantity, s.amount, s.supplier,
           s.purchase_date, s.invoice_no, coalesce(s.vbp = '1', false) AS vbp, $3::date AS as_of, s._hash AS row_hash
    FROM {staging} s WHERE NOT s._rejected AND s._op = 'U'
), written AS (
    INSERT INTO procurement.purchases AS t (facility_id, line_id, item_code, code_system, item_name, spec,
                                            manufacturer, purchase_unit, pack_size, base_unit, unit_price, quantity,
                                            amount, supplier, purchase_date, invoice_no, vbp, as_of, row_hash, batch_id)
    SELECT $2, src.*, $1 FROM src
    ON CONFLICT (facility_id, line_id) DO UPDATE SET
        item_code = excluded.item_code, code_system = excluded.code_system, item_name = excluded.item_name,
        spec = excluded.spec, manufacturer = excluded.manufacturer, purchase_unit = excluded.purchase_unit,
        pack_size = excluded.pack_size, base_unit = excluded.base_unit, unit_price = excluded.unit_price,
        quantity = excluded.quantity, amount = excluded.amount, supplier = excluded.supplier,
        purchase_date = excluded.purchase_date, invoice_no = excluded.invoice_no, vbp = excluded.vbp,
        as_of = excluded.as_of, row_hash = excluded.row_hash, batch_id = excluded.batch_id
    WHERE t.row_hash IS DISTINCT FROM excluded.row_hash AND t.as_of <= excluded.as_of
    RETURNING (xmax = 0) AS inserted
), retracted AS (
    DELETE FROM procurement.purchases t USING {staging} s
    WHERE s._op = 'D' AND NOT s._rejected AND t.facility_id = $2 AND t.as_of <= $3::date AND t.line_id = s.line_id
    RETURNING 1
)
SELECT (SELECT count(*) FROM written WHERE inserted)::bigint,
       (SELECT count(*) FROM written WHERE NOT inserted)::bigint,
       (SELECT count(*) FROM retracted)::bigint

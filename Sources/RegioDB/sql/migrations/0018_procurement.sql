-- Procurement alliances (docs/procurement.md): the standard item catalogue, facilities' local item
-- codes mapped to it, the parsed package specifications that check each purchase line's pack
-- size, stewards' decisions on lines that disagree, alliances' agreed prices and volume
-- commitments, the provincial platform's listed prices, and the rollup the four alliance reports
-- read.

-- Standard items keyed by national code (NHSA drug codes, the national consumables code).
-- `pack_size` base units make one `pack_unit`; `base_unit` is the smallest dispensing unit,
-- the unit every price is compared in. `generic_group`: products of one generic, strength and
-- route, whose base units are interchangeable (selected and non-selected products compare there).
CREATE TABLE procurement.items (
    national_code text PRIMARY KEY CHECK (national_code ~ '^[A-Z0-9]{6,40}$'),
    category      text NOT NULL CHECK (category IN ('drug', 'consumable')),
    generic_name  text NOT NULL CHECK (generic_name <> ''),
    generic_group text NOT NULL CHECK (generic_group <> ''),
    dosage_form   text,
    strength      text,
    spec          text,
    pack_size     numeric(14, 6) NOT NULL CHECK (pack_size > 0),
    pack_unit     text NOT NULL CHECK (pack_unit <> ''),
    base_unit     text NOT NULL CHECK (base_unit <> ''),
    manufacturer  text,
    updated_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX items_group ON procurement.items (generic_group);

-- A facility's LOCAL item code and the standard item it is (imported, or a steward's confirmed
-- suggestion).
CREATE TABLE procurement.item_map (
    facility_id   integer NOT NULL REFERENCES registry.facilities (id),
    local_code    text NOT NULL,
    national_code text NOT NULL REFERENCES procurement.items (national_code),
    decided_by    text NOT NULL,
    updated_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (facility_id, local_code)
);

-- Suggestions a steward rejected: not offered again for that local code.
CREATE TABLE procurement.item_map_rejections (
    facility_id   integer NOT NULL REFERENCES registry.facilities (id),
    local_code    text NOT NULL,
    national_code text NOT NULL REFERENCES procurement.items (national_code),
    decided_by    text NOT NULL,
    decided_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (facility_id, local_code, national_code)
);

-- Every spec text seen on a purchase line or in the catalogue, parsed once (RegioCore PackSpec):
-- `count` base units of `base_unit` per pack of `pack_unit` (each NULL when the text does not say),
-- or why it could not be read.
CREATE TABLE procurement.spec_parses (
    spec      text PRIMARY KEY,
    count     numeric(14, 6),
    base_unit text,
    pack_unit text,
    refusal   text
);

-- A steward's word on purchase lines whose pack size disagrees with their spec or the catalogue:
-- `confirmed` lets lines of this facility, code, spec, purchase unit and pack size into the price
-- statistics; `rejected` keeps them out and off the work list.
CREATE TABLE procurement.pack_decisions (
    facility_id   integer NOT NULL REFERENCES registry.facilities (id),
    item_code     text NOT NULL,
    spec          text NOT NULL,  -- '' for none
    purchase_unit text NOT NULL,
    pack_size     numeric(14, 6) NOT NULL,
    decision      text NOT NULL CHECK (decision IN ('confirmed', 'rejected')),
    decided_by    text NOT NULL,
    decided_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (facility_id, item_code, spec, purchase_unit, pack_size)
);

-- Agreements run in whole calendar months (docs/procurement.md): from the first day of a month to
-- the last day of a month, or open-ended.
CREATE FUNCTION procurement.whole_months(first date, last date) RETURNS boolean IMMUTABLE LANGUAGE sql AS $$
    SELECT extract(day FROM first) = 1 AND (last IS NULL OR (last + 1 > first AND extract(day FROM last + 1) = 1))
$$;

-- An alliance's agreed price per base unit of an item, valid over whole months; the periods of one
-- alliance and item never overlap (checked by ProcurementStore before it writes).
CREATE TABLE procurement.agreed_prices (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    alliance_id   integer NOT NULL REFERENCES registry.alliances (id) ON DELETE CASCADE,
    national_code text NOT NULL REFERENCES procurement.items (national_code),
    price         numeric(14, 6) NOT NULL CHECK (price > 0),
    valid_from    date NOT NULL,
    valid_to      date,
    updated_at    timestamptz NOT NULL DEFAULT now(),
    UNIQUE (alliance_id, national_code, valid_from),
    CHECK (procurement.whole_months(valid_from, valid_to))
);

-- Volume-based procurement (集中带量采购): a member's committed base units of a selected product
-- over the agreement cycle (whole months).
CREATE TABLE procurement.commitments (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    alliance_id     integer NOT NULL REFERENCES registry.alliances (id) ON DELETE CASCADE,
    facility_id     integer NOT NULL REFERENCES registry.facilities (id),
    national_code   text NOT NULL REFERENCES procurement.items (national_code),
    cycle_start     date NOT NULL,
    cycle_end       date NOT NULL,
    committed_units numeric(16, 2) NOT NULL CHECK (committed_units > 0),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (alliance_id, facility_id, national_code, cycle_start),
    CHECK (procurement.whole_months(cycle_start, cycle_end))
);

-- The provincial platform's listed prices per base unit (挂网价), optional: shown beside the
-- alliance's own reference.
CREATE TABLE procurement.listed_prices (
    national_code text NOT NULL REFERENCES procurement.items (national_code),
    price         numeric(14, 6) NOT NULL CHECK (price > 0),
    valid_from    date NOT NULL,
    valid_to      date,
    source        text NOT NULL DEFAULT 'provincial platform',
    PRIMARY KEY (national_code, valid_from),
    CHECK (procurement.whole_months(valid_from, valid_to))
);

-- Alliance credentials that may change their own alliance's agreements (the alliance's
-- administrators); admins may change every alliance's.
ALTER TABLE registry.credentials ADD COLUMN manages_agreements boolean NOT NULL DEFAULT false
    CHECK (NOT manages_agreements OR role = 'alliance');

CREATE INDEX purchases_facility_date ON procurement.purchases (facility_id, purchase_date);

-- Each purchase line with its standard item (its own national code, or its LOCAL code's mapping),
-- its base units and amount, and whether its pack size can be trusted:
--   ok | confirmed (a steward's word) — counted in the price statistics;
--   base_unit      — its base unit is not the item's;
--   pack_spec      — its pack size disagrees with its own spec (`0.25g*24片/盒` bought per 盒 at 1);
--   pack_catalogue — bought in the catalogue's pack unit at another pack size;
--   rejected       — a steward kept it out;
--   unmapped | unknown_item — no standard item (a LOCAL code without mapping; a code not in the catalogue).
CREATE VIEW procurement.priced_lines AS
SELECT p.facility_id, p.line_id, p.purchase_date, p.supplier, p.item_code, p.code_system, i.national_code,
       p.quantity * p.pack_size AS base_units,
       p.unit_price * p.quantity AS amount,
       p.base_unit_price,
       CASE
           WHEN i.national_code IS NULL THEN CASE WHEN p.code_system = 'LOCAL' AND m.local_code IS NULL THEN 'unmapped' ELSE 'unknown_item' END
           WHEN d.decision IS NOT NULL THEN d.decision
           WHEN p.base_unit <> i.base_unit THEN 'base_unit'
           WHEN s.count IS NOT NULL AND p.purchase_unit = s.base_unit AND p.pack_size <> 1 THEN 'pack_spec'
           WHEN s.count IS NOT NULL AND p.purchase_unit IS DISTINCT FROM s.base_unit
                AND (s.pack_unit IS NULL OR s.pack_unit = p.purchase_unit) AND p.pack_size <> s.count THEN 'pack_spec'
           WHEN p.purchase_unit = i.pack_unit AND p.pack_size <> i.pack_size THEN 'pack_catalogue'
           ELSE 'ok'
       END AS pack_check
FROM procurement.purchases p
LEFT JOIN procurement.item_map m ON p.code_system = 'LOCAL' AND m.facility_id = p.facility_id AND m.local_code = p.item_code
LEFT JOIN procurement.items i ON i.national_code = CASE WHEN p.code_system = 'NHSA' THEN p.item_code ELSE m.national_code END
LEFT JOIN procurement.spec_parses s ON s.spec = p.spec
LEFT JOIN procurement.pack_decisions d
       ON d.facility_id = p.facility_id AND d.item_code = p.item_code AND d.spec = coalesce(p.spec, '')
      AND d.purchase_unit = p.purchase_unit AND d.pack_size = p.pack_size;

-- Per facility, month, item, supplier, price per base unit and pack check: the purchase lines the
-- alliance reports read, kept by each batch for the months it touches.
CREATE TABLE reports.purchase_month (
    facility_id     integer NOT NULL,
    month           date NOT NULL,
    national_code   text NOT NULL,
    supplier        text NOT NULL,
    base_unit_price numeric NOT NULL,
    pack_check      text NOT NULL,
    lines           integer NOT NULL,
    base_units      numeric NOT NULL,
    amount          numeric NOT NULL,
    PRIMARY KEY (facility_id, month, national_code, supplier, base_unit_price, pack_check)
);
CREATE INDEX purchase_month_item ON reports.purchase_month (national_code, month);

-- The p-th quantile (0 … 1) of sorted values, interpolated between the two nearest (as
-- percentile_cont does, but exact on numeric); NULL for none.
CREATE FUNCTION reports.quantile(sorted numeric[], p numeric) RETURNS numeric IMMUTABLE LANGUAGE sql AS $$
    -- One expression, so that the planner inlines it: h = (n − 1) × p, 1-based index floor(h) + 1.
    SELECT CASE WHEN cardinality(sorted) > 0 THEN
        sorted[floor((cardinality(sorted) - 1) * p)::int + 1]
        + ((cardinality(sorted) - 1) * p - floor((cardinality(sorted) - 1) * p))
          * (sorted[least(floor((cardinality(sorted) - 1) * p)::int + 2, cardinality(sorted))]
             - sorted[floor((cardinality(sorted) - 1) * p)::int + 1])
    END
$$;

-- The purchase rollup rows of an alliance's members (every alliance's when `alliance` is NULL) for
-- the months of a period, with whether they count in price statistics: what the four alliance
-- reports start from. A facility in two alliances is counted in each.
CREATE FUNCTION reports.alliance_purchases(alliance text, first_month date, last_month date)
RETURNS TABLE (alliance_id integer, alliance_code text, facility_id integer, month date, national_code text, supplier text,
               base_unit_price numeric, comparable boolean, lines integer, base_units numeric, amount numeric)
LANGUAGE sql STABLE AS $$
    SELECT a.id, a.code, r.facility_id, r.month, r.national_code, r.supplier, r.base_unit_price,
           r.pack_check IN ('ok', 'confirmed'), r.lines, r.base_units, r.amount
    FROM registry.alliances a
    JOIN registry.alliance_members m ON m.alliance_id = a.id
    JOIN reports.purchase_month r ON r.facility_id = m.facility_id
    WHERE (alliance IS NULL OR a.code = alliance) AND r.month BETWEEN first_month AND last_month
$$;

-- The q-th quantile (0 … 1) of values each counted as often as `counts` says (a price point and
-- its lines), interpolated as reports.quantile is over the values written out; NULL for none.
CREATE FUNCTION reports.weighted_quantile(vals numeric[], counts bigint[], q numeric) RETURNS numeric IMMUTABLE LANGUAGE plpgsql AS $$
DECLARE
    total bigint;
    h numeric;
    k bigint;
    seen bigint := 0;
    lo numeric;
    hi numeric;
    x numeric;
    c bigint;
BEGIN
    SELECT sum(u.c) INTO total FROM unnest(counts) AS u (c) WHERE u.c > 0;
    IF total IS NULL THEN RETURN NULL; END IF;
    h := (total - 1) * q;
    k := floor(h);
    -- The values at (0-based) positions k and k + 1 of the values written out in order.
    FOR x, c IN SELECT u.x, u.c FROM unnest(vals, counts) AS u (x, c) WHERE u.c > 0 ORDER BY u.x LOOP
        seen := seen + c;
        IF lo IS NULL AND seen > k THEN lo := x; END IF;
        IF seen > k + 1 THEN hi := x; EXIT; END IF;
    END LOOP;
    RETURN lo + (h - k) * (coalesce(hi, lo) - lo);
END
$$;

-- The alliance's agreed price and the listed price of an item in force in a month (their
-- validity covers it), or NULL.
CREATE FUNCTION reports.prices_in_force(alliance integer, item text, in_month date)
RETURNS TABLE (agreed_price numeric, listed_price numeric) LANGUAGE sql STABLE AS $$
    SELECT (SELECT a.price FROM procurement.agreed_prices a
            WHERE a.alliance_id = alliance AND a.national_code = item AND a.valid_from <= in_month
              AND (a.valid_to IS NULL OR a.valid_to >= in_month)),
           (SELECT l.price FROM procurement.listed_prices l
            WHERE l.national_code = item AND l.valid_from <= in_month AND (l.valid_to IS NULL OR l.valid_to >= in_month))
$$;

-- Per alliance, member, month and item: the member's quantity-weighted price per base unit
-- (Σ amount ÷ Σ base units of its comparable lines) and its price points (price, base units,
-- lines, supplier), its lines left out (pack in doubt); across the members buying the item that
-- month their count, sorted prices, mean and population standard deviation; and the item's
-- reference that month — the alliance's agreed price in force (its validity covers the month),
-- otherwise the median of the members' prices — with the listed price in force. Shared by
-- price-comparison and price-outliers. Item statistics are window functions over the member rows,
-- not a join back to them; the function is opaque to the planner (plpgsql) with a row estimate,
-- so that what joins its rows is planned for thousands of them.
CREATE FUNCTION reports.member_prices(alliance text, first_month date, last_month date)
RETURNS TABLE (alliance_id integer, alliance_code text, facility_id integer, month date, national_code text,
               lines bigint, base_units numeric, amount numeric, price numeric, flagged_lines bigint,
               point_prices numeric[], point_units numeric[], point_lines bigint[], point_suppliers text[],
               members bigint, prices numeric[], mean numeric, sd numeric,
               agreed_price numeric, listed_price numeric, reference_price numeric, reference_source text)
LANGUAGE plpgsql STABLE ROWS 5000 AS $$
#variable_conflict use_column
BEGIN
    RETURN QUERY
    WITH by_member AS (
        SELECT p.alliance_id, p.alliance_code, p.facility_id, p.month, p.national_code,
               sum(p.lines) FILTER (WHERE p.comparable)::bigint AS lines,
               sum(p.base_units) FILTER (WHERE p.comparable) AS base_units,
               sum(p.amount) FILTER (WHERE p.comparable) AS amount,
               coalesce(sum(p.lines) FILTER (WHERE NOT p.comparable), 0)::bigint AS flagged_lines,
               array_agg(p.base_unit_price) FILTER (WHERE p.comparable) AS point_prices,
               array_agg(p.base_units) FILTER (WHERE p.comparable) AS point_units,
               array_agg(p.lines::bigint) FILTER (WHERE p.comparable) AS point_lines,
               array_agg(p.supplier) FILTER (WHERE p.comparable) AS point_suppliers
        FROM reports.alliance_purchases(alliance, first_month, last_month) p
        GROUP BY p.alliance_id, p.alliance_code, p.facility_id, p.month, p.national_code
        HAVING sum(p.base_units) FILTER (WHERE p.comparable) > 0
    ), priced AS (
        SELECT m.*, m.amount / m.base_units AS price FROM by_member m
    ), stats AS (
        SELECT d.*,
               count(*) OVER w AS members,
               array_agg(d.price) OVER (w ORDER BY d.price ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING) AS prices,
               avg(d.price) OVER w AS mean,
               stddev_pop(d.price) OVER w AS sd
        FROM priced d
        WINDOW w AS (PARTITION BY d.alliance_id, d.month, d.national_code)
    )
    SELECT s.alliance_id, s.alliance_code, s.facility_id, s.month, s.national_code, s.lines, s.base_units, s.amount, s.price,
           s.flagged_lines, s.point_prices, s.point_units, s.point_lines, s.point_suppliers, s.members, s.prices, s.mean, s.sd,
           f.agreed_price, f.listed_price, coalesce(f.agreed_price, reports.quantile(s.prices, 0.5)),
           CASE WHEN f.agreed_price IS NULL THEN 'median' ELSE 'agreed' END
    FROM stats s
    CROSS JOIN LATERAL reports.prices_in_force(s.alliance_id, s.national_code, s.month) f;
END
$$;

-- Per alliance, month and item, over the members' comparable lines (each line one value): the
-- median price per base unit and the median absolute deviation from it, with the members buying,
-- lines, base units and amount, and the agreed and listed prices in force. Shared by
-- price-outliers and price-trend.
CREATE FUNCTION reports.item_lines(alliance text, first_month date, last_month date)
RETURNS TABLE (alliance_id integer, alliance_code text, month date, national_code text, members bigint, lines bigint,
               base_units numeric, amount numeric, median numeric, mad numeric, agreed_price numeric, listed_price numeric)
LANGUAGE plpgsql STABLE ROWS 1000 AS $$
#variable_conflict use_column
BEGIN
    RETURN QUERY
    WITH items AS (
        SELECT p.alliance_id, p.alliance_code, p.month, p.national_code, count(DISTINCT p.facility_id) AS members,
               sum(p.lines)::bigint AS lines, sum(p.base_units) AS base_units, sum(p.amount) AS amount,
               array_agg(p.base_unit_price) AS prices, array_agg(p.lines::bigint) AS counts
        FROM reports.alliance_purchases(alliance, first_month, last_month) p
        WHERE p.comparable
        GROUP BY p.alliance_id, p.alliance_code, p.month, p.national_code
    ), medians AS (
        SELECT i.*, reports.weighted_quantile(i.prices, i.counts, 0.5) AS median FROM items i
    )
    SELECT m.alliance_id, m.alliance_code, m.month, m.national_code, m.members, m.lines, m.base_units, m.amount, m.median,
           (SELECT reports.weighted_quantile(array_agg(abs(x - m.median)), array_agg(c), 0.5) FROM unnest(m.prices, m.counts) AS u (x, c)),
           f.agreed_price, f.listed_price
    FROM medians m
    CROSS JOIN LATERAL reports.prices_in_force(m.alliance_id, m.national_code, m.month) f;
END
$$;

INSERT INTO registry.settings (key, value, description) VALUES
    ('price_tolerance_percent', '10',
     'price-outliers: a purchase above the reference price by more than this share is an outlier.'),
    ('price_modified_z', '3.5',
     'price-outliers: a purchase whose modified z-score among the lines of its item and month exceeds this is an outlier.');

CREATE OR REPLACE FUNCTION registry.grant_service_roles() RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'regio_query_writer') THEN
        GRANT USAGE ON SCHEMA reports, audit, emr, procurement, registry TO regio_query_writer;
        -- Thresholds: read and change the value and comparator of an existing row, nothing else.
        GRANT SELECT ON reports.thresholds TO regio_query_writer;
        GRANT UPDATE (threshold, comparator, updated_at) ON reports.thresholds TO regio_query_writer;
        GRANT INSERT ON audit.events TO regio_query_writer;
        GRANT SELECT ON emr.link_reviews, emr.persons, emr.steward_actions, emr.facility_names TO regio_query_writer;
        GRANT INSERT (kind, review_id, person_id, into_person, records, reason, actor) ON emr.steward_actions TO regio_query_writer;
        -- Alliances' agreements, stewards' item mappings and pack decisions, and the rollup they
        -- change (recomputed for the facility a decision concerns).
        GRANT SELECT ON registry.alliances, registry.alliance_members, registry.facilities TO regio_query_writer;
        GRANT SELECT ON ALL TABLES IN SCHEMA procurement TO regio_query_writer;
        GRANT INSERT, UPDATE, DELETE ON procurement.agreed_prices, procurement.commitments, procurement.listed_prices,
            procurement.item_map, procurement.item_map_rejections, procurement.pack_decisions TO regio_query_writer;
        GRANT SELECT, INSERT, DELETE ON reports.purchase_month TO regio_query_writer;
    END IF;
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'regio_lookup') THEN
        GRANT USAGE ON SCHEMA emr, audit TO regio_lookup;
        GRANT SELECT ON ALL TABLES IN SCHEMA emr TO regio_lookup;
        GRANT INSERT ON audit.lookups TO regio_lookup;
    END IF;
END
$$;

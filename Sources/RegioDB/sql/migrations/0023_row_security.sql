-- Row-level security, enabled and forced, on the patient-level tables the query service reads:
-- a hospital's records (emr.patients, emr.encounters, emr.exams, emr.exam_registry), the
-- referrals it sent or received, and the raw values of its batches' row errors and rejected rows.
--
-- The reporting role (regio_query) sees only the facilities of the transaction's scope, which the
-- service sets from the caller before it reads (`set_config('regio.scope', …, true)`, RegioDB's
-- `Database.withScope`): '*' (the bureau, stewards, administrators), 'facility:<code>', or
-- 'alliance:<code>' (its member facilities). Without a scope it sees nothing. The lookup role
-- (regio_lookup) sees its facility's records, and a person's records elsewhere only when its
-- facility is entitled to that person: it holds a record of them, or a running emergency grant
-- (emr.entitled). The other query roles read none of these tables. The application's own checks
-- stay the first wall; this one holds when a query forgets its facility filter.
-- Each table's owner (migrations, administration commands) and the ingestion service see every
-- row; the ingestion service is limited by its grants (migration 0022).

-- The scope's facility ids, and whether it is the whole region. Security definer: the lookup role
-- reads no registry table; these return ids only.
CREATE FUNCTION registry.scope_all() RETURNS boolean
    LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    SELECT coalesce(current_setting('regio.scope', true), '') = '*'
$$;

CREATE FUNCTION registry.scope_facilities() RETURNS integer[]
    LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    WITH scope AS (SELECT split_part(coalesce(current_setting('regio.scope', true), ''), ':', 1) AS kind,
                          substr(coalesce(current_setting('regio.scope', true), ''),
                                 strpos(coalesce(current_setting('regio.scope', true), ''), ':') + 1) AS code)
    SELECT coalesce(array_agg(f.id), '{}')
    FROM scope s JOIN registry.facilities f ON
        (s.kind = 'facility' AND f.code = s.code)
        OR (s.kind = 'alliance' AND f.id IN (SELECT m.facility_id FROM registry.alliance_members m
                                             JOIN registry.alliances a ON a.id = m.alliance_id WHERE a.code = s.code))
        OR (s.kind = '*')
$$;

-- Whether the scope's facility (a facility scope only) is entitled to the person's records
-- elsewhere: it holds a record of the person, or a running emergency grant for them.
CREATE FUNCTION emr.entitled(person bigint) RETURNS boolean
    LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    SELECT person IS NOT NULL AND current_setting('regio.scope', true) LIKE 'facility:%' AND (
        EXISTS (SELECT 1 FROM emr.patients p
                WHERE p.person_id = person AND p.facility_id = ANY (registry.scope_facilities()))
        OR EXISTS (SELECT 1 FROM emr.emergency_grants g
                   WHERE g.person_id = person AND g.facility_id = ANY (registry.scope_facilities()) AND g.expires_at > now()))
$$;

REVOKE ALL ON FUNCTION registry.scope_all(), registry.scope_facilities(), emr.entitled(bigint) FROM PUBLIC;

-- Enables and forces row-level security on each table, and (re)makes its policies for the service
-- roles that exist: run by every `regio migrate` after the grants (MigrationRunner), so a role
-- created later gets its policies at the next one. Each table's owner and the ingestion service
-- see every row; the query roles what the scope allows. The scope functions sit in scalar
-- subqueries, so each statement evaluates them once, not per row.
CREATE FUNCTION registry.apply_row_security() RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    t text;
    owner text;
    scoped text;
    readers text := (SELECT string_agg(quote_ident(r), ', ') FROM unnest(ARRAY['regio_query', 'regio_lookup']) r
                     WHERE EXISTS (SELECT 1 FROM pg_roles WHERE rolname = r));
BEGIN
    IF readers IS NOT NULL THEN
        EXECUTE format('GRANT EXECUTE ON FUNCTION registry.scope_all(), registry.scope_facilities() TO %s', readers);
    END IF;
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'regio_lookup') THEN
        GRANT EXECUTE ON FUNCTION emr.entitled(bigint) TO regio_lookup;
    END IF;
    FOREACH t IN ARRAY ARRAY['emr.patients', 'emr.encounters', 'emr.exams', 'emr.exam_registry', 'referral.referrals',
                             'ingest.row_errors', 'ingest.rejected_rows'] LOOP
        owner := (SELECT pg_get_userbyid(relowner) FROM pg_class WHERE oid = t::regclass);
        EXECUTE format('ALTER TABLE %s ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %s FORCE ROW LEVEL SECURITY', t);
        EXECUTE format('DROP POLICY IF EXISTS owner_all ON %s', t);
        EXECUTE format('CREATE POLICY owner_all ON %s TO %I USING (true) WITH CHECK (true)', t, owner);
        scoped := CASE
            WHEN t = 'referral.referrals' THEN
                '(facility_id = ANY ((SELECT registry.scope_facilities())::integer[]) OR to_facility_id = ANY ((SELECT registry.scope_facilities())::integer[]))'
            WHEN t LIKE 'ingest.%' THEN
                '(EXISTS (SELECT 1 FROM ingest.batches b WHERE b.id = batch_id AND b.facility_id = ANY ((SELECT registry.scope_facilities())::integer[])))'
            ELSE '(facility_id = ANY ((SELECT registry.scope_facilities())::integer[]))'
        END;
        EXECUTE format('DROP POLICY IF EXISTS ingest_all ON %s', t);
        IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'regio_ingest') THEN
            EXECUTE format('CREATE POLICY ingest_all ON %s TO regio_ingest USING (true) WITH CHECK (true)', t);
        END IF;
        EXECUTE format('DROP POLICY IF EXISTS scoped_read ON %s', t);
        -- The reporting role; the other query roles read none of these tables (no grant, and no policy).
        IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'regio_query') THEN
            EXECUTE format('CREATE POLICY scoped_read ON %s FOR SELECT TO regio_query USING ((SELECT registry.scope_all()) OR %s)', t, scoped);
        END IF;
        -- The lookup role: its facility's rows, and a person's records elsewhere when the
        -- facility is entitled to that person.
        EXECUTE format('DROP POLICY IF EXISTS entitled_read ON %s', t);
        IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'regio_lookup') AND t LIKE 'emr.%' THEN
            EXECUTE format('CREATE POLICY entitled_read ON %s FOR SELECT TO regio_lookup USING (%s OR %s)', t, scoped, CASE
                WHEN t IN ('emr.patients', 'emr.exam_registry') THEN 'emr.entitled(person_id)'
                ELSE 'EXISTS (SELECT 1 FROM emr.patients p WHERE p.facility_id = ' || t || '.facility_id AND p.patient_id = '
                     || t || '.patient_id AND emr.entitled(p.person_id))'
            END);
        END IF;
    END LOOP;
END
$$;
SELECT registry.apply_row_security();

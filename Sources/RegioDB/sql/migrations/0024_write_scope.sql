-- Row-level security on what the ingestion service writes, and on the patient index.
--
-- The ingestion service (regio_ingest) reads every row: linking a person, matching a referral and
-- placing a repeated exam compare records across facilities. It writes only under a write scope
-- its transaction sets (`set_config('regio.writes', …, true)`, RegioDB's `WriteScope`):
--   * '<facility id>' — a batch's upload, checks, merge, linking and retraction: the rows of that
--     facility, and of that facility's batches (row errors, rejected rows), nothing else;
--   * 'region' — the derivations that cross facilities by design, each in a statement of its
--     own: the referral completions it finds (an UPDATE of the sender's referral), the exam
--     registry (derived from every facility's exams), and the stewards' queued decisions (a
--     record's person, its history row, the review's outcome). Under 'region' nothing may insert
--     or delete a facility's own records.
-- Without a write scope it writes no patient-level row. Like the readers' scope, this wall holds
-- when a statement forgets its facility filter; it does not hold against a service that sets
-- the scope to what it likes.
--
-- The patient index (emr.persons, emr.person_links, emr.link_reviews, emr.match_keys) gets row-level
-- security too: the reporting role sees a person with a record in its scope (the whole index for
-- the region scope), a facility's lookup the persons it is entitled to, and the stewards'
-- writer role the index only in the region scope.

-- The facility whose rows the transaction may write, or null.
CREATE FUNCTION registry.write_facility() RETURNS integer
    LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT CASE WHEN s ~ '^[0-9]{1,9}$' THEN s::integer END
    FROM (SELECT coalesce(current_setting('regio.writes', true), '') AS s) w
$$;

-- Whether the transaction runs a cross-facility derivation.
CREATE FUNCTION registry.writes_region() RETURNS boolean
    LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT coalesce(current_setting('regio.writes', true), '') = 'region'
$$;

REVOKE ALL ON FUNCTION registry.write_facility(), registry.writes_region() FROM PUBLIC;

-- The person with this ID number's hash, for the lookup role, which reads only the persons its
-- facility is entitled to: the emergency access it audits must find a person it is not yet
-- entitled to. Returns the id only.
CREATE FUNCTION emr.person_with_number(hash text) RETURNS bigint
    LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    SELECT id FROM emr.persons WHERE id_hash = hash
$$;
REVOKE ALL ON FUNCTION emr.person_with_number(text) FROM PUBLIC;

-- Every `regio migrate` runs this after the grants (MigrationRunner). For each patient-level
-- table: security enabled and forced; its owner sees and writes every row; the ingestion service
-- reads every row and writes as its write scope allows (`region`: the commands the region scope
-- may run on the table as well); the reporting role reads its scope's rows; the lookup role its
-- facility's rows and the persons it is entitled to; the stewards' writer role (which reads the
-- review queue and the index) the region scope only. The scope functions sit in scalar
-- subqueries, so each statement evaluates them once, not per row.
CREATE OR REPLACE FUNCTION registry.apply_row_security() RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    t text;
    owner text;
    scoped text;
    mine text;
    region text[];
    command text;
    allowed text;
    facility_scope constant text := '(facility_id = ANY ((SELECT registry.scope_facilities())::integer[]))';
    write_facility constant text := '(facility_id = (SELECT registry.write_facility()))';
    readers text := (SELECT string_agg(quote_ident(r), ', ') FROM unnest(ARRAY['regio_query', 'regio_lookup', 'regio_query_writer']) r
                     WHERE EXISTS (SELECT 1 FROM pg_roles WHERE rolname = r));
BEGIN
    IF readers IS NOT NULL THEN
        EXECUTE format('GRANT EXECUTE ON FUNCTION registry.scope_all(), registry.scope_facilities() TO %s', readers);
    END IF;
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'regio_lookup') THEN
        GRANT EXECUTE ON FUNCTION emr.entitled(bigint), emr.person_with_number(text) TO regio_lookup;
    END IF;
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'regio_ingest') THEN
        GRANT EXECUTE ON FUNCTION registry.write_facility(), registry.writes_region() TO regio_ingest;
    END IF;
    FOREACH t IN ARRAY ARRAY['emr.patients', 'emr.encounters', 'emr.exams', 'emr.exam_registry', 'referral.referrals',
                             'ingest.row_errors', 'ingest.rejected_rows',
                             'emr.persons', 'emr.person_links', 'emr.link_reviews', 'emr.match_keys'] LOOP
        owner := (SELECT pg_get_userbyid(relowner) FROM pg_class WHERE oid = t::regclass);
        EXECUTE format('ALTER TABLE %s ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %s FORCE ROW LEVEL SECURITY', t);
        EXECUTE format('DROP POLICY IF EXISTS owner_all ON %s', t);
        EXECUTE format('CREATE POLICY owner_all ON %s TO %I USING (true) WITH CHECK (true)', t, owner);

        -- The ingestion service: every row to read; to write, its facility's rows, and the
        -- region scope's commands on this table.
        mine := CASE
            WHEN t LIKE 'ingest.%' THEN
                '(batch_id IN (SELECT b.id FROM ingest.batches b WHERE b.facility_id = (SELECT registry.write_facility())))'
            -- A person belongs to no facility: any write scope may create one or move its ID number.
            WHEN t = 'emr.persons' THEN '((SELECT registry.write_facility()) IS NOT NULL)'
            ELSE write_facility
        END;
        region := CASE t
            WHEN 'emr.patients' THEN ARRAY['UPDATE']                       -- a steward moves a record to another person
            WHEN 'referral.referrals' THEN ARRAY['UPDATE']                 -- the completion a receiver's visit gives
            WHEN 'emr.exam_registry' THEN ARRAY['INSERT', 'UPDATE', 'DELETE'] -- derived from every facility's exams
            WHEN 'emr.persons' THEN ARRAY['INSERT', 'UPDATE', 'DELETE']      -- a steward's split or merge
            WHEN 'emr.person_links' THEN ARRAY['INSERT']                   -- the history row of a steward's decision
            WHEN 'emr.link_reviews' THEN ARRAY['UPDATE']                   -- a review's decision
            ELSE ARRAY[]::text[]
        END;
        FOREACH command IN ARRAY ARRAY['ALL', 'SELECT', 'INSERT', 'UPDATE', 'DELETE'] LOOP
            EXECUTE format('DROP POLICY IF EXISTS %I ON %s', 'ingest_' || lower(command), t);
        END LOOP;
        IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'regio_ingest') THEN
            EXECUTE format('CREATE POLICY ingest_select ON %s FOR SELECT TO regio_ingest USING (true)', t);
            FOREACH command IN ARRAY ARRAY['INSERT', 'UPDATE', 'DELETE'] LOOP
                allowed := CASE WHEN command = ANY (region) THEN '(' || mine || ' OR (SELECT registry.writes_region()))' ELSE mine END;
                EXECUTE format('CREATE POLICY %I ON %s FOR %s TO regio_ingest %s', 'ingest_' || lower(command), t, command,
                               CASE command WHEN 'INSERT' THEN format('WITH CHECK %s', allowed)
                                            WHEN 'UPDATE' THEN format('USING %s WITH CHECK %s', allowed, allowed)
                                            ELSE format('USING %s', allowed) END);
            END LOOP;
        END IF;

        -- The reporting role: the scope's rows.
        scoped := CASE
            WHEN t = 'referral.referrals' THEN
                '(' || facility_scope || ' OR to_facility_id = ANY ((SELECT registry.scope_facilities())::integer[]))'
            WHEN t LIKE 'ingest.%' THEN
                '(EXISTS (SELECT 1 FROM ingest.batches b WHERE b.id = batch_id AND b.facility_id = ANY ((SELECT registry.scope_facilities())::integer[])))'
            WHEN t = 'emr.persons' THEN
                '(EXISTS (SELECT 1 FROM emr.patients p WHERE p.person_id = persons.id AND p.facility_id = ANY ((SELECT registry.scope_facilities())::integer[])))'
            ELSE facility_scope
        END;
        EXECUTE format('DROP POLICY IF EXISTS scoped_read ON %s', t);
        IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'regio_query') THEN
            EXECUTE format('CREATE POLICY scoped_read ON %s FOR SELECT TO regio_query USING ((SELECT registry.scope_all()) OR %s)', t, scoped);
        END IF;

        -- The lookup role: its facility's rows, and a person's records elsewhere when the
        -- facility is entitled to that person.
        EXECUTE format('DROP POLICY IF EXISTS entitled_read ON %s', t);
        IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'regio_lookup') AND t LIKE 'emr.%' THEN
            EXECUTE format('CREATE POLICY entitled_read ON %s FOR SELECT TO regio_lookup USING (%s)', t, CASE
                WHEN t = 'emr.persons' THEN 'emr.entitled(id)'
                WHEN t IN ('emr.patients', 'emr.exam_registry') THEN facility_scope || ' OR emr.entitled(person_id)'
                ELSE facility_scope || ' OR EXISTS (SELECT 1 FROM emr.patients p WHERE p.facility_id = ' || t || '.facility_id AND p.patient_id = '
                     || t || '.patient_id AND emr.entitled(p.person_id))'
            END);
        END IF;

        -- The stewards' writer role reads the review queue and the index, in the region scope.
        EXECUTE format('DROP POLICY IF EXISTS region_read ON %s', t);
        IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'regio_query_writer') AND t IN ('emr.persons', 'emr.link_reviews') THEN
            EXECUTE format('CREATE POLICY region_read ON %s FOR SELECT TO regio_query_writer USING ((SELECT registry.scope_all()))', t);
        END IF;
    END LOOP;
END
$$;
SELECT registry.apply_row_security();


-- The ingestion service logs in as `regio_ingest`, a role that owns nothing, has no BYPASSRLS and
-- holds only what the ingest path needs (granted below); the migrations, and nothing else, run as
-- the owner. The two things the path did as the owner get narrow doors instead:
--   * its scratch tables: CREATE on the `staging` schema only (a staged file's table is created,
--     analyzed and dropped by the service, so it owns those while they live);
--   * the ANALYZE of a core table its merge has grown within the transaction (GrownTables):
--     ingest.analyze_grown, a security definer function that analyzes only those five tables.
CREATE FUNCTION ingest.analyze_grown(target regclass) RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF target NOT IN ('emr.patients'::regclass, 'emr.encounters'::regclass, 'referral.referrals'::regclass,
                      'emr.persons'::regclass, 'emr.match_keys'::regclass) THEN
        RAISE EXCEPTION 'ingest.analyze_grown analyzes only the core tables a merge grows, not %', target
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    EXECUTE format('ANALYZE %s', target);
END
$$;
REVOKE ALL ON FUNCTION ingest.analyze_grown(regclass) FROM PUBLIC;

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
        -- Emergency access: the grants it checks (emr is readable) and writes, and their length.
        GRANT INSERT ON emr.emergency_grants TO regio_lookup;
        GRANT USAGE ON SCHEMA registry TO regio_lookup;
        GRANT SELECT ON registry.settings TO regio_lookup;
    END IF;
    -- Sign-in, sessions and the administration of users: read and write the accounts, read the
    -- registry names they refer to and the settings that bound them, append audit rows.
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'regio_web') THEN
        GRANT USAGE ON SCHEMA accounts, registry, audit TO regio_web;
        GRANT SELECT, INSERT, UPDATE ON accounts.users TO regio_web;
        GRANT SELECT, INSERT, UPDATE, DELETE ON accounts.sessions TO regio_web;
        GRANT SELECT ON registry.facilities, registry.alliances, registry.settings TO regio_web;
        GRANT INSERT ON audit.events TO regio_web;
    END IF;
    -- The ingestion service (uploads, decisions, the linker, the rollups it refreshes): reads the
    -- registry and its tokens, writes the batches and what they load, scratch tables in `staging`
    -- (which it then owns, and drops after the decision), audit rows; the ANALYZE its merge needs
    -- through ingest.analyze_grown. It owns nothing else and changes no registry, agreement,
    -- threshold, account or steward's decision.
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'regio_ingest') THEN
        GRANT USAGE ON SCHEMA registry, ingest, emr, referral, procurement, reports, audit TO regio_ingest;
        GRANT USAGE, CREATE ON SCHEMA staging TO regio_ingest;
        GRANT SELECT ON public.regio_migrations TO regio_ingest;
        GRANT SELECT ON registry.regions, registry.facilities, registry.alliances, registry.alliance_members,
            registry.settings, registry.credentials TO regio_ingest;
        GRANT SELECT, INSERT, UPDATE, DELETE ON ingest.batches, ingest.batch_files, ingest.batch_checks, ingest.instances,
            ingest.rejected_rows, ingest.row_errors, ingest.superseded_rows TO regio_ingest;
        GRANT SELECT, INSERT, UPDATE, DELETE ON emr.patients, emr.encounters, emr.exams, emr.bed_census, emr.persons,
            emr.match_keys, emr.exam_registry TO regio_ingest;
        GRANT SELECT, INSERT ON emr.person_links TO regio_ingest;
        -- The linker files reviews and supersedes them; it applies the stewards' queued decisions
        -- (which the query service's writer role queues) and records their outcome.
        GRANT SELECT, INSERT ON emr.link_reviews TO regio_ingest;
        GRANT UPDATE (decided_at, decision, decided_by) ON emr.link_reviews TO regio_ingest;
        GRANT SELECT, INSERT, DELETE ON emr.kept_apart TO regio_ingest;
        GRANT SELECT ON emr.steward_actions TO regio_ingest;
        GRANT UPDATE (status, result, done_at) ON emr.steward_actions TO regio_ingest;
        GRANT SELECT ON emr.exam_codes, emr.exam_code_map, emr.match_weights, emr.recognition_defaults,
            emr.facility_names TO regio_ingest;
        GRANT SELECT, INSERT, UPDATE, DELETE ON referral.referrals, referral.status_history TO regio_ingest;
        GRANT SELECT, INSERT, UPDATE, DELETE ON procurement.purchases, procurement.spec_parses TO regio_ingest;
        GRANT SELECT ON procurement.items, procurement.item_map, procurement.pack_decisions, procurement.agreed_prices,
            procurement.listed_prices, procurement.commitments, procurement.priced_lines TO regio_ingest;
        GRANT SELECT, INSERT, UPDATE, DELETE ON reports.exam_month, reports.facility_month, reports.person_index,
            reports.purchase_month, reports.referral_month TO regio_ingest;
        GRANT SELECT ON reports.thresholds, reports.facility_month_parts, ingest.batch_measures TO regio_ingest;
        GRANT INSERT ON audit.events TO regio_ingest;
        GRANT EXECUTE ON FUNCTION ingest.analyze_grown(regclass) TO regio_ingest;
    END IF;
    -- Whatever default privileges hand the reporting role, it reads no account.
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'regio_query') THEN
        REVOKE ALL ON ALL TABLES IN SCHEMA accounts FROM regio_query;
        REVOKE ALL ON SCHEMA accounts FROM regio_query;
    END IF;
END
$$;
SELECT registry.grant_service_roles();

-- Emergency access (break-the-glass): a facility may look up a person it holds no record of —
-- by resident ID number only — when it gives a coded purpose and a written reason. The grant
-- covers that person only, for that facility, and expires (`emergency_access_hours`, 3); the
-- lookups under it are audited like any other (result 'emergency'), and the facilities that hold
-- the person's records see every grant on their patients (`GET /v1/lookup/emergency-access`).
CREATE TABLE emr.emergency_grants (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    facility_id integer NOT NULL REFERENCES registry.facilities (id),
    person_id   bigint NOT NULL REFERENCES emr.persons (id),
    code        text NOT NULL CHECK (code IN ('unconscious', 'life_threatening', 'emergency_transfer', 'public_health')),
    reason      text NOT NULL CHECK (length(reason) BETWEEN 10 AND 500),
    actor       text NOT NULL,
    granted_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL,
    CHECK (expires_at > granted_at)
);
CREATE INDEX emergency_grants_person ON emr.emergency_grants (person_id, granted_at);
CREATE INDEX emergency_grants_facility ON emr.emergency_grants (facility_id, person_id, expires_at);
CREATE TRIGGER emergency_grants_append_only BEFORE UPDATE OR DELETE ON emr.emergency_grants
    FOR EACH ROW EXECUTE FUNCTION audit.refuse_change();
CREATE TRIGGER emergency_grants_no_truncate BEFORE TRUNCATE ON emr.emergency_grants
    FOR EACH STATEMENT EXECUTE FUNCTION audit.refuse_change();

ALTER TABLE audit.lookups DROP CONSTRAINT lookups_result_check;
ALTER TABLE audit.lookups ADD CONSTRAINT lookups_result_check CHECK (result IN ('allowed', 'refused', 'not_found', 'emergency'));

INSERT INTO registry.settings (key, value, description) VALUES
    ('emergency_access_hours', '3', 'How long an emergency (break-the-glass) grant to look up one person lasts.');

-- The lookup's role also reads the grants it checks and writes new ones.
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
    -- Whatever default privileges hand the reporting role, it reads no account.
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'regio_query') THEN
        REVOKE ALL ON ALL TABLES IN SCHEMA accounts FROM regio_query;
        REVOKE ALL ON SCHEMA accounts FROM regio_query;
    END IF;
END
$$;
SELECT registry.grant_service_roles();

-- Accounts for people: the users who sign in to the dashboard, and their sessions. API clients
-- keep bearer tokens (registry.credentials).
--
-- A schema of its own, because the reporting role reads every table of the others: it must never
-- read password hashes or session ids. These tables are read and written only by the query
-- service's accounts connection, as `regio_web` (deploy/), which may write nothing else but audit
-- rows.
CREATE SCHEMA accounts;

CREATE TABLE accounts.users (
    id                   bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- Signed in with; compared in lower case.
    username             text NOT NULL CHECK (username ~ '^[a-z0-9][a-z0-9._-]{1,63}$'),
    display_name         text NOT NULL CHECK (length(display_name) BETWEEN 1 AND 100),
    role                 text NOT NULL CHECK (role IN ('facility', 'alliance', 'bureau', 'steward', 'admin')),
    facility_id          integer REFERENCES registry.facilities (id),
    alliance_id          integer REFERENCES registry.alliances (id),
    -- bcrypt ($2b$, cost ≥ 10).
    password_hash        text NOT NULL CHECK (password_hash ~ '^\$2[aby]\$[0-9]{2}\$'),
    password_changed_at  timestamptz NOT NULL DEFAULT now(),
    -- Failed sign-ins since the last success; at the setting `sign_in_lockout_failures` the
    -- account is locked until `locked_until`.
    failed_attempts      integer NOT NULL DEFAULT 0,
    locked_until         timestamptz,
    last_sign_in_at      timestamptz,
    disabled_at          timestamptz,
    created_at           timestamptz NOT NULL DEFAULT now(),
    CHECK ((role = 'facility') = (facility_id IS NOT NULL)),
    CHECK ((role = 'alliance') = (alliance_id IS NOT NULL))
);
CREATE UNIQUE INDEX users_username ON accounts.users (username);

-- A signed-in browser. The cookie carries a random id; only its SHA-256 is stored. Each form
-- carries the session's CSRF token. A session ends at sign-out, after `session_idle_minutes`
-- without a request, or `session_absolute_hours` after sign-in, whichever comes first.
CREATE TABLE accounts.sessions (
    id_hash       text PRIMARY KEY CHECK (id_hash ~ '^[0-9a-f]{64}$'),
    user_id       bigint NOT NULL REFERENCES accounts.users (id) ON DELETE CASCADE,
    csrf_token    text NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    last_seen_at  timestamptz NOT NULL DEFAULT now(),
    ended_at      timestamptz
);
CREATE INDEX sessions_user ON accounts.sessions (user_id) WHERE ended_at IS NULL;

INSERT INTO registry.settings (key, value, description) VALUES
    ('session_idle_minutes', '30', 'A dashboard session ends after this many minutes without a request.'),
    ('session_absolute_hours', '12', 'A dashboard session ends this many hours after sign-in, however active.'),
    ('sign_in_lockout_failures', '5', 'This many failed sign-ins in a row lock the account.'),
    ('sign_in_lockout_minutes', '15', 'How long a locked account stays locked.');

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
REVOKE ALL ON ALL TABLES IN SCHEMA accounts FROM PUBLIC;

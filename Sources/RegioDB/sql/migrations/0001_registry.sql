-- Registry: the region's administrative divisions, its facilities, procurement alliances and the
-- credentials that act for them. Everything else in Regio refers to these rows.

CREATE SCHEMA registry;

-- Administrative divisions, GB/T 2260 codes: province › city › county (区/县).
CREATE TABLE registry.regions (
    code        text PRIMARY KEY CHECK (code ~ '^[0-9]{6}$'),
    name        text NOT NULL,
    level       text NOT NULL CHECK (level IN ('province', 'city', 'county')),
    parent_code text REFERENCES registry.regions (code),
    CHECK ((level = 'province') = (parent_code IS NULL))
);

CREATE TABLE registry.facilities (
    id            integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- The facility's own code as hospitals write it in extracts (机构代码).
    code          text NOT NULL UNIQUE CHECK (code ~ '^[A-Z0-9]{4,32}$'),
    name          text NOT NULL CHECK (name <> ''),
    tier          smallint NOT NULL CHECK (tier BETWEEN 1 AND 3),
    grade         text NOT NULL DEFAULT 'U' CHECK (grade IN ('A', 'B', 'C', 'S', 'U')),
    type          text NOT NULL CHECK (type IN ('general_hospital', 'tcm_hospital', 'specialty_hospital',
                                                'maternal_child', 'community_centre', 'township_centre', 'clinic')),
    region_code   text NOT NULL REFERENCES registry.regions (code),
    staffed_beds  integer NOT NULL DEFAULT 0 CHECK (staffed_beds >= 0),
    -- Medical consortium (医联体/医共体) the facility belongs to, if any.
    consortium    text,
    time_zone     text NOT NULL DEFAULT 'Asia/Shanghai',
    active        boolean NOT NULL DEFAULT true,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    CHECK (grade <> 'S' OR tier = 3)
);
CREATE INDEX facilities_region ON registry.facilities (region_code);

CREATE TABLE registry.alliances (
    id         integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    code       text NOT NULL UNIQUE CHECK (code ~ '^[A-Z0-9_-]{2,32}$'),
    name       text NOT NULL CHECK (name <> ''),
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE registry.alliance_members (
    alliance_id integer NOT NULL REFERENCES registry.alliances (id) ON DELETE CASCADE,
    facility_id integer NOT NULL REFERENCES registry.facilities (id),
    joined_on   date NOT NULL DEFAULT current_date,
    PRIMARY KEY (alliance_id, facility_id)
);

-- Bearer tokens. Only the SHA-256 of a token is stored; the token itself is shown once at issue.
CREATE TABLE registry.credentials (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    token_hash  text NOT NULL UNIQUE CHECK (token_hash ~ '^[0-9a-f]{64}$'),
    role        text NOT NULL CHECK (role IN ('facility', 'alliance', 'bureau', 'steward', 'admin')),
    facility_id integer REFERENCES registry.facilities (id),
    alliance_id integer REFERENCES registry.alliances (id),
    label       text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz,
    revoked_at  timestamptz,
    CHECK ((role = 'facility') = (facility_id IS NOT NULL)),
    CHECK ((role = 'alliance') = (alliance_id IS NOT NULL))
);

-- Regional settings the bureau owns (thresholds and the like), one JSON value per key.
CREATE TABLE registry.settings (
    key         text PRIMARY KEY,
    value       jsonb NOT NULL,
    description text NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now()
);
INSERT INTO registry.settings (key, value, description) VALUES
    ('small_cell_threshold', '5', 'Person counts below this are shown as "<N" in outputs for publication.');

-- Append-only record of what was done by whom: admin actions, batch decisions, patient lookups.
CREATE SCHEMA audit;
CREATE TABLE audit.events (
    id      bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at      timestamptz NOT NULL DEFAULT now(),
    actor   text NOT NULL,
    action  text NOT NULL,
    subject text,
    detail  jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX events_at ON audit.events (at);
CREATE FUNCTION audit.refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit.events is append-only';
END $$;
CREATE TRIGGER events_append_only BEFORE UPDATE OR DELETE ON audit.events
    FOR EACH ROW EXECUTE FUNCTION audit.refuse_change();

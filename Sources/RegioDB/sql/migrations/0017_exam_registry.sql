-- The shared EMR's exam registry and what is built on the patient index (docs/shared-emr.md): the
-- regional exam catalogue and each facility's local codes mapped to it, recognition windows, the
-- per-exam registry (person, regional code, the earlier result an exam repeats), the rollups of
-- duplicate exams and of the patient index, stewards' decisions, and the audited lookups.

-- The regional exam catalogue (`regio catalog import exam-codes`). `window_days`: how long a
-- result is recognised by other facilities (互认有效期); NULL takes its category's default.
CREATE TABLE emr.exam_codes (
    code        text PRIMARY KEY,
    name        text NOT NULL,
    category    text NOT NULL CHECK (category IN ('LAB', 'IMAGING', 'PATHOLOGY', 'ECG', 'ENDOSCOPY', 'OTHER')),
    window_days integer CHECK (window_days BETWEEN 0 AND 3650),
    updated_at  timestamptz NOT NULL DEFAULT now()
);

-- Recognition windows of codes that name none (`regio catalog set-window`).
CREATE TABLE emr.recognition_defaults (
    category    text PRIMARY KEY CHECK (category IN ('LAB', 'IMAGING', 'PATHOLOGY', 'ECG', 'ENDOSCOPY', 'OTHER')),
    window_days integer NOT NULL CHECK (window_days BETWEEN 0 AND 3650)
);
INSERT INTO emr.recognition_defaults (category, window_days) VALUES
    ('LAB', 7), ('IMAGING', 30), ('PATHOLOGY', 90), ('ECG', 14), ('ENDOSCOPY', 14), ('OTHER', 14);

-- A facility's local exam code and the regional code it means (`regio catalog import exam-map`).
CREATE TABLE emr.exam_code_map (
    facility_id   integer NOT NULL REFERENCES registry.facilities (id),
    local_code    text NOT NULL,
    regional_code text NOT NULL REFERENCES emr.exam_codes (code),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (facility_id, local_code)
);

-- One row per exam report (emr.exams), derived: its person now, its regional code (NULL: a local
-- code with no mapping), its window, and the earlier result at another facility that it repeats
-- (same person and regional code, and body site for imaging, performed at most window_days
-- before). Kept by ExamRegistry for the persons and reports a change touched.
CREATE TABLE emr.exam_registry (
    facility_id        integer NOT NULL,
    report_id          text NOT NULL,
    person_id          bigint,
    month              date NOT NULL,
    category           text NOT NULL,
    regional_code      text,
    local_code         text,
    performed_at       timestamptz NOT NULL,
    price              numeric(14, 2),
    window_days        integer,
    repeat_of_facility integer,
    repeat_of_report   text,
    days_after         integer,
    PRIMARY KEY (facility_id, report_id)
);
CREATE INDEX exam_registry_person ON emr.exam_registry (person_id);
CREATE INDEX exam_registry_month ON emr.exam_registry (facility_id, month);
CREATE INDEX exam_registry_local ON emr.exam_registry (facility_id, local_code) WHERE local_code IS NOT NULL;
CREATE INDEX exam_registry_code ON emr.exam_registry (regional_code);
CREATE INDEX exam_registry_repeats ON emr.exam_registry (month) WHERE repeat_of_report IS NOT NULL;

-- Per facility, month (China time) and category: what the duplicate-exams report reads.
CREATE TABLE reports.exam_month (
    facility_id    integer NOT NULL,
    month          date NOT NULL,
    category       text NOT NULL,
    exams          integer NOT NULL,
    coded_exams    integer NOT NULL,
    repeats        integer NOT NULL,
    avoidable_cost numeric(16, 2) NOT NULL,
    PRIMARY KEY (facility_id, month, category)
);

-- Per person: its records, at how many facilities, and how each record's current link was made.
-- What the patient-index report sums.
CREATE TABLE reports.person_index (
    person_id     bigint PRIMARY KEY,
    facilities    integer NOT NULL,
    records       integer NOT NULL,
    by_id         integer NOT NULL,
    probabilistic integer NOT NULL,
    by_steward    integer NOT NULL,
    first_records integer NOT NULL
);

-- The region's own m and u for a field's level of the matching model (MatchModel.standard's levels,
-- docs/patient-index.md): a row overrides the standard values; `regio mpi weights` shows the model
-- in force, `regio mpi relink` applies a change to the stored records.
CREATE TABLE emr.match_weights (
    field      text NOT NULL,
    level      text NOT NULL,
    m          double precision NOT NULL CHECK (m > 0 AND m <= 1),
    u          double precision NOT NULL CHECK (u > 0 AND u <= 1),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (field, level)
);

-- A steward's "these are not the same person": the linker never links the record to that person.
CREATE TABLE emr.kept_apart (
    facility_id integer NOT NULL,
    patient_id  text NOT NULL,
    person_id   bigint NOT NULL REFERENCES emr.persons (id),
    decided_by  text NOT NULL,
    decided_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (facility_id, patient_id, person_id)
);

-- Stewards' decisions, queued by the query service and carried out by the ingestion service's
-- linker, one at a time with the batches' linking (PersonLinker): a link changes in one place.
CREATE TABLE emr.steward_actions (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind         text NOT NULL CHECK (kind IN ('link', 'keep_apart', 'split', 'merge')),
    -- link / keep_apart: the review decided; split: the person; merge: the person merged away.
    review_id    bigint REFERENCES emr.link_reviews (id),
    person_id    bigint REFERENCES emr.persons (id),
    into_person  bigint REFERENCES emr.persons (id),
    -- split: the records that leave the person, [{"facility_id": 3, "patient_id": "P1"}, …].
    records      jsonb,
    reason       text NOT NULL,
    actor        text NOT NULL,
    requested_at timestamptz NOT NULL DEFAULT now(),
    status       text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'done', 'refused')),
    result       text,
    done_at      timestamptz
);
CREATE INDEX steward_actions_pending ON emr.steward_actions (id) WHERE status = 'pending';

-- Facility names, for readers of `emr` that may read nothing else (the lookup's role): a view
-- runs with its owner's rights.
CREATE VIEW emr.facility_names AS SELECT id, code, name, tier FROM registry.facilities;

-- Every cross-facility lookup, allowed or refused, written in the transaction that reads.
CREATE TABLE audit.lookups (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at             timestamptz NOT NULL DEFAULT clock_timestamp(),
    actor          text NOT NULL,
    facility_id    integer NOT NULL,
    patient_id     text,
    by_resident_id boolean NOT NULL,
    person_id      bigint,
    purpose        text NOT NULL,
    result         text NOT NULL CHECK (result IN ('allowed', 'refused', 'not_found')),
    reports        integer
);
CREATE INDEX lookups_at ON audit.lookups (at);
CREATE INDEX lookups_person ON audit.lookups (person_id);
CREATE TRIGGER lookups_append_only BEFORE UPDATE OR DELETE ON audit.lookups
    FOR EACH ROW EXECUTE FUNCTION audit.refuse_change();

-- The query service's writer may queue stewards' decisions (and read what they check); the
-- lookup's role (`regio_lookup`, REGIO_QUERY_LOOKUP_DATABASE_URL) may read `emr` and write
-- lookup audit rows, nothing more.
CREATE OR REPLACE FUNCTION registry.grant_service_roles() RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'regio_query_writer') THEN
        GRANT USAGE ON SCHEMA reports, audit, emr TO regio_query_writer;
        -- Thresholds: read and change the value and comparator of an existing row, nothing else.
        GRANT SELECT ON reports.thresholds TO regio_query_writer;
        GRANT UPDATE (threshold, comparator, updated_at) ON reports.thresholds TO regio_query_writer;
        GRANT INSERT ON audit.events TO regio_query_writer;
        GRANT SELECT ON emr.link_reviews, emr.persons, emr.steward_actions, emr.facility_names TO regio_query_writer;
        GRANT INSERT (kind, review_id, person_id, into_person, records, reason, actor) ON emr.steward_actions TO regio_query_writer;
    END IF;
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'regio_lookup') THEN
        GRANT USAGE ON SCHEMA emr, audit TO regio_lookup;
        GRANT SELECT ON ALL TABLES IN SCHEMA emr TO regio_lookup;
        GRANT INSERT ON audit.lookups TO regio_lookup;
    END IF;
END
$$;

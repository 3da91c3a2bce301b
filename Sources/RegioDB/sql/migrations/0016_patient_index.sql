-- The probabilistic patient index (docs/patient-index.md). Linking runs after a batch is loaded,
-- outside its merge: the ingestion service's workers take loaded batches whose records are not
-- linked yet (ingest.batches.linked_at) and decide each record's person (PersonLinker).

ALTER TABLE ingest.batches ADD COLUMN linked_at timestamptz;
-- Batches loaded before this migration are linked by the first workers to start.
CREATE INDEX batches_to_link ON ingest.batches (finished_at, id) WHERE status = 'loaded' AND linked_at IS NULL AND NOT dry_run;

-- Every link a record has had, append-only: which person, how (`id`: the same national ID number;
-- `probabilistic`: by score; `new`: like no one; `steward`: a steward's decision), the score and
-- what each field added to it. A record's person on a date is its latest row up to that date.
CREATE TABLE emr.person_links (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    facility_id   integer NOT NULL REFERENCES registry.facilities (id),
    patient_id    text NOT NULL,
    person_id     bigint REFERENCES emr.persons (id),
    method        text NOT NULL CHECK (method IN ('id', 'probabilistic', 'new', 'steward')),
    score         double precision,
    contributions jsonb,
    batch_id      bigint,
    actor         text NOT NULL,
    reason        text,
    linked_at     timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX person_links_record ON emr.person_links (facility_id, patient_id, linked_at);
CREATE INDEX person_links_person ON emr.person_links (person_id);
CREATE FUNCTION emr.refuse_link_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'emr.person_links is append-only: a change of link is a new row';
END $$;
CREATE TRIGGER person_links_append_only BEFORE UPDATE OR DELETE ON emr.person_links
    FOR EACH ROW EXECUTE FUNCTION emr.refuse_link_change();
CREATE TRIGGER person_links_no_truncate BEFORE TRUNCATE ON emr.person_links
    FOR EACH STATEMENT EXECUTE FUNCTION emr.refuse_link_change();

-- Records close to a person but not close enough to link, or close to two, for a steward.
CREATE TABLE emr.link_reviews (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    facility_id      integer NOT NULL REFERENCES registry.facilities (id),
    patient_id       text NOT NULL,
    candidate_person bigint NOT NULL REFERENCES emr.persons (id),
    score            double precision NOT NULL,
    contributions    jsonb NOT NULL,
    reason           text NOT NULL CHECK (reason IN ('score', 'ambiguous', 'id_conflict')),
    created_at       timestamptz NOT NULL DEFAULT now(),
    decided_at       timestamptz,
    decision         text CHECK (decision IN ('linked', 'kept_apart', 'superseded')),
    decided_by       text
);
CREATE UNIQUE INDEX link_reviews_open ON emr.link_reviews (facility_id, patient_id) WHERE decided_at IS NULL;

-- The blocking keys each linked record is filed under (MatchRecord.indexKeys), and `s<name>`,
-- which counts the records of each name (an exact name's u is its share of the index).
CREATE TABLE emr.match_keys (
    key         text NOT NULL,
    facility_id integer NOT NULL,
    patient_id  text NOT NULL,
    PRIMARY KEY (key, facility_id, patient_id)
);
CREATE INDEX match_keys_record ON emr.match_keys (facility_id, patient_id);

INSERT INTO registry.settings (key, value, description) VALUES
    ('link_threshold', '15', 'Patient index: a record scoring at least this against one person is linked to it (docs/patient-index.md).'),
    ('review_threshold', '8', 'Patient index: a record scoring at least this, and not linked, goes to a steward''s review.');

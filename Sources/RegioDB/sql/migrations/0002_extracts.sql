-- Nightly extracts: batches and their files, row errors and quarantined rows (ingest), and the
-- core tables they merge into (emr, procurement, referral). See docs/extract-format.md.

CREATE SCHEMA ingest;
-- Per-batch UNLOGGED staging tables (staging.b<batch>_<kind>), dropped once the batch is decided.
CREATE SCHEMA staging;

CREATE TABLE ingest.batches (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    facility_id   integer NOT NULL REFERENCES registry.facilities (id),
    business_date date NOT NULL,
    manifest      jsonb NOT NULL,
    -- Same facility, night and file digests ⇒ same content (ExtractManifest.contentKey).
    content_key   text NOT NULL,
    encoding      text NOT NULL CHECK (encoding IN ('UTF-8', 'GB18030', 'GBK')),
    dry_run       boolean NOT NULL DEFAULT false,
    status        text NOT NULL DEFAULT 'receiving'
                  CHECK (status IN ('receiving', 'queued', 'validating', 'loaded', 'validated', 'rejected', 'failed')),
    reason        text,
    duplicate_of  bigint REFERENCES ingest.batches (id),
    credential_id bigint REFERENCES registry.credentials (id),
    created_at    timestamptz NOT NULL DEFAULT now(),
    committed_at  timestamptz,
    started_at    timestamptz,
    finished_at   timestamptz
);
CREATE INDEX batches_facility_date ON ingest.batches (facility_id, business_date);
CREATE INDEX batches_pending ON ingest.batches (status, committed_at) WHERE status IN ('queued', 'validating');

CREATE TABLE ingest.batch_files (
    batch_id        bigint NOT NULL REFERENCES ingest.batches (id) ON DELETE CASCADE,
    kind            text NOT NULL,
    name            text NOT NULL,
    expected_rows   integer NOT NULL,
    expected_sha256 text NOT NULL,
    received_rows   integer,
    received_sha256 text,
    received_bytes  bigint,
    received_at     timestamptz,
    -- A structural problem that rejects the batch (missing column, digest or row count mismatch).
    file_error      text,
    inserted        integer,
    updated         integer,
    unchanged       integer,
    retracted       integer,
    rejected        integer,
    warnings        integer,
    PRIMARY KEY (batch_id, kind)
);

CREATE TABLE ingest.row_errors (
    batch_id    bigint NOT NULL REFERENCES ingest.batches (id) ON DELETE CASCADE,
    kind        text NOT NULL,
    line        integer,
    column_name text,
    code        text NOT NULL,
    severity    text NOT NULL CHECK (severity IN ('error', 'warning')),
    message     text NOT NULL,
    raw_value   text
);
CREATE INDEX row_errors_batch ON ingest.row_errors (batch_id, kind, line);

-- Rejected rows as sent (ID numbers removed), so the hospital can fix and resend them.
CREATE TABLE ingest.rejected_rows (
    batch_id bigint NOT NULL REFERENCES ingest.batches (id) ON DELETE CASCADE,
    kind     text NOT NULL,
    line     integer NOT NULL,
    fields   jsonb NOT NULL,
    PRIMARY KEY (batch_id, kind, line)
);

CREATE SCHEMA emr;

-- The regional patient index: one row per person, linked deterministically by the keyed hash of
-- the national ID number (HMAC-SHA256 under the region secret; never the number itself).
CREATE TABLE emr.persons (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id_hash    text UNIQUE,
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE emr.patients (
    facility_id integer NOT NULL REFERENCES registry.facilities (id),
    patient_id  text NOT NULL,
    person_id   bigint REFERENCES emr.persons (id),
    name        text NOT NULL,
    sex         text NOT NULL CHECK (sex IN ('0', '1', '2', '9')),
    birth_date  date,
    id_type     text,
    id_hash     text,
    phone       text,
    address     text,
    row_hash    text NOT NULL,
    -- Business date of the extract that last wrote the row: an older extract arriving late
    -- does not overwrite what a newer one said.
    as_of         date NOT NULL,
    batch_id    bigint NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (facility_id, patient_id)
);
CREATE INDEX patients_id_hash ON emr.patients (id_hash) WHERE id_hash IS NOT NULL;
CREATE INDEX patients_person ON emr.patients (person_id);

CREATE TABLE emr.encounters (
    facility_id      integer NOT NULL REFERENCES registry.facilities (id),
    encounter_id     text NOT NULL,
    patient_id       text NOT NULL,
    encounter_type   text NOT NULL CHECK (encounter_type IN ('O', 'E', 'I')),
    dept_code        text,
    dept_name        text,
    start_time       timestamptz NOT NULL,
    end_time         timestamptz,
    primary_dx       text,
    total_cost       numeric(14, 2) NOT NULL CHECK (total_cost >= 0),
    drug_cost        numeric(14, 2) NOT NULL CHECK (drug_cost >= 0),
    consumables_cost numeric(14, 2) NOT NULL CHECK (consumables_cost >= 0),
    referral_from    text,
    referral_id      text,
    row_hash         text NOT NULL,
    -- Business date of the extract that last wrote the row: an older extract arriving late
    -- does not overwrite what a newer one said.
    as_of         date NOT NULL,
    batch_id         bigint NOT NULL,
    PRIMARY KEY (facility_id, encounter_id)
);
CREATE INDEX encounters_facility_start ON emr.encounters (facility_id, start_time);

-- The exam/lab report index for shared referencing; the report itself stays at the hospital.
CREATE TABLE emr.exams (
    facility_id  integer NOT NULL REFERENCES registry.facilities (id),
    report_id    text NOT NULL,
    patient_id   text NOT NULL,
    encounter_id text,
    exam_code    text NOT NULL,
    code_system  text NOT NULL CHECK (code_system IN ('REGIONAL', 'LOCAL')),
    exam_name    text NOT NULL,
    category     text NOT NULL,
    modality     text,
    body_site    text,
    performed_at timestamptz NOT NULL,
    reported_at  timestamptz,
    summary      text,
    document_ref text NOT NULL,
    price        numeric(14, 2),
    row_hash     text NOT NULL,
    -- Business date of the extract that last wrote the row: an older extract arriving late
    -- does not overwrite what a newer one said.
    as_of         date NOT NULL,
    batch_id     bigint NOT NULL,
    PRIMARY KEY (facility_id, report_id)
);
CREATE INDEX exams_patient ON emr.exams (facility_id, patient_id);
CREATE INDEX exams_code ON emr.exams (exam_code, performed_at) WHERE code_system = 'REGIONAL';

-- Midnight bed census per department, from the optional `beds` file.
CREATE TABLE emr.bed_census (
    facility_id   integer NOT NULL REFERENCES registry.facilities (id),
    census_date   date NOT NULL,
    dept_code     text NOT NULL,
    staffed_beds  integer NOT NULL CHECK (staffed_beds >= 0),
    occupied_beds integer NOT NULL CHECK (occupied_beds >= 0),
    batch_id      bigint NOT NULL,
    PRIMARY KEY (facility_id, census_date, dept_code)
);

CREATE SCHEMA procurement;
CREATE TABLE procurement.purchases (
    facility_id     integer NOT NULL REFERENCES registry.facilities (id),
    line_id         text NOT NULL,
    item_code       text NOT NULL,
    code_system     text NOT NULL CHECK (code_system IN ('NHSA', 'LOCAL')),
    item_name       text NOT NULL,
    spec            text,
    manufacturer    text,
    purchase_unit   text NOT NULL,
    pack_size       numeric(14, 6) NOT NULL CHECK (pack_size > 0),
    base_unit       text NOT NULL,
    unit_price      numeric(14, 6) NOT NULL CHECK (unit_price > 0),
    quantity        numeric(14, 6) NOT NULL CHECK (quantity > 0),
    amount          numeric(16, 2),
    -- Yuan per base unit: what makes prices comparable across pack sizes.
    base_unit_price numeric GENERATED ALWAYS AS (unit_price / pack_size) STORED,
    supplier        text NOT NULL,
    purchase_date   date NOT NULL,
    invoice_no      text,
    vbp             boolean NOT NULL DEFAULT false,
    row_hash        text NOT NULL,
    -- Business date of the extract that last wrote the row: an older extract arriving late
    -- does not overwrite what a newer one said.
    as_of         date NOT NULL,
    batch_id        bigint NOT NULL,
    PRIMARY KEY (facility_id, line_id)
);
CREATE INDEX purchases_item ON procurement.purchases (item_code, purchase_date);

CREATE SCHEMA referral;
CREATE TABLE referral.referrals (
    facility_id    integer NOT NULL REFERENCES registry.facilities (id),
    referral_id    text NOT NULL,
    patient_id     text NOT NULL,
    to_facility_id integer NOT NULL REFERENCES registry.facilities (id),
    referred_at    timestamptz NOT NULL,
    reason_dx      text,
    status         text NOT NULL CHECK (status IN ('SENT', 'ACCEPTED', 'REJECTED', 'COMPLETED', 'CANCELLED')),
    status_at      timestamptz,
    row_hash       text NOT NULL,
    -- Business date of the extract that last wrote the row: an older extract arriving late
    -- does not overwrite what a newer one said.
    as_of         date NOT NULL,
    batch_id       bigint NOT NULL,
    PRIMARY KEY (facility_id, referral_id)
);
CREATE INDEX referrals_to ON referral.referrals (to_facility_id, referred_at);

INSERT INTO registry.settings (key, value, description) VALUES
    ('reject_threshold_percent', '5',
     'A batch whose rejected rows exceed this share of its data rows is rejected whole.');

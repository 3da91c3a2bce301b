-- Report rollups: one row per facility and calendar month (China time), refreshed inside each
-- batch's transaction for the months the batch touched, so reports never scan raw facts and never
-- see a half-loaded batch.

CREATE SCHEMA reports;

CREATE TABLE reports.facility_month (
    facility_id       integer NOT NULL REFERENCES registry.facilities (id),
    month             date NOT NULL CHECK (extract(day FROM month) = 1),
    -- Visits by start time in the month.
    outpatient_visits bigint NOT NULL,
    emergency_visits  bigint NOT NULL,
    admissions        bigint NOT NULL,
    -- Inpatients discharged (end time) in the month, and their lengths of stay in days
    -- (discharge date − admission date, at least 1).
    discharges        bigint NOT NULL,
    inpatient_days    bigint NOT NULL,
    -- Costs in yuan: outpatient and emergency visits of the month, and stays discharged in it.
    outpatient_cost   numeric(16, 2) NOT NULL,
    inpatient_cost    numeric(16, 2) NOT NULL,
    drug_cost         numeric(16, 2) NOT NULL,
    consumables_cost  numeric(16, 2) NOT NULL,
    refreshed_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (facility_id, month)
);

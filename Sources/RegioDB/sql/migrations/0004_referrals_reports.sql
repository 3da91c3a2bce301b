-- Tiered referrals as the platform sees them (completion found, not trusted from the sender),
-- the rollups the bureau's reports read, data-quality checks per batch, and the bureau's thresholds.

-- A numeric regional setting (registry.settings), or `fallback` when it is not set.
CREATE FUNCTION registry.setting_number(setting text, fallback numeric) RETURNS numeric
    LANGUAGE sql STABLE
    RETURN coalesce((SELECT (value #>> '{}')::numeric FROM registry.settings WHERE key = setting), fallback);

-- Primary care (基层): tier-1 facilities, and community and township health centres whatever
-- their registered tier.
CREATE FUNCTION registry.is_primary(tier smallint, type text) RETURNS boolean
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN tier = 1 OR type IN ('community_centre', 'township_centre');

-- Found by the platform (sql/referral/match.sql) after every batch that touches the sender or
-- the receiver: the receiving encounter, how it was found, and the days from referral to it.
ALTER TABLE referral.referrals
    -- 'inpatient' when referred during a stay at the sender (admission day to discharge day),
    -- else 'outpatient' (outpatient or emergency): 下转患者人次数 counts both.
    ADD COLUMN origin text CHECK (origin IN ('outpatient', 'inpatient')),
    ADD COLUMN completed_encounter_id text,
    -- 'named': an encounter at the receiver names the referral (referral_from + referral_id);
    -- 'same_person': the same regional person was seen at the receiver within the window.
    ADD COLUMN completion_method text CHECK (completion_method IN ('named', 'same_person')),
    -- Calendar days (China time) from the referral to the receiving encounter's start.
    ADD COLUMN completion_days integer CHECK (completion_days >= 0);

CREATE INDEX referrals_patient ON referral.referrals (facility_id, patient_id);
-- Completion matching looks encounters up by the referral they name, and stays by patient (for a
-- referral's origin). Both indexes cover few rows; a full (facility, patient) index on encounters
-- cost 10 s of a 1 M-encounter night's merge (docs/benchmarks.md), so the same-person match reads
-- the receivers' encounters of the window by start time instead.
CREATE INDEX encounters_referral ON emr.encounters (facility_id, referral_id) WHERE referral_id IS NOT NULL;
CREATE INDEX encounters_stays ON emr.encounters (facility_id, patient_id) WHERE encounter_type = 'I';

-- Every status a sender reported for a referral, as it arrived.
CREATE TABLE referral.status_history (
    facility_id integer NOT NULL,
    referral_id text NOT NULL,
    status      text NOT NULL,
    status_at   timestamptz,
    batch_id    bigint NOT NULL,
    recorded_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX status_history_referral ON referral.status_history (facility_id, referral_id, recorded_at);

INSERT INTO registry.settings (key, value, description) VALUES
    ('referral_completion_days', '30',
     'A referral counts as completed when the same regional person is seen at the receiving facility within this many days.'),
    ('extract_deadline_hour', '6',
     'An extract is on time when received before this hour (China time) of the day after its business date.');

-- Occupied bed-days and the midnight bed census, for bed occupancy and turnover.
ALTER TABLE reports.facility_month
    -- Midnights in the month spent by inpatients: nights from the admission date to the night
    -- before discharge; a stay without a discharge counts up to the night of its extract's date.
    ADD COLUMN stay_bed_days bigint NOT NULL DEFAULT 0,
    -- From the optional `beds` file: census nights, Σ occupied beds and Σ staffed beds over them.
    ADD COLUMN census_nights bigint NOT NULL DEFAULT 0,
    ADD COLUMN census_occupied_bed_days bigint NOT NULL DEFAULT 0,
    ADD COLUMN census_staffed_bed_days bigint NOT NULL DEFAULT 0;

-- Referrals by sending facility, month referred (China time), receiving tier and origin.
CREATE TABLE reports.referral_month (
    facility_id     integer NOT NULL REFERENCES registry.facilities (id),
    month           date NOT NULL CHECK (extract(day FROM month) = 1),
    from_tier       smallint NOT NULL,
    to_tier         smallint NOT NULL,
    origin          text NOT NULL,
    referrals       bigint NOT NULL,
    completed       bigint NOT NULL,
    completed_named bigint NOT NULL,
    -- completion_days[d + 1] = completions on day d (0 … 30); [32] = later (named ones only).
    -- Summed element-wise over any level, it gives the median there.
    completion_days bigint[] NOT NULL,
    refreshed_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (facility_id, month, to_tier, origin)
);

-- Plausibility measures of each validated batch (sql/ingest/checks/<kind>.sql): how many
-- accepted rows fail the check out of how many it applies to.
CREATE TABLE ingest.batch_checks (
    batch_id    bigint NOT NULL REFERENCES ingest.batches (id) ON DELETE CASCADE,
    check_id    text NOT NULL,
    failing     bigint NOT NULL,
    applicable  bigint NOT NULL,
    PRIMARY KEY (batch_id, check_id)
);

-- Thresholds the bureau sets: alert rules for the `alerts` report, and the pass mark of each
-- data-quality check. Edited with `regio threshold set` or PUT /v1/admin/thresholds/{kind}/{indicator}.
CREATE TABLE reports.thresholds (
    kind        text NOT NULL CHECK (kind IN ('alert', 'quality')),
    indicator   text NOT NULL,
    -- The value breaches (alert) or fails (quality) when `value <comparator> threshold`.
    comparator  text NOT NULL CHECK (comparator IN ('>', '<')),
    threshold   numeric NOT NULL,
    unit        text NOT NULL,
    description text NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (kind, indicator)
);
INSERT INTO reports.thresholds (kind, indicator, comparator, threshold, unit, description) VALUES
    ('alert', 'drug_share', '>', 30, '%', '药占比: drug cost ÷ total cost × 100.'),
    ('alert', 'consumables_share', '>', 20, '%', '耗占比: consumables cost ÷ total cost × 100.'),
    ('alert', 'cost_per_visit_growth', '>', 10, '%', '次均门急诊费用增幅 against the same month a year earlier.'),
    ('alert', 'cost_per_stay_growth', '>', 10, '%', '次均住院费用增幅 against the same month a year earlier.'),
    ('alert', 'peer_modified_z', '>', 3.5, 'z',
     'Modified z-score 0.6745 × (value − peer median) ÷ MAD among facilities of the same tier in the month, in either direction; needs 5 peers.'),
    ('quality', 'rejected_rows', '>', 5, '%', 'Rejected rows ÷ rows received × 100.'),
    ('quality', 'warning_rows', '>', 10, '%', 'Accepted rows with a warning ÷ rows received × 100.'),
    ('quality', 'patients_without_birth_date', '>', 5, '%', 'Accepted patients without a birth date.'),
    ('quality', 'patients_without_resident_id', '>', 30, '%',
     'Accepted patients without a resident ID number (RID): they can only be linked probabilistically.'),
    ('quality', 'encounters_without_diagnosis', '>', 5, '%', 'Accepted encounters without a primary diagnosis.'),
    ('quality', 'encounters_zero_cost', '>', 5, '%', 'Accepted encounters with a total cost of 0.'),
    ('quality', 'stays_over_60_days', '>', 2, '%', 'Discharged inpatients whose stay exceeded 60 days.'),
    ('quality', 'exams_local_code', '>', 20, '%', 'Exam reports with only a local code: they cannot be recognised across facilities.'),
    ('quality', 'purchases_local_code', '>', 10, '%', 'Purchase lines with only a local item code: their prices cannot be compared.');

-- The facilities a report covers and the unit each one counts towards at `unit_level`:
-- itself ('facility'), its county, its city, or its tier. `area` is a province, city or county
-- code (everything inside it); NULL arguments do not filter.
CREATE FUNCTION reports.facility_units(unit_level text, area text, only_tier int, only_facility text)
RETURNS TABLE (facility_id int, unit_code text, unit_name text, tier smallint, is_primary boolean, staffed_beds int)
LANGUAGE sql STABLE AS $$
    WITH RECURSIVE inside (code) AS (
        SELECT code FROM registry.regions WHERE code = area OR area IS NULL
        UNION
        SELECT r.code FROM registry.regions r JOIN inside i ON r.parent_code = i.code
    )
    SELECT f.id,
           CASE coalesce(unit_level, 'facility')
               WHEN 'county' THEN county.code WHEN 'city' THEN coalesce(city.code, county.code)
               WHEN 'tier' THEN f.tier::text ELSE f.code END,
           CASE coalesce(unit_level, 'facility')
               WHEN 'county' THEN county.name WHEN 'city' THEN coalesce(city.name, county.name)
               WHEN 'tier' THEN (ARRAY['一级 primary', '二级 secondary', '三级 tertiary'])[f.tier] ELSE f.name END,
           f.tier, registry.is_primary(f.tier, f.type), f.staffed_beds
    FROM registry.facilities f
    JOIN registry.regions county ON county.code = f.region_code
    LEFT JOIN registry.regions city ON city.code = county.parent_code
    WHERE f.region_code IN (SELECT code FROM inside)
      AND (only_tier IS NULL OR f.tier = only_tier)
      AND (only_facility IS NULL OR f.code = only_facility)
$$;

-- A report's months: `first_text` and `last_text` as YYYY-MM; by default the 12 months up to the current
-- one (China time).
CREATE FUNCTION reports.period(first_text text, last_text text)
RETURNS TABLE (first_month date, last_month date)
LANGUAGE sql STABLE AS $$
    SELECT coalesce(to_date(first_text, 'YYYY-MM'), l - interval '11 months')::date, l
    FROM (SELECT coalesce(to_date(last_text, 'YYYY-MM'), date_trunc('month', now() AT TIME ZONE 'Asia/Shanghai')::date) AS l) b
$$;

-- Per facility and month, the parts every efficiency indicator is built from. Bed-days come from
-- the midnight census when the facility sent one that month ('census'), else from the stays
-- ('stays': staffed beds as registered × days of the month). `prior_*` are the same month a year earlier.
CREATE VIEW reports.facility_month_parts AS
SELECT m.facility_id, m.month,
       m.outpatient_visits + m.emergency_visits                              AS visits,
       m.discharges, m.inpatient_days,
       CASE WHEN m.census_nights > 0 THEN 'census' ELSE 'stays' END           AS bed_days_source,
       CASE WHEN m.census_nights > 0 THEN m.census_occupied_bed_days ELSE m.stay_bed_days END AS occupied_bed_days,
       CASE WHEN m.census_nights > 0 THEN m.census_staffed_bed_days
            ELSE f.staffed_beds::bigint * extract(day FROM m.month + interval '1 month' - interval '1 day')::bigint END
                                                                              AS available_bed_days,
       CASE WHEN m.census_nights > 0 THEN m.census_nights
            ELSE extract(day FROM m.month + interval '1 month' - interval '1 day')::bigint END AS bed_nights,
       m.outpatient_cost + m.inpatient_cost                                   AS total_cost,
       m.drug_cost, m.consumables_cost, m.outpatient_cost, m.inpatient_cost,
       p.outpatient_visits + p.emergency_visits                              AS prior_visits,
       p.outpatient_cost                                                     AS prior_outpatient_cost,
       p.discharges                                                          AS prior_discharges,
       p.inpatient_cost                                                      AS prior_inpatient_cost
FROM reports.facility_month m
JOIN registry.facilities f ON f.id = m.facility_id
LEFT JOIN reports.facility_month p ON p.facility_id = m.facility_id AND p.month = (m.month - interval '1 year')::date;

-- A report's nights: `first_night` and `last_night`; by default the 30 nights up to yesterday
-- (China time), and never more than 366.
CREATE FUNCTION reports.nights(first_night date, last_night date)
RETURNS TABLE (first_night date, last_night date)
LANGUAGE sql STABLE AS $$
    SELECT greatest(coalesce(first_night, l - 29), l - 365), l
    FROM (SELECT coalesce(last_night, (now() AT TIME ZONE 'Asia/Shanghai')::date - 1) AS l) b
$$;

-- Whether a value breaches a threshold of reports.thresholds (`value <comparator> threshold`).
CREATE FUNCTION reports.breaches(value numeric, comparator text, threshold numeric) RETURNS boolean
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN CASE comparator WHEN '>' THEN value > threshold WHEN '<' THEN value < threshold END;

-- Every data-quality measure of a batch: its checks, and the rejected and warning rows of its files.
CREATE VIEW ingest.batch_measures AS
SELECT batch_id, check_id, failing, applicable FROM ingest.batch_checks
UNION ALL
SELECT t.batch_id, x.check_id, x.failing, x.applicable
FROM (SELECT batch_id, sum(received_rows) AS received, sum(rejected) AS rejected, sum(warnings) AS warnings
      FROM ingest.batch_files GROUP BY batch_id HAVING sum(received_rows) IS NOT NULL) t
CROSS JOIN LATERAL (VALUES ('rejected_rows', t.rejected, t.received), ('warning_rows', t.warnings, t.received)) x (check_id, failing, applicable);

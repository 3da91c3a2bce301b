-- placeholders: {batch_patients}
-- parameters: $1 facility, $2 touched_from
-- Finds, for every referral sent by or to facility $1 (NULL: every facility) from 90 days before
-- $2 (the earliest date a batch touched; NULL: all of them) — enough for the completion window and
-- for an encounter naming a referral sent up to a quarter earlier — what the platform can see of
-- it, never trusting the sender's status:
--   * completion: the earliest encounter at the receiving facility that names the referral
--     (referral_from = the sender's code, referral_id = its id); or else the earliest encounter
--     there of the same regional person (emr.patients.person_id) starting within the window
--     (setting referral_completion_days, default 30: day 30 counts, day 31 does not);
--   * days to completion: calendar days (China time) from the referral to that encounter;
--   * origin: 'inpatient' when referred during a stay at the sender, else 'outpatient'.
-- Updates the referrals whose findings changed and returns their (sending facility, month).
--
-- A batch runs this beside the merge of its own patients (in another transaction: see
-- BatchMerge), so its patient records are not in emr.patients yet: the batch_patients
-- placeholder is the facility's records the batch sends — accepted, and not older than the stored one (the
-- batch's night) — which replace the stored ones; their person is the stored person of their ID
-- hash (a person the batch itself adds has no record anywhere else, so nothing matches it yet).
-- It is empty when the patients are already merged, or for a rebuild.
WITH settings AS (
    SELECT registry.setting_number('referral_completion_days', 30)::int AS window_days
), candidates AS (
    SELECT r.facility_id, r.referral_id, r.patient_id, r.to_facility_id, f.code AS from_code,
           (r.referred_at AT TIME ZONE 'Asia/Shanghai')::date AS referred_on,
           CASE WHEN b.patient_id IS NULL THEN p.person_id WHEN b.op = 'U' THEN bp.id END AS person_id
    FROM referral.referrals r
    JOIN registry.facilities f ON f.id = r.facility_id
    LEFT JOIN {batch_patients} b ON r.facility_id = $1::int AND b.patient_id = r.patient_id
    LEFT JOIN emr.persons bp ON bp.id_hash = b.id_hash
    LEFT JOIN emr.patients p ON p.facility_id = r.facility_id AND p.patient_id = r.patient_id
    WHERE ($1::int IS NULL OR r.facility_id = $1::int OR r.to_facility_id = $1::int)
      AND ($2::date IS NULL OR r.referred_at >= $2::date - 90)
), bounds AS (
    -- The receivers and the days a same-person encounter may start on, for every candidate.
    SELECT array_agg(DISTINCT c.to_facility_id) AS receivers,
           (min(c.referred_on)::timestamp AT TIME ZONE 'Asia/Shanghai') AS first_start,
           ((max(c.referred_on) + max(settings.window_days) + 1)::timestamp AT TIME ZONE 'Asia/Shanghai') AS last_start
    FROM candidates c CROSS JOIN settings
), named AS (
    SELECT DISTINCT ON (c.facility_id, c.referral_id)
           c.facility_id, c.referral_id, e.encounter_id,
           greatest((e.start_time AT TIME ZONE 'Asia/Shanghai')::date - c.referred_on, 0) AS days
    FROM candidates c
    JOIN emr.encounters e ON e.facility_id = c.to_facility_id AND e.referral_id = c.referral_id AND e.referral_from = c.from_code
    ORDER BY c.facility_id, c.referral_id, e.start_time, e.encounter_id
), receiving AS (
    -- The records the receiving facility holds of each candidate's person: the stored ones
    -- (unless the batch replaces them), and the batch's own.
    SELECT c.facility_id, c.referral_id, rp.patient_id
    FROM candidates c
    JOIN emr.patients rp ON rp.facility_id = c.to_facility_id AND rp.person_id = c.person_id
    WHERE NOT (rp.facility_id = $1::int AND EXISTS (SELECT 1 FROM {batch_patients} s WHERE s.patient_id = rp.patient_id))
    UNION ALL
    SELECT c.facility_id, c.referral_id, s.patient_id
    FROM candidates c
    JOIN emr.persons pe ON pe.id = c.person_id
    JOIN {batch_patients} s ON s.id_hash = pe.id_hash AND s.op = 'U'
    WHERE c.to_facility_id = $1::int
), same_person AS (
    SELECT DISTINCT ON (c.facility_id, c.referral_id)
           c.facility_id, c.referral_id, e.encounter_id,
           (e.start_time AT TIME ZONE 'Asia/Shanghai')::date - c.referred_on AS days
    FROM candidates c
    CROSS JOIN settings
    CROSS JOIN bounds b
    JOIN receiving rp ON rp.facility_id = c.facility_id AND rp.referral_id = c.referral_id
    JOIN emr.encounters e ON e.facility_id = c.to_facility_id AND e.patient_id = rp.patient_id
    WHERE e.facility_id = ANY (b.receivers) AND e.start_time >= b.first_start AND e.start_time < b.last_start
      AND e.start_time >= (c.referred_on::timestamp AT TIME ZONE 'Asia/Shanghai')
      AND e.start_time < ((c.referred_on + settings.window_days + 1)::timestamp AT TIME ZONE 'Asia/Shanghai')
    ORDER BY c.facility_id, c.referral_id, e.start_time, e.encounter_id
), inpatient AS (
    -- Referrals made during a stay at the sender (a join, not a per-row EXISTS: either plan works).
    SELECT DISTINCT c.facility_id, c.referral_id
    FROM candidates c
    JOIN emr.encounters s ON s.facility_id = c.facility_id AND s.patient_id = c.patient_id AND s.encounter_type = 'I'
    WHERE (s.start_time AT TIME ZONE 'Asia/Shanghai')::date <= c.referred_on
      AND (s.end_time IS NULL OR (s.end_time AT TIME ZONE 'Asia/Shanghai')::date >= c.referred_on)
), found AS (
    SELECT c.facility_id, c.referral_id,
           CASE WHEN i.referral_id IS NOT NULL THEN 'inpatient' ELSE 'outpatient' END AS origin,
           coalesce(n.encounter_id, sp.encounter_id) AS encounter_id,
           CASE WHEN n.encounter_id IS NOT NULL THEN 'named' WHEN sp.encounter_id IS NOT NULL THEN 'same_person' END AS method,
           coalesce(n.days, sp.days) AS days
    FROM candidates c
    LEFT JOIN inpatient i ON i.facility_id = c.facility_id AND i.referral_id = c.referral_id
    LEFT JOIN named n ON n.facility_id = c.facility_id AND n.referral_id = c.referral_id
    LEFT JOIN same_person sp ON sp.facility_id = c.facility_id AND sp.referral_id = c.referral_id
)
UPDATE referral.referrals r SET
    origin = f.origin, completed_encounter_id = f.encounter_id, completion_method = f.method, completion_days = f.days
FROM found f
WHERE r.facility_id = f.facility_id AND r.referral_id = f.referral_id
  AND (r.origin, r.completed_encounter_id, r.completion_method, r.completion_days)
      IS DISTINCT FROM (f.origin, f.encounter_id, f.method, f.days)
RETURNING r.facility_id, date_trunc('month', r.referred_at AT TIME ZONE 'Asia/Shanghai')::date::text

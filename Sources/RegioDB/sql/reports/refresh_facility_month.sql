-- parameters: $1 facilities, $2 months
-- Recomputes reports.facility_month for the given (facility, month) keys from emr.encounters and
-- emr.bed_census. $1 facility ids, $2 months (first days), as parallel arrays. The same statement
-- rebuilds everything when given every key, which is how tests check the incremental refresh.
-- A row is kept when the facility had encounters or a census in the month, or an extract of one
-- of its nights loaded (a month of zero visits is a fact worth showing).
-- (Two statements: an INSERT does not see a DELETE of the same statement.)
DELETE FROM reports.facility_month f
USING unnest($1::int[], $2::date[]) AS k (facility_id, month)
WHERE f.facility_id = k.facility_id AND f.month = k.month;

WITH keys AS (
    SELECT DISTINCT k.facility_id, k.month, (k.month + interval '1 month')::date AS next_month,
           (k.month::timestamp AT TIME ZONE 'Asia/Shanghai') AS starts,
           ((k.month + interval '1 month')::timestamp AT TIME ZONE 'Asia/Shanghai') AS ends,
           -- The last night a stay without a discharge is counted for: the facility's latest
           -- extract (loaded, or being merged right now).
           (SELECT max(b.business_date) FROM ingest.batches b
            WHERE b.facility_id = k.facility_id AND b.status IN ('loaded', 'validating') AND NOT b.dry_run) AS latest_night
    FROM unnest($1::int[], $2::date[]) AS k (facility_id, month)
), stays AS (
    -- Dates (China time) an encounter starts and ends; `nights_end` is the first date whose
    -- midnight the patient no longer occupies a bed.
    SELECT k.facility_id, k.month, k.next_month, k.starts, k.ends, e.encounter_type, e.start_time, e.end_time,
           e.total_cost, e.drug_cost, e.consumables_cost,
           (e.start_time AT TIME ZONE 'Asia/Shanghai')::date AS start_date,
           coalesce((e.end_time AT TIME ZONE 'Asia/Shanghai')::date, greatest(e.as_of, k.latest_night) + 1) AS nights_end
    FROM keys k
    JOIN emr.encounters e
      ON e.facility_id = k.facility_id
     AND ((e.start_time >= k.starts AND e.start_time < k.ends)
          OR (e.end_time >= k.starts AND e.end_time < k.ends)
          OR (e.encounter_type = 'I' AND e.start_time < k.ends AND (e.end_time IS NULL OR e.end_time >= k.ends)))
), facts AS (
    SELECT facility_id, month,
           count(*) FILTER (WHERE encounter_type = 'O' AND start_time >= starts AND start_time < ends) AS outpatient_visits,
           count(*) FILTER (WHERE encounter_type = 'E' AND start_time >= starts AND start_time < ends) AS emergency_visits,
           count(*) FILTER (WHERE encounter_type = 'I' AND start_time >= starts AND start_time < ends) AS admissions,
           count(*) FILTER (WHERE encounter_type = 'I' AND end_time >= starts AND end_time < ends) AS discharges,
           coalesce(sum(greatest((end_time AT TIME ZONE 'Asia/Shanghai')::date - start_date, 1))
                    FILTER (WHERE encounter_type = 'I' AND end_time >= starts AND end_time < ends), 0) AS inpatient_days,
           coalesce(sum(total_cost) FILTER (WHERE encounter_type IN ('O', 'E') AND start_time >= starts AND start_time < ends), 0) AS outpatient_cost,
           coalesce(sum(total_cost) FILTER (WHERE encounter_type = 'I' AND end_time >= starts AND end_time < ends), 0) AS inpatient_cost,
           coalesce(sum(drug_cost) FILTER (WHERE (encounter_type IN ('O', 'E') AND start_time >= starts AND start_time < ends)
                                              OR (encounter_type = 'I' AND end_time >= starts AND end_time < ends)), 0) AS drug_cost,
           coalesce(sum(consumables_cost) FILTER (WHERE (encounter_type IN ('O', 'E') AND start_time >= starts AND start_time < ends)
                                                     OR (encounter_type = 'I' AND end_time >= starts AND end_time < ends)), 0) AS consumables_cost,
           coalesce(sum(greatest(least(nights_end, next_month) - greatest(start_date, month), 0))
                    FILTER (WHERE encounter_type = 'I'), 0) AS stay_bed_days
    FROM stays
    GROUP BY facility_id, month
), census AS (
    SELECT k.facility_id, k.month, count(DISTINCT c.census_date) AS nights,
           sum(c.occupied_beds) AS occupied, sum(c.staffed_beds) AS staffed
    FROM keys k
    JOIN emr.bed_census c ON c.facility_id = k.facility_id AND c.census_date >= k.month AND c.census_date < k.next_month
    GROUP BY k.facility_id, k.month
)
INSERT INTO reports.facility_month (facility_id, month, outpatient_visits, emergency_visits, admissions, discharges,
                                    inpatient_days, outpatient_cost, inpatient_cost, drug_cost, consumables_cost,
                                    stay_bed_days, census_nights, census_occupied_bed_days, census_staffed_bed_days)
SELECT k.facility_id, k.month,
       coalesce(f.outpatient_visits, 0), coalesce(f.emergency_visits, 0), coalesce(f.admissions, 0),
       coalesce(f.discharges, 0), coalesce(f.inpatient_days, 0), coalesce(f.outpatient_cost, 0),
       coalesce(f.inpatient_cost, 0), coalesce(f.drug_cost, 0), coalesce(f.consumables_cost, 0),
       coalesce(f.stay_bed_days, 0), coalesce(c.nights, 0), coalesce(c.occupied, 0), coalesce(c.staffed, 0)
FROM (SELECT DISTINCT facility_id, month, next_month FROM keys) k
LEFT JOIN facts f ON f.facility_id = k.facility_id AND f.month = k.month
LEFT JOIN census c ON c.facility_id = k.facility_id AND c.month = k.month
WHERE f.facility_id IS NOT NULL OR c.facility_id IS NOT NULL
   OR EXISTS (SELECT 1 FROM ingest.batches b
              WHERE b.facility_id = k.facility_id AND b.status IN ('loaded', 'validating') AND NOT b.dry_run
                AND b.business_date >= k.month AND b.business_date < k.next_month)

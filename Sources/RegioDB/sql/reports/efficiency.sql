-- parameters: $1 level, $2 region, $3 tier, $4 facility, $5 from, $6 to
-- efficiency: per unit and month, from the rollups (reports.facility_month_parts): average
-- length of stay, bed occupancy and turnover, drug and consumables shares, cost per visit and per
-- stay and their growth against the same month a year earlier. Every ratio comes with its parts.
-- $1 level (facility | county | city | tier; default facility), $2 region, $3 tier, $4 facility,
-- $5 first month, $6 last month.
WITH parts AS (
    SELECT u.unit_code, u.unit_name, m.*,
           -- Average staffed beds over the nights counted: sums correctly over facilities.
           m.available_bed_days::numeric / nullif(m.bed_nights, 0) AS staffed_beds_average
    FROM reports.facility_units($1::text, $2::text, $3::int, $4::text) u
    JOIN reports.facility_month_parts m ON m.facility_id = u.facility_id
    CROSS JOIN reports.period($5::text, $6::text) p
    WHERE m.month BETWEEN p.first_month AND p.last_month
), sums AS (
    SELECT unit_code, unit_name, month,
           sum(discharges) AS discharges, sum(inpatient_days) AS inpatient_days,
           CASE WHEN min(bed_days_source) = max(bed_days_source) THEN min(bed_days_source) ELSE 'mixed' END AS bed_days_source,
           sum(occupied_bed_days) AS occupied_bed_days, sum(available_bed_days) AS available_bed_days,
           sum(staffed_beds_average) AS staffed_beds_average,
           sum(total_cost) AS total_cost, sum(drug_cost) AS drug_cost, sum(consumables_cost) AS consumables_cost,
           sum(visits) AS visits, sum(outpatient_cost) AS outpatient_cost, sum(inpatient_cost) AS inpatient_cost,
           sum(prior_visits) AS prior_visits, sum(prior_outpatient_cost) AS prior_outpatient_cost,
           sum(prior_discharges) AS prior_discharges, sum(prior_inpatient_cost) AS prior_inpatient_cost
    FROM parts GROUP BY unit_code, unit_name, month
)
SELECT coalesce($1::text, 'facility')                                          AS level,
       unit_code,
       unit_name,
       to_char(month, 'YYYY-MM')                                                 AS month,
       discharges::bigint                                                        AS discharges,
       inpatient_days::bigint                                                    AS inpatient_days,
       round(inpatient_days::numeric / nullif(discharges, 0), 2)                 AS average_length_of_stay,
       bed_days_source,
       occupied_bed_days::bigint                                                 AS occupied_bed_days,
       available_bed_days::bigint                                                AS available_bed_days,
       round(100 * occupied_bed_days::numeric / nullif(available_bed_days, 0), 1) AS bed_occupancy_rate,
       round(staffed_beds_average, 2)                                            AS average_staffed_beds,
       round(discharges / nullif(staffed_beds_average, 0), 2)                    AS bed_turnover,
       total_cost::numeric(16, 2)                                                AS total_cost,
       drug_cost::numeric(16, 2)                                                 AS drug_cost,
       round(100 * drug_cost / nullif(total_cost, 0), 1)                         AS drug_share,
       consumables_cost::numeric(16, 2)                                          AS consumables_cost,
       round(100 * consumables_cost / nullif(total_cost, 0), 1)                  AS consumables_share,
       visits::bigint                                                            AS outpatient_emergency_visits,
       outpatient_cost::numeric(16, 2)                                           AS outpatient_cost,
       round(outpatient_cost / nullif(visits, 0), 2)                             AS cost_per_visit,
       inpatient_cost::numeric(16, 2)                                            AS inpatient_cost,
       round(inpatient_cost / nullif(discharges, 0), 2)                          AS cost_per_stay,
       prior_visits::bigint                                                      AS prior_year_visits,
       prior_outpatient_cost::numeric(16, 2)                                     AS prior_year_outpatient_cost,
       round(100 * ((outpatient_cost / nullif(visits, 0)) / nullif(prior_outpatient_cost / nullif(prior_visits, 0), 0) - 1), 1)
                                                                                 AS cost_per_visit_growth,
       prior_discharges::bigint                                                  AS prior_year_discharges,
       prior_inpatient_cost::numeric(16, 2)                                      AS prior_year_inpatient_cost,
       round(100 * ((inpatient_cost / nullif(discharges, 0)) / nullif(prior_inpatient_cost / nullif(prior_discharges, 0), 0) - 1), 1)
                                                                                 AS cost_per_stay_growth
FROM sums
ORDER BY unit_code, month

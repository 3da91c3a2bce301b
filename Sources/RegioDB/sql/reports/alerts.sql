-- parameters: $1 region, $2 tier, $3 facility, $4 from, $5 to
-- alerts: facilities breaching a bureau threshold (reports.thresholds, kind 'alert') or far from
-- their peers — facilities of the same tier in the same month, region-wide — by the modified
-- z-score 0.6745 × (value − peer median) ÷ MAD (Iglewicz–Hoaglin), when at least 5 peers have a
-- value and their MAD is not 0. Values come from the rollups, as in `efficiency`.
-- $1 region, $2 tier, $3 facility, $4 first month, $5 last month.
WITH measured AS (
    SELECT m.facility_id, m.month, f.tier, v.indicator, v.numerator, v.denominator,
           v.factor * v.numerator / nullif(v.denominator, 0) AS value
    FROM reports.facility_month_parts m
    JOIN registry.facilities f ON f.id = m.facility_id
    CROSS JOIN reports.period($4::text, $5::text) p
    CROSS JOIN LATERAL (VALUES
        ('drug_share', m.drug_cost, m.total_cost, 100::numeric),
        ('consumables_share', m.consumables_cost, m.total_cost, 100),
        ('cost_per_visit', m.outpatient_cost, m.visits::numeric, 1),
        ('cost_per_stay', m.inpatient_cost, m.discharges::numeric, 1),
        ('average_length_of_stay', m.inpatient_days::numeric, m.discharges::numeric, 1),
        ('bed_occupancy_rate', m.occupied_bed_days::numeric, m.available_bed_days::numeric, 100),
        -- Growth: (this month's cost per visit ÷ a year earlier's − 1) × 100.
        ('cost_per_visit_growth', m.outpatient_cost * m.prior_visits - m.prior_outpatient_cost * m.visits,
         m.prior_outpatient_cost * m.visits, 100),
        ('cost_per_stay_growth', m.inpatient_cost * m.prior_discharges - m.prior_inpatient_cost * m.discharges,
         m.prior_inpatient_cost * m.discharges, 100)
    ) AS v (indicator, numerator, denominator, factor)
    WHERE m.month BETWEEN p.first_month AND p.last_month
), peers AS (
    SELECT tier, month, indicator, count(*) AS n,
           percentile_cont(0.5) WITHIN GROUP (ORDER BY value) AS median
    FROM measured WHERE value IS NOT NULL AND indicator NOT LIKE '%growth'
    GROUP BY tier, month, indicator
), deviations AS (
    SELECT v.tier, v.month, v.indicator,
           percentile_cont(0.5) WITHIN GROUP (ORDER BY abs(v.value - p.median)) AS mad
    FROM measured v JOIN peers p USING (tier, month, indicator)
    WHERE v.value IS NOT NULL
    GROUP BY v.tier, v.month, v.indicator
), scope AS (
    SELECT facility_id FROM reports.facility_units('facility', $1::text, $2::int, $3::text)
), flagged AS (
    SELECT v.*, 'threshold' AS rule, t.threshold, p.median, p.n, NULL::double precision AS z
    FROM measured v
    JOIN reports.thresholds t ON t.kind = 'alert' AND t.indicator = v.indicator
    LEFT JOIN peers p ON p.tier = v.tier AND p.month = v.month AND p.indicator = v.indicator
    WHERE reports.breaches(v.value, t.comparator, t.threshold)
    UNION ALL
    SELECT v.*, 'peer', t.threshold, p.median, p.n, 0.6745 * (v.value - p.median) / d.mad
    FROM measured v
    JOIN peers p ON p.tier = v.tier AND p.month = v.month AND p.indicator = v.indicator
    JOIN deviations d ON d.tier = v.tier AND d.month = v.month AND d.indicator = v.indicator
    JOIN reports.thresholds t ON t.kind = 'alert' AND t.indicator = 'peer_modified_z'
    WHERE p.n >= 5 AND d.mad > 0 AND reports.breaches(abs(0.6745 * (v.value - p.median) / d.mad)::numeric, t.comparator, t.threshold)
)
SELECT f.code                                   AS facility_code,
       f.name                                   AS facility_name,
       f.tier::bigint                           AS tier,
       f.region_code                            AS county_code,
       to_char(a.month, 'YYYY-MM')              AS month,
       a.indicator,
       a.rule,
       round(a.value, 2)                        AS value,
       a.threshold                              AS threshold,
       round(a.median::numeric, 2)              AS peer_median,
       a.n::bigint                              AS peers,
       round(a.z::numeric, 2)                   AS modified_z,
       round(a.numerator, 2)                    AS numerator,
       round(a.denominator, 2)                  AS denominator
FROM flagged a
JOIN registry.facilities f ON f.id = a.facility_id
WHERE a.facility_id IN (SELECT facility_id FROM scope)
ORDER BY a.month, f.code, a.indicator, a.rule

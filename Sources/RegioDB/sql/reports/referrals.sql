-- parameters: $1 level, $2 region, $3 tier, $4 facility, $5 from, $6 to
-- referrals: referrals sent by the unit's facilities per month (China time, by referral time),
-- by direction derived from the registered tiers (up: to a higher tier), the tier matrix, 下转患者人次数,
-- the proposed up- and down-referral rates, completion found by the platform and median days.
-- Units with visits but no referrals show zeros (their rates are real zeros).
-- $1 level (facility | county | city | tier; default facility), $2 region, $3 tier (of the
-- sender), $4 facility (the sender), $5 first month, $6 last month.
WITH units AS (
    SELECT * FROM reports.facility_units($1::text, $2::text, $3::int, $4::text)
), months AS (
    SELECT * FROM reports.period($5::text, $6::text)
), sent AS (
    SELECT u.unit_code, u.unit_name, r.month, u.is_primary, r.from_tier, r.to_tier, r.origin,
           r.referrals, r.completed, r.completion_days
    FROM units u
    JOIN reports.referral_month r ON r.facility_id = u.facility_id
    CROSS JOIN months p
    WHERE r.month BETWEEN p.first_month AND p.last_month
), counts AS (
    SELECT unit_code, unit_name, month,
           sum(referrals) AS referrals,
           sum(referrals) FILTER (WHERE to_tier > from_tier) AS up,
           sum(referrals) FILTER (WHERE to_tier < from_tier) AS down,
           sum(referrals) FILTER (WHERE to_tier = from_tier) AS lateral,
           sum(referrals) FILTER (WHERE to_tier < from_tier AND origin = 'outpatient') AS down_outpatient,
           sum(referrals) FILTER (WHERE to_tier < from_tier AND origin = 'inpatient') AS down_inpatient,
           sum(referrals) FILTER (WHERE to_tier > from_tier AND is_primary) AS primary_up,
           sum(referrals) FILTER (WHERE to_tier < from_tier AND from_tier >= 2) AS upper_down,
           sum(completed) AS completed,
           sum(referrals) FILTER (WHERE from_tier = 1 AND to_tier = 1) AS t1_t1,
           sum(referrals) FILTER (WHERE from_tier = 1 AND to_tier = 2) AS t1_t2,
           sum(referrals) FILTER (WHERE from_tier = 1 AND to_tier = 3) AS t1_t3,
           sum(referrals) FILTER (WHERE from_tier = 2 AND to_tier = 1) AS t2_t1,
           sum(referrals) FILTER (WHERE from_tier = 2 AND to_tier = 2) AS t2_t2,
           sum(referrals) FILTER (WHERE from_tier = 2 AND to_tier = 3) AS t2_t3,
           sum(referrals) FILTER (WHERE from_tier = 3 AND to_tier = 1) AS t3_t1,
           sum(referrals) FILTER (WHERE from_tier = 3 AND to_tier = 2) AS t3_t2,
           sum(referrals) FILTER (WHERE from_tier = 3 AND to_tier = 3) AS t3_t3
    FROM sent GROUP BY unit_code, unit_name, month
), days AS (
    -- The completion-day histograms summed over the unit, then their lower median
    -- (the first day by which half of the completed referrals had completed).
    SELECT unit_code, month, d.day - 1 AS day, sum(d.n) AS n
    FROM sent CROSS JOIN unnest(completion_days) WITH ORDINALITY AS d (n, day)
    GROUP BY unit_code, month, d.day
), medians AS (
    SELECT unit_code, month, min(day) FILTER (WHERE 2 * running >= total) AS median_days
    FROM (SELECT unit_code, month, day,
                 sum(n) OVER (PARTITION BY unit_code, month ORDER BY day) AS running,
                 sum(n) OVER (PARTITION BY unit_code, month) AS total
          FROM days) c
    WHERE total > 0
    GROUP BY unit_code, month
), denominators AS (
    -- Visits of the unit's primary facilities and discharges of its tier-2/3 facilities.
    SELECT u.unit_code, u.unit_name, m.month,
           sum(m.outpatient_visits + m.emergency_visits) FILTER (WHERE u.is_primary) AS primary_visits,
           sum(m.discharges) FILTER (WHERE u.tier >= 2) AS upper_discharges
    FROM units u
    JOIN reports.facility_month m ON m.facility_id = u.facility_id
    CROSS JOIN months p
    WHERE m.month BETWEEN p.first_month AND p.last_month
    GROUP BY u.unit_code, u.unit_name, m.month
)
SELECT coalesce($1::text, 'facility')                                            AS level,
       unit_code,
       unit_name,
       to_char(month, 'YYYY-MM')                                                   AS month,
       coalesce(c.referrals, 0)::bigint                                            AS referrals_sent,
       coalesce(c.up, 0)::bigint                                                   AS up_referrals,
       coalesce(c.down, 0)::bigint                                                 AS down_referrals,
       coalesce(c.lateral, 0)::bigint                                              AS lateral_referrals,
       coalesce(c.down_outpatient, 0)::bigint                                      AS down_referrals_outpatient,
       coalesce(c.down_inpatient, 0)::bigint                                       AS down_referrals_inpatient,
       (coalesce(c.down_outpatient, 0) + coalesce(c.down_inpatient, 0))::bigint    AS down_referral_patients,
       coalesce(c.primary_up, 0)::bigint                                           AS primary_up_referrals,
       coalesce(d.primary_visits, 0)::bigint                                       AS primary_visits,
       round(100 * coalesce(c.primary_up, 0)::numeric / nullif(d.primary_visits, 0), 2) AS up_referral_rate,
       coalesce(c.upper_down, 0)::bigint                                           AS upper_tier_down_referrals,
       coalesce(d.upper_discharges, 0)::bigint                                     AS upper_tier_discharges,
       round(100 * coalesce(c.upper_down, 0)::numeric / nullif(d.upper_discharges, 0), 2) AS down_referral_rate,
       coalesce(c.completed, 0)::bigint                                            AS completed,
       round(100 * c.completed::numeric / nullif(c.referrals, 0), 1)               AS completion_rate,
       md.median_days::bigint                                                      AS median_days_to_completion,
       coalesce(c.t1_t1, 0)::bigint AS tier1_to_tier1, coalesce(c.t1_t2, 0)::bigint AS tier1_to_tier2,
       coalesce(c.t1_t3, 0)::bigint AS tier1_to_tier3, coalesce(c.t2_t1, 0)::bigint AS tier2_to_tier1,
       coalesce(c.t2_t2, 0)::bigint AS tier2_to_tier2, coalesce(c.t2_t3, 0)::bigint AS tier2_to_tier3,
       coalesce(c.t3_t1, 0)::bigint AS tier3_to_tier1, coalesce(c.t3_t2, 0)::bigint AS tier3_to_tier2,
       coalesce(c.t3_t3, 0)::bigint AS tier3_to_tier3
FROM counts c
FULL JOIN denominators d USING (unit_code, unit_name, month)
LEFT JOIN medians md USING (unit_code, month)
ORDER BY unit_code, month

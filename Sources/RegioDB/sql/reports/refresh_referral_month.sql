-- parameters: $1 facilities, $2 months
-- Recomputes reports.referral_month for the given (sending facility, month) keys from
-- referral.referrals. $1 facility ids, $2 months (first days), as parallel arrays. Tiers are the
-- registered tiers at refresh time; direction follows from them (up: to a higher tier).
DELETE FROM reports.referral_month m
USING unnest($1::int[], $2::date[]) AS k (facility_id, month)
WHERE m.facility_id = k.facility_id AND m.month = k.month;

WITH keys AS (
    SELECT DISTINCT k.facility_id, k.month,
           (k.month::timestamp AT TIME ZONE 'Asia/Shanghai') AS starts,
           ((k.month + interval '1 month')::timestamp AT TIME ZONE 'Asia/Shanghai') AS ends
    FROM unnest($1::int[], $2::date[]) AS k (facility_id, month)
), sent AS (
    SELECT k.facility_id, k.month, src.tier AS from_tier, dst.tier AS to_tier, coalesce(r.origin, 'outpatient') AS origin,
           r.completion_method, r.completion_days
    FROM keys k
    JOIN referral.referrals r ON r.facility_id = k.facility_id AND r.referred_at >= k.starts AND r.referred_at < k.ends
    JOIN registry.facilities src ON src.id = r.facility_id
    JOIN registry.facilities dst ON dst.id = r.to_facility_id
), days AS (
    SELECT facility_id, month, to_tier, origin, least(completion_days, 31) AS day, count(*) AS n
    FROM sent WHERE completion_days IS NOT NULL
    GROUP BY 1, 2, 3, 4, 5
)
INSERT INTO reports.referral_month (facility_id, month, from_tier, to_tier, origin, referrals, completed, completed_named,
                                    completion_days)
SELECT facility_id, month, from_tier, to_tier, origin,
       count(*), count(completion_method), count(*) FILTER (WHERE completion_method = 'named'),
       ARRAY(SELECT coalesce(d.n, 0) FROM generate_series(0, 31) AS g (day)
             LEFT JOIN days d ON d.facility_id = s.facility_id AND d.month = s.month AND d.to_tier = s.to_tier
                             AND d.origin = s.origin AND d.day = g.day
             ORDER BY g.day)
FROM sent s
GROUP BY facility_id, month, from_tier, to_tier, origin

-- placeholders: {staging}
-- parameters: $1 facility
-- The months (China time) of the referrals a batch sends or retracts, and of the stored rows they
-- replace: their rollups change. Run before the merge.
SELECT DISTINCT date_trunc('month', t AT TIME ZONE 'Asia/Shanghai')::date::text
FROM (
    SELECT s.referred_at FROM {staging} s WHERE NOT s._rejected AND s._op = 'U'
    UNION ALL
    SELECT r.referred_at FROM referral.referrals r JOIN {staging} s ON r.referral_id = s.referral_id
    WHERE r.facility_id = $1 AND NOT s._rejected
) months (t)

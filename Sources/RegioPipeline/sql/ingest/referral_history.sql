-- placeholders: {staging}
-- parameters: $1 batch, $2 facility
-- Appends the status each accepted referral row reports, unless the latest status recorded for
-- that referral says the same. Run after the referrals merge, in the batch's transaction.
WITH latest AS (
    SELECT DISTINCT ON (h.referral_id) h.referral_id, h.status, h.status_at
    FROM referral.status_history h
    WHERE h.facility_id = $2 AND h.referral_id IN (SELECT referral_id FROM {staging})
    ORDER BY h.referral_id, h.recorded_at DESC, h.batch_id DESC
)
INSERT INTO referral.status_history (facility_id, referral_id, status, status_at, batch_id)
SELECT $2, s.referral_id, s.status, s.status_at, $1
FROM {staging} s
LEFT JOIN latest l ON l.referral_id = s.referral_id
WHERE NOT s._rejected AND s._op = 'U'
  AND (l.referral_id IS NULL OR l.status IS DISTINCT FROM s.status OR l.status_at IS DISTINCT FROM s.status_at)

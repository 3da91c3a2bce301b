-- Appends the status each accepted referral row reports, unless its latest recorded status for
-- that referral says the same. Run after the referrals merge, in the batch's transaction.
INSERT INTO referral.status_history (facility_id, referral_id, status, status_at, batch_id)
SELECT $2, s.referral_id, s.status, s.status_at, $1
FROM {staging} s
WHERE NOT s._rejected AND s._op = 'U'
  AND NOT EXISTS (
      SELECT 1 FROM (SELECT h.status, h.status_at FROM referral.status_history h
                     WHERE h.facility_id = $2 AND h.referral_id = s.referral_id
                     ORDER BY h.recorded_at DESC, h.batch_id DESC LIMIT 1) latest
      WHERE latest.status = s.status AND latest.status_at IS NOT DISTINCT FROM s.status_at)

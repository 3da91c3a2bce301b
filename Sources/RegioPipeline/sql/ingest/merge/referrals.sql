-- placeholders: {staging}
-- parameters: $1 batch, $2 facility, $3 business_date
-- Direction is not stored: it is derived from the registered tiers wherever it is reported.
-- Upsert by key in plain statements — update what changed, insert what is new, delete what is
-- retracted — rather than INSERT … ON CONFLICT, whose speculative insertion costs more per row.
-- A facility's batches never run at once, so nothing inserts the same key in between. A stored
-- row written by a newer night's extract (as_of) is not overwritten, nor retracted, by an older
-- one. KindMerge counts each statement's rows from its command tag (UPDATE: updated,
-- INSERT: inserted, DELETE: retracted) and skips an UPDATE or DELETE that has nothing to do.

UPDATE referral.referrals t SET
    patient_id = s.patient_id, to_facility_id = f.id, referred_at = s.referred_at,
    reason_dx = s.reason_dx, status = s.status, status_at = s.status_at,
    as_of = $3::date, row_hash = s._hash, batch_id = $1
FROM {staging} s
JOIN registry.facilities f ON f.code = s.to_facility_code
WHERE s._stored AND NOT s._rejected AND s._op = 'U' AND t.facility_id = $2 AND t.referral_id = s.referral_id
  AND t.row_hash IS DISTINCT FROM s._hash AND t.as_of <= $3::date;

INSERT INTO referral.referrals (facility_id, referral_id, patient_id, to_facility_id, referred_at, reason_dx, status,
    status_at,
    as_of, row_hash, batch_id)
SELECT $2, s.referral_id, s.patient_id, f.id, s.referred_at,
       s.reason_dx, s.status, s.status_at, $3::date, s._hash,
       $1
FROM {staging} s
JOIN registry.facilities f ON f.code = s.to_facility_code
WHERE NOT s._rejected AND s._op = 'U'
  AND NOT s._stored;  -- _stored: marked by ingest/mark_stored.sql

DELETE FROM referral.referrals t USING {staging} s
WHERE s._op = 'D' AND NOT s._rejected AND t.facility_id = $2 AND t.referral_id = s.referral_id AND t.as_of <= $3::date

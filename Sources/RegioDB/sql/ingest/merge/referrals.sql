-- Direction is not stored: it is derived from the registered tiers wherever it is reported.
WITH src AS (
    SELECT s.referral_id, s.patient_id, f.id AS to_facility_id, s.referred_at,
           s.reason_dx, s.status, s.status_at, $3::date AS as_of, s._hash AS row_hash
    FROM {staging} s JOIN registry.facilities f ON f.code = s.to_facility_code
    WHERE NOT s._rejected AND s._op = 'U'
), written AS (
    INSERT INTO referral.referrals AS t (facility_id, referral_id, patient_id, to_facility_id, referred_at, reason_dx,
                                         status, status_at, as_of, row_hash, batch_id)
    SELECT $2, src.*, $1 FROM src
    ON CONFLICT (facility_id, referral_id) DO UPDATE SET
        patient_id = excluded.patient_id, to_facility_id = excluded.to_facility_id, referred_at = excluded.referred_at,
        reason_dx = excluded.reason_dx, status = excluded.status, status_at = excluded.status_at,
        as_of = excluded.as_of, row_hash = excluded.row_hash, batch_id = excluded.batch_id
    WHERE t.row_hash IS DISTINCT FROM excluded.row_hash AND t.as_of <= excluded.as_of
    RETURNING (xmax = 0) AS inserted
), retracted AS (
    DELETE FROM referral.referrals t USING {staging} s
    WHERE s._op = 'D' AND NOT s._rejected AND t.facility_id = $2 AND t.as_of <= $3::date AND t.referral_id = s.referral_id
    RETURNING 1
)
SELECT (SELECT count(*) FROM written WHERE inserted)::bigint,
       (SELECT count(*) FROM written WHERE NOT inserted)::bigint,
       (SELECT count(*) FROM retracted)::bigint

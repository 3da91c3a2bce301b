-- parameters: $1 persons, $2 everything
-- Recomputes reports.person_index for these persons (every person when $2): their records, at how
-- many facilities, and how each record's current link was made (its latest emr.person_links row;
-- a record linked by ID number in the merge and not yet by the linker counts as `id`). A person
-- left with no record has no row.
DELETE FROM reports.person_index WHERE $2 OR person_id = ANY($1::bigint[]);

INSERT INTO reports.person_index (person_id, facilities, records, by_id, probabilistic, by_steward, first_records)
SELECT p.person_id, count(DISTINCT p.facility_id), count(*),
       count(*) FILTER (WHERE coalesce(l.method, 'id') = 'id'),
       count(*) FILTER (WHERE l.method = 'probabilistic'),
       count(*) FILTER (WHERE l.method = 'steward'),
       count(*) FILTER (WHERE l.method = 'new')
FROM emr.patients p
LEFT JOIN LATERAL (
    SELECT method FROM emr.person_links l
    WHERE l.facility_id = p.facility_id AND l.patient_id = p.patient_id
    ORDER BY l.linked_at DESC, l.id DESC LIMIT 1
) l ON true
WHERE p.person_id IS NOT NULL AND ($2 OR p.person_id = ANY($1::bigint[]))
GROUP BY p.person_id

-- parameters: $1 alliance, $2 month, $3 item, $4 group, $5 member
-- vbp-completion: per alliance, member and committed (selected) product, the volume-based
-- procurement cycle in force in the month ($2, default the current month; cycles run in whole
-- months): base units of the product bought from the cycle's first month through that month
-- (comparable lines only) ÷ committed base units × 100 = completion; elapsed share = months of the
-- cycle through that month ÷ the cycle's months × 100; on track when completion ≥ elapsed share.
-- Non-selected share: the member's base units of the same generic group's other products (those no
-- commitment of the alliance names for that cycle) ÷ all its base units of the group, × 100, over
-- the same months. Members are ranked by completion, highest first. From reports.purchase_month.
WITH asof AS (
    SELECT coalesce(to_date($2::text, 'YYYY-MM'), date_trunc('month', now() AT TIME ZONE 'Asia/Shanghai')::date) AS month
), cycles AS (
    SELECT c.*, a.code AS alliance_code, i.generic_group, s.month AS through,
           (extract(year FROM age(c.cycle_end + 1, c.cycle_start)) * 12 + extract(month FROM age(c.cycle_end + 1, c.cycle_start)))::int AS cycle_months,
           (extract(year FROM age(s.month, c.cycle_start)) * 12 + extract(month FROM age(s.month, c.cycle_start)))::int + 1 AS elapsed_months,
           -- The generic group's products, and those the alliance's commitments of this cycle name.
           (SELECT array_agg(g.national_code) FROM procurement.items g WHERE g.generic_group = i.generic_group) AS group_codes,
           (SELECT array_agg(DISTINCT o.national_code) FROM procurement.commitments o JOIN procurement.items g ON g.national_code = o.national_code
            WHERE o.alliance_id = c.alliance_id AND o.cycle_start = c.cycle_start AND g.generic_group = i.generic_group) AS selected_codes
    FROM procurement.commitments c
    JOIN registry.alliances a ON a.id = c.alliance_id
    JOIN procurement.items i ON i.national_code = c.national_code
    CROSS JOIN asof s
    WHERE ($1::text IS NULL OR a.code = $1) AND c.cycle_start <= s.month AND c.cycle_end >= s.month
), bought AS (
    SELECT c.id,
           coalesce(sum(r.base_units) FILTER (WHERE r.national_code = c.national_code), 0) AS purchased,
           coalesce(sum(r.base_units) FILTER (WHERE r.national_code <> ALL (c.selected_codes)), 0) AS nonselected,
           coalesce(sum(r.base_units), 0) AS group_units
    FROM cycles c
    LEFT JOIN reports.purchase_month r
           ON r.facility_id = c.facility_id AND r.month BETWEEN c.cycle_start AND c.through AND r.pack_check IN ('ok', 'confirmed')
          AND r.national_code = ANY (c.group_codes)
    GROUP BY c.id
), judged AS (
    SELECT c.*, b.purchased, b.nonselected, b.group_units,
           100 * b.purchased / c.committed_units AS completion,
           100 * c.elapsed_months::numeric / c.cycle_months AS elapsed_share
    FROM cycles c JOIN bought b ON b.id = c.id
), result AS (
    SELECT j.alliance_code,
           rank() OVER (PARTITION BY j.alliance_id, j.national_code, j.cycle_start ORDER BY j.completion DESC)::int AS member_rank,
           f.code                                               AS member_code,
           f.name                                               AS member_name,
           j.national_code,
           i.generic_name,
           j.generic_group,
           j.cycle_start::text                                  AS cycle_start,
           j.cycle_end::text                                    AS cycle_end,
           to_char(j.through, 'YYYY-MM')                        AS through_month,
           j.committed_units                                    AS committed_base_units,
           j.purchased                                          AS purchased_base_units,
           round(j.completion, 1)                               AS completion,
           round(j.elapsed_share, 1)                            AS elapsed_share,
           CASE WHEN j.completion >= j.elapsed_share THEN 'yes' ELSE 'no' END AS on_track,
           j.nonselected                                        AS nonselected_base_units,
           round(100 * j.nonselected / nullif(j.group_units, 0), 1) AS nonselected_share
    FROM judged j
    JOIN procurement.items i ON i.national_code = j.national_code
    JOIN registry.facilities f ON f.id = j.facility_id
    WHERE ($3::text IS NULL OR j.national_code = $3) AND ($4::text IS NULL OR j.generic_group = $4)
)
SELECT * FROM result
WHERE $5::text IS NULL OR member_code = $5
ORDER BY alliance_code, national_code, cycle_start, member_rank, member_code

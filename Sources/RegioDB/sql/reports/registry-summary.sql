-- parameters: $1 region, $2 tier
-- registry-summary: registered facilities and staffed beds by county and tier.
-- $1 region: a province, city or county code (NULL: the whole registry); everything inside it counts.
-- $2 tier: 1, 2 or 3 (NULL: all tiers).
WITH RECURSIVE area (code) AS (
    SELECT code FROM registry.regions WHERE code = $1::text OR $1::text IS NULL
    UNION
    SELECT r.code FROM registry.regions r JOIN area a ON r.parent_code = a.code
)
SELECT city.code                       AS city_code,
       city.name                       AS city_name,
       county.code                     AS county_code,
       county.name                     AS county_name,
       f.tier::bigint                  AS tier,
       count(*)::bigint                AS facilities,
       sum(f.staffed_beds)::bigint     AS staffed_beds
FROM registry.facilities f
JOIN registry.regions county ON county.code = f.region_code
LEFT JOIN registry.regions city ON city.code = county.parent_code
WHERE f.active
  AND f.region_code IN (SELECT code FROM area)
  AND ($2::int IS NULL OR f.tier = $2::int)
GROUP BY city.code, city.name, county.code, county.name, f.tier
ORDER BY county.code, f.tier

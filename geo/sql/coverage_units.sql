-- Coverage per unit at one level: who and what each unit holds and who serves it.
-- Parameters: :level ('sector' | 'grid2' | 'community').
-- Points count in the unit their stored sector rolls up to (codes kept current by attach).
-- Resources assigned to a unit (serves_code) count for that unit and every unit above it;
-- stationed officers also count for the units below (an officer of a level-2 grid is
-- stationed in each of its sectors).
WITH current_units AS (
    SELECT code, level, parent_code FROM units WHERE valid_to IS NULL
),
chain AS (  -- every sector with its level-2 grid, community and sub-district
    SELECT s.code AS sector, g.code AS grid2, c.code AS community, c.parent_code AS district
    FROM current_units s
    JOIN current_units g ON g.code = s.parent_code
    JOIN current_units c ON c.code = g.parent_code
    WHERE s.level = 'sector'
),
sector_map AS (
    SELECT sector AS sector_code,
           CASE CAST(:level AS text) WHEN 'sector' THEN sector WHEN 'grid2' THEN grid2
                ELSE community END AS unit_code
    FROM chain
),
related AS (  -- (target unit, a code in its chain, how the code relates to it)
    SELECT DISTINCT m.unit_code, v.code,
           CASE WHEN v.rank = t.rank THEN 'self' WHEN v.rank > t.rank THEN 'below' ELSE 'above' END
               AS relation
    FROM chain
    JOIN sector_map m ON m.sector_code = chain.sector
    CROSS JOIN LATERAL (VALUES (chain.sector, 3), (chain.grid2, 2), (chain.community, 1),
                               (chain.district, 0)) AS v(code, rank)
    CROSS JOIN (SELECT CASE CAST(:level AS text) WHEN 'sector' THEN 3 WHEN 'grid2' THEN 2
                            ELSE 1 END AS rank) t
),
households_in AS (
    SELECT m.unit_code, count(*) AS households
    FROM households h JOIN sector_map m ON m.sector_code = h.sector_code GROUP BY 1
),
residents_in AS (
    SELECT m.unit_code, count(*) AS residents
    FROM residents r JOIN households h ON h.id = r.household_id
    JOIN sector_map m ON m.sector_code = h.sector_code GROUP BY 1
),
businesses_in AS (
    SELECT m.unit_code,
           count(*) FILTER (WHERE b.kind = 'shop') AS shops,
           count(*) FILTER (WHERE b.kind = 'enterprise') AS enterprises,
           count(*) FILTER (WHERE b.kind = 'institution') AS institutions
    FROM businesses b JOIN sector_map m ON m.sector_code = b.sector_code GROUP BY 1
),
courtyards_in AS (
    SELECT m.unit_code,
           count(*) FILTER (WHERE c.kind = 'managed') AS courtyards_managed,
           count(*) FILTER (WHERE c.kind = 'scattered') AS courtyards_scattered,
           count(*) FILTER (WHERE c.kind = 'rental') AS courtyards_rental,
           count(*) FILTER (WHERE c.property_company_id IS NULL) AS courtyards_without_company,
           count(DISTINCT c.property_company_id) AS property_companies,
           count(DISTINCT c.property_company_id) FILTER (WHERE p.has_party_org)
               AS red_property_companies
    FROM courtyards c
    JOIN sector_map m ON m.sector_code = c.sector_code
    LEFT JOIN resources p ON p.id = c.property_company_id
    WHERE c.valid_to IS NULL GROUP BY 1
),
located AS (  -- organisations, members and units by where they are
    SELECT m.unit_code,
           count(*) FILTER (WHERE r.subtype = 'working_committee') AS working_committees,
           count(*) FILTER (WHERE r.subtype = 'community_committee') AS community_committees,
           count(*) FILTER (WHERE r.subtype = 'grid_branch') AS party_branches,
           count(*) FILTER (WHERE r.branch_type = 'agency') AS party_branches_agency,
           count(*) FILTER (WHERE r.branch_type = 'courtyard') AS party_branches_courtyard,
           count(*) FILTER (WHERE r.branch_type = 'nonpublic') AS party_branches_nonpublic,
           count(*) FILTER (WHERE r.subtype = 'building_group') AS building_groups,
           count(*) FILTER (WHERE r.subtype = 'central_household') AS central_households,
           count(*) FILTER (WHERE r.subtype = 'direct') AS party_members_direct,
           count(*) FILTER (WHERE r.subtype = 'in_service') AS party_members_in_service,
           count(*) FILTER (WHERE r.kind = 'cobuilding_unit') AS cobuilding_units
    FROM resources r JOIN sector_map m ON m.sector_code = r.sector_code
    WHERE r.kind IN ('party_org', 'party_member', 'cobuilding_unit') GROUP BY 1
),
assigned AS (  -- workers and officers by the unit they serve
    SELECT rel.unit_code,
           count(DISTINCT r.id) FILTER (WHERE r.kind = 'grid_worker'
               AND rel.relation IN ('self', 'below')) AS grid_workers,
           count(DISTINCT r.id) FILTER (WHERE r.kind = 'stationed_officer')
               AS stationed_officers
    FROM resources r JOIN related rel ON rel.code = r.serves_code
    WHERE r.kind IN ('grid_worker', 'stationed_officer') GROUP BY 1
)
SELECT u.code, u.name_zh, u.name_en, u.parent_code,
       ST_Area(ST_Transform(u.geom, 4542)) / 1e6 AS area_km2,
       coalesce(h.households, 0) AS households,
       coalesce(r.residents, 0) AS residents,
       coalesce(b.shops, 0) AS shops,
       coalesce(b.enterprises, 0) AS enterprises,
       coalesce(b.institutions, 0) AS institutions,
       coalesce(c.courtyards_managed, 0) AS courtyards_managed,
       coalesce(c.courtyards_scattered, 0) AS courtyards_scattered,
       coalesce(c.courtyards_rental, 0) AS courtyards_rental,
       coalesce(c.courtyards_without_company, 0) AS courtyards_without_company,
       coalesce(c.property_companies, 0) AS property_companies,
       coalesce(c.red_property_companies, 0) AS red_property_companies,
       coalesce(l.working_committees, 0) AS working_committees,
       coalesce(l.community_committees, 0) AS community_committees,
       coalesce(l.party_branches, 0) AS party_branches,
       coalesce(l.party_branches_agency, 0) AS party_branches_agency,
       coalesce(l.party_branches_courtyard, 0) AS party_branches_courtyard,
       coalesce(l.party_branches_nonpublic, 0) AS party_branches_nonpublic,
       coalesce(l.building_groups, 0) AS building_groups,
       coalesce(l.central_households, 0) AS central_households,
       coalesce(l.party_members_direct, 0) AS party_members_direct,
       coalesce(l.party_members_in_service, 0) AS party_members_in_service,
       coalesce(l.cobuilding_units, 0) AS cobuilding_units,
       coalesce(a.grid_workers, 0) AS grid_workers,
       coalesce(a.stationed_officers, 0) AS stationed_officers
FROM units u
LEFT JOIN households_in h ON h.unit_code = u.code
LEFT JOIN residents_in r ON r.unit_code = u.code
LEFT JOIN businesses_in b ON b.unit_code = u.code
LEFT JOIN courtyards_in c ON c.unit_code = u.code
LEFT JOIN located l ON l.unit_code = u.code
LEFT JOIN assigned a ON a.unit_code = u.code
WHERE u.valid_to IS NULL AND u.level = CAST(:level AS text)
ORDER BY u.code

-- Coverage per unit at one level: who and what each unit holds and who serves it.
-- Parameters: level ('sector' | 'grid2' | 'community' | 'subdistrict': one row per
-- sub-district, the city's comparison), and at for boundaries as of a time.
-- The unit, courtyard, household, business and resource sources (filled in by
-- geo.coverage.sources) are the current rows, where points carry their stored codes, or
-- the rows valid at a moment with the points attached to them again.
-- Points count in the unit their stored sector rolls up to (codes kept current by attach):
-- each table is first counted per sector, then the sectors are summed per unit; the
-- households, residents and businesses per sector (the holdings source) come from the rollup
-- `sector_holdings` (0018r) for the current rows, or are counted from the points.
-- Resources assigned to a unit (serves_code) count for that unit and every unit above it;
-- stationed officers also count for the units below (an officer of a level-2 grid is
-- stationed in each of its sectors).
WITH sector_map AS NOT MATERIALIZED (
    SELECT s.code AS sector_code, g.code AS grid2_code, g.parent_code AS community_code,
           CASE CAST(:level AS text) WHEN 'sector' THEN s.code WHEN 'grid2' THEN g.code
                WHEN 'subdistrict' THEN left(s.code, 9) ELSE g.parent_code END AS unit_code
    FROM {units} s JOIN {units} g ON g.code = s.parent_code
    WHERE s.level = 'sector'
),
per_sector AS (
    SELECT sector_code,
           sum(households) AS households, sum(residents) AS residents, sum(shops) AS shops,
           sum(enterprises) AS enterprises, sum(institutions) AS institutions,
           sum(working_committees) AS working_committees,
           sum(community_committees) AS community_committees,
           sum(party_branches) AS party_branches,
           sum(party_branches_agency) AS party_branches_agency,
           sum(party_branches_courtyard) AS party_branches_courtyard,
           sum(party_branches_nonpublic) AS party_branches_nonpublic,
           sum(building_groups) AS building_groups, sum(central_households) AS central_households,
           sum(party_members_direct) AS party_members_direct,
           sum(party_members_in_service) AS party_members_in_service,
           sum(cobuilding_units) AS cobuilding_units
    FROM (
        SELECT sector_code, households, residents, shops, enterprises, institutions,
               0 AS working_committees, 0 AS community_committees, 0 AS party_branches,
               0 AS party_branches_agency, 0 AS party_branches_courtyard,
               0 AS party_branches_nonpublic, 0 AS building_groups, 0 AS central_households,
               0 AS party_members_direct, 0 AS party_members_in_service, 0 AS cobuilding_units
        FROM {holdings} held
        UNION ALL
        SELECT sector_code, 0, 0, 0, 0, 0,
               count(*) FILTER (WHERE subtype = 'working_committee'),
               count(*) FILTER (WHERE subtype = 'community_committee'),
               count(*) FILTER (WHERE subtype = 'grid_branch'),
               count(*) FILTER (WHERE branch_type = 'agency'),
               count(*) FILTER (WHERE branch_type = 'courtyard'),
               count(*) FILTER (WHERE branch_type = 'nonpublic'),
               count(*) FILTER (WHERE subtype = 'building_group'),
               count(*) FILTER (WHERE subtype = 'central_household'),
               count(*) FILTER (WHERE subtype = 'direct'),
               count(*) FILTER (WHERE subtype = 'in_service'),
               count(*) FILTER (WHERE kind = 'cobuilding_unit')
        FROM {resources} r WHERE kind IN ('party_org', 'party_member', 'cobuilding_unit')
        GROUP BY sector_code
    ) counted
    GROUP BY sector_code
),
per_unit AS (
    SELECT m.unit_code, sum(p.households) AS households, sum(p.residents) AS residents,
           sum(p.shops) AS shops, sum(p.enterprises) AS enterprises,
           sum(p.institutions) AS institutions, sum(p.working_committees) AS working_committees,
           sum(p.community_committees) AS community_committees,
           sum(p.party_branches) AS party_branches,
           sum(p.party_branches_agency) AS party_branches_agency,
           sum(p.party_branches_courtyard) AS party_branches_courtyard,
           sum(p.party_branches_nonpublic) AS party_branches_nonpublic,
           sum(p.building_groups) AS building_groups,
           sum(p.central_households) AS central_households,
           sum(p.party_members_direct) AS party_members_direct,
           sum(p.party_members_in_service) AS party_members_in_service,
           sum(p.cobuilding_units) AS cobuilding_units
    FROM per_sector p JOIN sector_map m ON m.sector_code = p.sector_code
    GROUP BY m.unit_code
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
    FROM {courtyards} c
    JOIN sector_map m ON m.sector_code = c.sector_code
    LEFT JOIN resources p ON p.id = c.property_company_id
    GROUP BY 1
),
related AS (  -- (target unit, a code in its chain, how the code relates to it)
    SELECT DISTINCT m.unit_code, v.code,
           CASE WHEN v.rank = t.rank THEN 'self' WHEN v.rank > t.rank THEN 'below' ELSE 'above' END
               AS relation
    FROM sector_map m
    JOIN {units} c ON c.code = m.community_code
    CROSS JOIN LATERAL (VALUES (m.sector_code, 3), (m.grid2_code, 2), (m.community_code, 1),
                               (c.parent_code, 0)) AS v(code, rank)
    CROSS JOIN (SELECT CASE CAST(:level AS text) WHEN 'sector' THEN 3 WHEN 'grid2' THEN 2
                            WHEN 'subdistrict' THEN 0 ELSE 1 END AS rank) t
),
assigned AS (  -- workers and officers by the unit they serve
    SELECT rel.unit_code,
           count(DISTINCT r.id) FILTER (WHERE r.kind = 'grid_worker'
               AND rel.relation IN ('self', 'below')) AS grid_workers,
           count(DISTINCT r.id) FILTER (WHERE r.kind = 'stationed_officer')
               AS stationed_officers
    FROM {resources} r JOIN related rel ON rel.code = r.serves_code
    WHERE r.kind IN ('grid_worker', 'stationed_officer') GROUP BY 1
)
SELECT u.code, u.name_zh, u.name_en, u.parent_code,
       ST_Area(ST_Transform(u.geom, 4542)) / 1e6 AS area_km2,
       coalesce(p.households, 0)::int AS households,
       coalesce(p.residents, 0)::int AS residents,
       coalesce(p.shops, 0)::int AS shops,
       coalesce(p.enterprises, 0)::int AS enterprises,
       coalesce(p.institutions, 0)::int AS institutions,
       coalesce(c.courtyards_managed, 0)::int AS courtyards_managed,
       coalesce(c.courtyards_scattered, 0)::int AS courtyards_scattered,
       coalesce(c.courtyards_rental, 0)::int AS courtyards_rental,
       coalesce(c.courtyards_without_company, 0)::int AS courtyards_without_company,
       coalesce(c.property_companies, 0)::int AS property_companies,
       coalesce(c.red_property_companies, 0)::int AS red_property_companies,
       coalesce(p.working_committees, 0)::int AS working_committees,
       coalesce(p.community_committees, 0)::int AS community_committees,
       coalesce(p.party_branches, 0)::int AS party_branches,
       coalesce(p.party_branches_agency, 0)::int AS party_branches_agency,
       coalesce(p.party_branches_courtyard, 0)::int AS party_branches_courtyard,
       coalesce(p.party_branches_nonpublic, 0)::int AS party_branches_nonpublic,
       coalesce(p.building_groups, 0)::int AS building_groups,
       coalesce(p.central_households, 0)::int AS central_households,
       coalesce(p.party_members_direct, 0)::int AS party_members_direct,
       coalesce(p.party_members_in_service, 0)::int AS party_members_in_service,
       coalesce(p.cobuilding_units, 0)::int AS cobuilding_units,
       coalesce(a.grid_workers, 0)::int AS grid_workers,
       coalesce(a.stationed_officers, 0)::int AS stationed_officers
FROM {units} u
LEFT JOIN per_unit p ON p.unit_code = u.code
LEFT JOIN courtyards_in c ON c.unit_code = u.code
LEFT JOIN assigned a ON a.unit_code = u.code
WHERE u.level = CASE CAST(:level AS text) WHEN 'subdistrict' THEN 'district'
                 ELSE CAST(:level AS text) END  -- a sub-district is a unit of level district
ORDER BY u.code

-- The district at a glance, in one row: current units per level, courtyards, households,
-- residents, shops, and the open and overdue cases the caller may see.
-- Filled in by geo.summary: open_cases (open_cases.sql over the caller's visibility rule).
SELECT
    (SELECT coalesce(json_object_agg(level, n), '{{}}')
       FROM (SELECT level, count(*) AS n FROM units WHERE valid_to IS NULL GROUP BY level) u)
        AS units,
    (SELECT count(*) FROM courtyards WHERE valid_to IS NULL) AS courtyards,
    (SELECT count(*) FROM households) AS households,
    (SELECT count(*) FROM residents) AS residents,
    (SELECT count(*) FROM businesses WHERE kind = 'shop') AS shops,
    cases.incidents_open,
    cases.incidents_overdue
FROM ({open_cases}) cases

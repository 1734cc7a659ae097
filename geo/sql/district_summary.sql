-- The district at a glance, in one row: current units per level, courtyards, households,
-- residents, shops, and the open and overdue cases the caller may see.
-- Filled in by geo.summary: visible (the caller's rule over incidents i,
-- geo.access.incident_visibility) and deadline_flags (geo.timelimits.DEADLINE_FLAGS over i).
-- Parameters: now, closed (the closed statuses), and the visibility rule's own.
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
FROM (
    SELECT count(*) AS incidents_open, count(*) FILTER (WHERE overdue) AS incidents_overdue
    FROM (
        SELECT {deadline_flags}
        FROM incidents i
        WHERE i.status <> ALL(CAST(:closed AS text[])) AND {visible}
    ) open_cases
) cases

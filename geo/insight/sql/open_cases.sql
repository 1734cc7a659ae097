-- One row: the open cases among incidents i that satisfy the rule, and how many of them are
-- overdue. Filled in by geo.summary: rule (whose cases), deadline_flags
-- (geo.timelimits.DEADLINE_FLAGS over i). Parameters: now, closed (the closed statuses).
SELECT count(*) AS incidents_open, count(*) FILTER (WHERE overdue) AS incidents_overdue
FROM (
    SELECT {deadline_flags}
    FROM incidents i
    WHERE i.status <> ALL(CAST(:closed AS text[])) AND {rule}
) open_cases

-- A grid worker's own grids at a glance: each unit of their scope with its households,
-- and the open and overdue cases that are theirs.
-- Filled in by geo.summary: open_cases (open_cases.sql over geo.access.own_cases).
-- Parameters: codes (the scope's unit codes), and open_cases'.
SELECT
    (SELECT coalesce(json_agg(json_build_object(
                'code', u.code, 'level', u.level, 'name_zh', u.name_zh, 'name_en', u.name_en,
                'households', (SELECT count(*) FROM households h
                               WHERE h.sector_code LIKE u.code || '%')) ORDER BY u.code), '[]')
       FROM units u WHERE u.valid_to IS NULL AND u.code = ANY(CAST(:codes AS text[]))) AS units,
    cases.incidents_open,
    cases.incidents_overdue
FROM ({open_cases}) cases

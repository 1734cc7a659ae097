-- Incidents observed in [:since, :until) per unit at :level, per category and in total
-- (GROUPING SETS: category IS NULL on the unit's total row). {visible} is the caller's
-- visibility rule over alias i (geo.access.incident_visibility).
WITH current_units AS (
    SELECT code, level, parent_code FROM units WHERE valid_to IS NULL
),
sector_map AS (
    SELECT s.code AS sector_code,
           CASE CAST(:level AS text) WHEN 'sector' THEN s.code WHEN 'grid2' THEN g.code
                ELSE g.parent_code END AS unit_code
    FROM current_units s JOIN current_units g ON g.code = s.parent_code
    WHERE s.level = 'sector'
)
SELECT m.unit_code, i.category,
       count(*) AS incidents,
       count(*) FILTER (WHERE i.status NOT IN ('verified', 'rejected', 'duplicate'))
           AS incidents_open,
       count(*) FILTER (WHERE i.status NOT IN ('verified', 'rejected', 'duplicate')
                        AND i.due_at < :now) AS incidents_overdue,
       count(*) FILTER (WHERE i.status = 'verified') AS incidents_closed,
       count(*) FILTER (WHERE i.status = 'verified' AND i.closed_at <= i.due_at)
           AS incidents_closed_in_time,
       percentile_cont(0.5) WITHIN GROUP (
           ORDER BY extract(epoch FROM i.closed_at - i.reported_at) / 3600.0)
           FILTER (WHERE i.status = 'verified') AS median_hours_to_close
FROM incidents i
JOIN sector_map m ON m.sector_code = i.sector_code
WHERE i.observed_at >= :since AND i.observed_at < :until AND {visible}
GROUP BY GROUPING SETS ((m.unit_code, i.category), (m.unit_code))

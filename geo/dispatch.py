"""Dispatch: which grid workers an incident goes to.

The rule: the workers assigned to the incident's sector; when the sector has none, the
workers of the sectors of its level-2 grid (and any assigned to the grid itself).
"""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.engine import Connection

#: one row per current sector: the team its incidents are dispatched to
SECTOR_TEAMS = """
    SELECT s.code AS sector_code,
           coalesce(
             (SELECT array_agg(r.id ORDER BY r.id) FROM resources r
               WHERE r.kind = 'grid_worker' AND r.serves_code = s.code),
             (SELECT array_agg(r.id ORDER BY r.id) FROM resources r
               LEFT JOIN units t ON t.code = r.serves_code AND t.valid_to IS NULL
               WHERE r.kind = 'grid_worker'
                 AND (t.parent_code = s.parent_code OR r.serves_code = s.parent_code))
           ) AS workers
    FROM units s WHERE s.valid_to IS NULL AND s.level = 'sector'
"""


def assign_teams(
    conn: Connection, where: str = "i.dispatched_at IS NOT NULL", params: dict | None = None
) -> int:
    """Set `assigned_to` of the incidents matching `where` (SQL over alias i) to their
    sector's team; returns how many rows changed."""
    sql = f"""
        WITH team AS ({SECTOR_TEAMS})
        UPDATE incidents i SET assigned_to = team.workers
        FROM team WHERE i.sector_code = team.sector_code AND ({where})
          AND i.assigned_to IS DISTINCT FROM team.workers
    """
    return conn.execute(text(sql), params or {}).rowcount

"""Dispatch: which grid workers an incident goes to, and re-dispatch after boundary changes.

The rule: the workers assigned to the incident's sector; when the sector has none, the
workers of the sectors of its level-2 grid (and any assigned to the grid itself). Retired
workers (`geo.people.staff`) are nobody's team. When a
boundary change moves an open incident to another sector (or changes its sector's team),
`redispatch_moved` applies the same rule again and writes why into its history.
"""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.engine import Connection

from geo.core.terms import CLOSED_STATUSES

#: one row per current sector: the team its incidents are dispatched to
SECTOR_TEAMS = """
    SELECT s.code AS sector_code,
           coalesce(
             (SELECT array_agg(r.id ORDER BY r.id) FROM resources r
               WHERE r.kind = 'grid_worker' AND r.retired_at IS NULL
                 AND r.serves_code = s.code),
             (SELECT array_agg(r.id ORDER BY r.id) FROM resources r
               LEFT JOIN units t ON t.code = r.serves_code AND t.valid_to IS NULL
               WHERE r.kind = 'grid_worker' AND r.retired_at IS NULL
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


def _teams_of(subdistrict: str | None) -> str:
    """SECTOR_TEAMS, of the sectors of one sub-district only when given (bound as :teams_sd):
    a change inside one sub-district of a city cannot alter another's teams (a team is made
    of its sector's or level-2 grid's workers), so it need not look at the whole city."""
    if subdistrict is None:
        return SECTOR_TEAMS
    return f"{SECTOR_TEAMS} AND s.subdistrict = CAST(:teams_sd AS text)"


def snapshot_teams(conn: Connection, subdistrict: str | None = None) -> None:
    """Remember every sector's team (of `subdistrict` only, when given) before a boundary
    change (a temporary table, dropped at commit), so `redispatch_moved` can tell whose
    team the change altered."""
    conn.execute(text("DROP TABLE IF EXISTS pg_temp.teams_before"))
    conn.execute(
        text(f"CREATE TEMP TABLE teams_before ON COMMIT DROP AS {_teams_of(subdistrict)}"),
        {"teams_sd": subdistrict},
    )


def redispatch_moved(
    conn: Connection, moved_sql: str, at, actor: str, why: str, subdistrict: str | None = None
) -> int:
    """Re-dispatch, by the rule above, the open incidents a boundary change moved to
    another sector (`moved_sql` yields their `id` and `from_sector`), and those whose
    sector's team the change altered; each gets a `redispatch` event in its history whose
    note starts with `why` and says from which sector and team to which. Call
    `snapshot_teams` (with the same `subdistrict`: a change confined to one sub-district's
    sectors) before the change. Returns how many incidents were re-dispatched."""
    sql = f"""
        WITH team AS ({_teams_of(subdistrict)}),
        moved AS ({moved_sql}),
        changed_team AS (
            SELECT t.sector_code FROM team t LEFT JOIN teams_before b USING (sector_code)
            WHERE b.workers IS DISTINCT FROM t.workers
        ),
        candidate AS (
            SELECT id, from_sector, true AS moved FROM moved
            UNION ALL
            SELECT i.id, i.sector_code, false FROM incidents i
            WHERE i.sector_code = ANY(ARRAY(SELECT sector_code FROM changed_team))
              AND i.status <> ALL(CAST(:closed AS text[]))
              AND i.id <> ALL(ARRAY(SELECT id FROM moved))
        ),
        todo AS (
            -- ids as an array: an index lookup per candidate, never a scan of all incidents
            SELECT i.id, i.status, i.sector_code, i.assigned_to, c.from_sector, c.moved,
                   t.workers
            FROM incidents i JOIN candidate c ON c.id = i.id
            LEFT JOIN team t ON t.sector_code = i.sector_code
            WHERE i.id = ANY(ARRAY(SELECT id FROM candidate))
              AND i.status <> ALL(CAST(:closed AS text[])) AND i.dispatched_at IS NOT NULL
              AND (c.moved OR i.assigned_to IS DISTINCT FROM t.workers)
        ),
        done AS (
            UPDATE incidents i SET assigned_to = todo.workers, updated_at = now() FROM todo
            WHERE i.id = todo.id RETURNING i.id
        )
        INSERT INTO incident_events (incident_id, at, actor, kind, from_status, to_status, note)
        SELECT todo.id, :at, :actor, 'redispatch', todo.status, todo.status,
               :why || ': ' || CASE WHEN todo.moved
                   THEN 'sector ' || coalesce(todo.from_sector, '-') || ' → '
                        || coalesce(todo.sector_code, '-')
                   ELSE 'team of sector ' || todo.sector_code || ' changed' END
               || '; workers ' || coalesce(array_to_string(todo.assigned_to, ','), '-')
               || ' → ' || coalesce(array_to_string(todo.workers, ','), '-')
        FROM todo JOIN done USING (id)
    """
    params = {"closed": sorted(CLOSED_STATUSES), "at": at, "actor": actor, "why": why}
    return conn.execute(text(sql), {**params, "teams_sd": subdistrict}).rowcount


#: a `dispatch` event (insert columns: incident_id, at, actor, kind, from_status, to_status,
#: note) for each dispatched case of `{cases}` (id, sector_code, assigned_to), saying whose
#: team it went to; binds :at, :actor and :note (appended when not null)
_DISPATCH_EVENTS = """
    INSERT INTO incident_events (incident_id, at, actor, kind, from_status, to_status, note)
    SELECT c.id, :at, :actor, 'dispatch', 'reported', 'dispatched',
           '按网格自动派遣: 片区 ' || c.sector_code
           || CASE WHEN EXISTS (SELECT 1 FROM resources r WHERE r.kind = 'grid_worker'
                                AND r.retired_at IS NULL AND r.serves_code = c.sector_code)
              THEN ' 网格员'
              ELSE ' 无网格员, 派至二级网格 ' || coalesce((SELECT s.parent_code FROM units s
                   WHERE s.code = c.sector_code AND s.valid_to IS NULL), '-') END
           || ': ' || array_to_string(c.assigned_to, ', ')
           || coalesce(' · ' || CAST(:note AS text), '')
    FROM {cases} c ORDER BY c.id
"""


def dispatch_reported(
    conn: Connection, where: str, params: dict, at, actor: str = "system", note: str | None = None
) -> int:
    """Dispatch the reported cases matching `where` (SQL over alias i, with `params`) to
    their sector's team, by the rule above, set-based: each dispatched case gets a
    `dispatch` event saying whose team it went to; a case nobody serves stays reported.
    Returns how many were dispatched."""
    assign_teams(conn, where, params)
    update = f"""
        UPDATE incidents i SET status = 'dispatched', dispatched_at = :at, updated_at = now()
        WHERE ({where}) AND i.status = 'reported' AND cardinality(i.assigned_to) > 0
        RETURNING i.id, i.sector_code, i.assigned_to
    """
    sql = f"WITH done AS ({update}) {_DISPATCH_EVENTS.format(cases='done')}"
    values = {**params, "at": at, "actor": actor, "note": note}
    return conn.execute(text(sql), values).rowcount


def dispatch_events(conn: Connection, where: str, params: dict, at, actor: str = "system") -> int:
    """The `dispatch` events of cases matching `where` that were stored already dispatched
    (a set-based intake decides at insert, by `DISPATCH_ON_INSERT`); returns how many."""
    cases = f"(SELECT i.* FROM incidents i WHERE ({where}) AND i.status = 'dispatched')"
    sql = _DISPATCH_EVENTS.format(cases=cases)
    return conn.execute(text(sql), {**params, "at": at, "actor": actor, "note": None}).rowcount


#: the columns a set-based insert of new cases sets from their sector's team (`team.workers`
#: of `SECTOR_TEAMS`, bound time :at): the same rule and state as `dispatch_reported`
DISPATCH_ON_INSERT = {
    "assigned_to": "team.workers",
    "status": "CASE WHEN cardinality(team.workers) > 0 THEN 'dispatched' ELSE 'reported' END",
    "dispatched_at": "CASE WHEN cardinality(team.workers) > 0 THEN CAST(:at AS timestamptz) END",
}

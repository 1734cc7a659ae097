"""The heat page's cells read from the aggregates kept ahead of time (`incident_heat_cells`,
0017h): whole Beijing months of the window come from the kept 5 m cells (a few hundred
thousand rows at most, however many incidents), only the partial months at the window's
edges — and, for callers who may see only their own key-population cases, those cases —
from the raw points. The cells, counts and centres of mass are those `incident_heat`
counts from every point (tests/test_heat_cells.py compares them).

    >>> heat = kept_heat(conn, principal, IncidentFilter(categories=("dispute",)))  # doctest: +SKIP
    >>> heat.total, heat.cell_m                                                   # doctest: +SKIP
    (25000, 5.0)
"""

from __future__ import annotations

import math
from datetime import date, datetime, time

from sqlalchemy import text
from sqlalchemy.engine import Connection

from geo.access.roles import ROLE_PERMISSIONS, Permission, Principal, Role, supervised_area
from geo.cases.selection import IncidentFilter, selection
from geo.core.terms import BEIJING
from geo.maps.heat import (
    CELL_M,
    HEAT_SQL,
    MAX_CELLS,
    PACKED_CELLS,
    Heat,
    lattice_steps,
    merged_heat,
    page_cell_m,
)

TABLE = "incident_heat_cells"
_SENSITIVE = "SELECT code FROM incident_categories WHERE sensitive"

TOTAL = "incident_heat_totals"
#: the totals' lattices: 5 m merged 2 x 2 up to three times (0017h)
TOTAL_SHIFTS = 4

#: the kept cells at the page's lattice: the 5 m cells merged `shift` times 2 x 2, signed
KEPT_SQL = (
    PACKED_CELLS
    + """
FROM (
    SELECT h.cx >> :shift AS cx, h.cy >> :shift AS cy, h.sector_code,
           :sign * sum(h.incidents)::int AS n, :sign * sum(h.sum_lon) AS sx,
           :sign * sum(h.sum_lat) AS sy
    FROM {table} h
    WHERE {where}
    GROUP BY 1, 2, 3
) cells
"""
)


def kept_visibility(principal: Principal, alias: str = "h") -> tuple[str, str, dict]:
    """What of the kept cells `alias` the principal may see, and what must be read raw:
    (SQL over the cells, SQL over raw incidents `i` to add, parameters). The same cases as
    `incident_visibility`: admins see every cell; a supervisor alone, every cell of their
    area; anyone else, every non-sensitive cell, and their own sensitive cases read raw."""
    others = [role for role in principal.roles if role != Role.SUPERVISOR]
    if any(Permission.SENSITIVE_INCIDENTS in ROLE_PERMISSIONS[role] for role in others):
        return "TRUE", "FALSE", {}
    if others:  # non-sensitive cases are visible whatever else applies
        return f"{alias}.category NOT IN ({_SENSITIVE})", f"i.category IN ({_SENSITIVE})", {}
    if principal.has(Role.SUPERVISOR):
        area, params = supervised_area(principal, alias)
        return area, "FALSE", params
    return "FALSE", "FALSE", {}


def whole_months(
    since: datetime | None, until: datetime | None
) -> tuple[date | None, date | None] | None:
    """[first, end) of the Beijing calendar months wholly inside [since, until) (None: no
    bound on that side); None when no whole month lies inside."""
    first = end = None
    if since is not None:
        local = since.astimezone(BEIJING)
        first = local.date().replace(day=1)
        if local != datetime.combine(first, time(), BEIJING):
            first = _next_month(first)
    if until is not None:
        end = until.astimezone(BEIJING).date().replace(day=1)
    if first is not None and end is not None and first >= end:
        return None
    return first, end


def _next_month(day: date) -> date:
    return date(day.year + day.month // 12, day.month % 12 + 1, 1)


def _month_start(day: date) -> datetime:
    return datetime.combine(day, time(), BEIJING)


def _kept_cells(
    conn: Connection,
    principal: Principal,
    f: IncidentFilter,
    months: tuple[str, dict],
    shift: int,
    table: str = TABLE,
    sign: int = 1,
) -> tuple:
    """The kept cells of `table` that `f` and the principal select in `months` (SQL over
    `h.month` and its parameters), added (`sign` 1) or taken away (-1)."""
    visible, _, params = kept_visibility(principal)
    clauses = [visible, months[0]]
    params.update(months[1])
    if table == TOTAL:  # kept on coarser lattices too: start from the nearest one
        params["lattice"] = min(shift, TOTAL_SHIFTS - 1)
        clauses.append("h.shift = :lattice")
        shift -= params["lattice"]
    if f.categories:
        clauses.append("h.category = ANY(:categories)")
        params["categories"] = list(f.categories)
    if f.statuses:
        clauses.append("h.status = ANY(:statuses)")
        params["statuses"] = list(f.statuses)
    if f.grid:
        clauses.append("h.sector_code LIKE :grid || '%'")
        params["grid"] = f.grid
    sql = KEPT_SQL.format(table=table, where=" AND ".join(clauses))
    return conn.execute(text(sql), {**params, "shift": shift, "sign": sign}).one()


def _month_sql(months: tuple[date | None, date | None], outside: bool = False) -> tuple[str, dict]:
    """SQL over `h.month` for the whole months [first, end) (or those `outside` them), with
    its parameters; ranges an index reads."""
    first, end = months
    clauses = []
    if first is not None:
        clauses.append("h.month < :first_month" if outside else "h.month >= :first_month")
    if end is not None:
        clauses.append("h.month >= :end_month" if outside else "h.month < :end_month")
    if outside:
        return "(" + (" OR ".join(clauses) or "FALSE") + ")", {
            "first_month": first,
            "end_month": end,
        }
    return " AND ".join(clauses) or "TRUE", {"first_month": first, "end_month": end}


def _totals_pay(conn: Connection, principal: Principal, f: IncidentFilter, months: tuple) -> bool:
    """Is everything less the months outside the window fewer rows than the months inside?
    (Only for every category and status, for callers who see every category.) The totals
    hold about a quarter as many rows as incidents, a month about one row per incident."""
    visible, raw_rest, _ = kept_visibility(principal)
    if f.categories or f.statuses or raw_rest != "FALSE" or "category" in visible:
        return False
    inside, params = _month_sql(months)
    counts = conn.execute(
        text(
            f"SELECT coalesce(sum(incidents) FILTER (WHERE {inside}), 0), "
            f"coalesce(sum(incidents) FILTER (WHERE {_month_sql(months, True)[0]}), 0) "
            f"FROM incident_monthly_stats h"
        ),
        params,
    ).one()
    within, outside = (int(c) for c in counts)
    return (within + outside) / 4 + outside < within


def _raw_cells(
    conn: Connection,
    principal: Principal,
    f: IncidentFilter,
    months: tuple | None,
    cell_m: float,
) -> tuple:
    """The raw points the kept cells leave out: the partial months at the window's edges,
    and the sensitive cases the caller may see only as their own (`months` None: all)."""
    where, params = selection(principal, f)
    _, raw_rest, _ = kept_visibility(principal)
    first, end = months or (None, None)
    inside = [] if months is not None else ["FALSE"]
    if first is not None:
        inside.append("i.observed_at >= :first_instant")
        params["first_instant"] = _month_start(first)
    if end is not None:
        inside.append("i.observed_at < :end_instant")
        params["end_instant"] = _month_start(end)
    kept = " AND ".join(inside) or "TRUE"
    where = f"{where} AND (NOT ({kept}) OR {raw_rest})"
    dlon, dlat = lattice_steps(cell_m)
    sql = HEAT_SQL.format(where=where)
    return conn.execute(text(sql), {**params, "dlon": dlon, "dlat": dlat}).one()


def kept_heat(
    conn: Connection, principal: Principal, f: IncidentFilter, max_cells: int = MAX_CELLS
) -> Heat:
    """The heat of the incidents `f` selects that `principal` may see, as `incident_heat`
    draws it from every point, read from the kept cells where whole months allow."""
    where, params = selection(principal, f)
    cell_m = page_cell_m(conn, where, params)
    shift = round(math.log2(cell_m / CELL_M))
    months = whole_months(f.since, f.until)
    if months is None:  # a window within a month or two: every point is read
        return merged_heat([_raw_cells(conn, principal, f, None, cell_m)], cell_m, max_cells)
    parts = [_raw_cells(conn, principal, f, months, cell_m)]
    inside, month_params = _month_sql(months)
    if _totals_pay(conn, principal, f, months):
        parts.append(_kept_cells(conn, principal, f, ("TRUE", {}), shift, TOTAL))
        if inside != "TRUE":
            outside = _month_sql(months, outside=True)
            parts.append(_kept_cells(conn, principal, f, outside, shift, sign=-1))
    else:
        parts.append(_kept_cells(conn, principal, f, (inside, month_params), shift))
    return merged_heat(parts, cell_m, max_cells)


def heat_cell_differences(conn: Connection) -> int:
    """How many kept cells (per month, and over all time on every lattice) differ from a
    recount of the incidents — a count, or a sum of coordinates off by more than float
    rounding: 0 when the triggers kept them exact."""
    dlon, dlat = lattice_steps(CELL_M)
    cells = "floor(ST_X(geom) / :dlon)::int AS cx, floor(ST_Y(geom) / :dlat)::int AS cy"
    sums = "count(*) AS incidents, sum(ST_X(geom)) AS sum_lon, sum(ST_Y(geom)) AS sum_lat"
    differ = (
        "r.incidents IS DISTINCT FROM k.incidents OR abs(r.sum_lon - k.sum_lon) > 1e-6 "
        "OR abs(r.sum_lat - k.sum_lat) > 1e-6"
    )
    monthly = f"""
        WITH recount AS (
            SELECT coalesce(sector_code, '') AS sector_code, category, status,
                   date_trunc('month', observed_at AT TIME ZONE 'Asia/Shanghai')::date AS month,
                   {cells}, {sums}
            FROM incidents GROUP BY 1, 2, 3, 4, 5, 6)
        SELECT count(*) FROM recount r
        FULL JOIN {TABLE} k USING (sector_code, category, status, month, cx, cy)
        WHERE {differ}"""
    totals = f"""
        WITH points AS (SELECT coalesce(sector_code, '') AS sector_code, {cells}, geom
                        FROM incidents),
        recount AS (
            SELECT g.shift, sector_code, cx >> g.shift AS cx, cy >> g.shift AS cy, {sums}
            FROM points CROSS JOIN generate_series(0, {TOTAL_SHIFTS - 1}) AS g(shift)
            GROUP BY 1, 2, 3, 4)
        SELECT count(*) FROM recount r
        FULL JOIN {TOTAL} k USING (shift, sector_code, cx, cy)
        WHERE {differ}"""
    params = {"dlon": dlon, "dlat": dlat}
    return sum(conn.execute(text(sql), params).scalar_one() for sql in (monthly, totals))

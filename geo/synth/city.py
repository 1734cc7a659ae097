"""The synthetic city: N sub-districts side by side, copies of the seeded home sub-district.

Each copy is the home sub-district's layout shifted east and north on a grid (steps a
little larger than the home outline's bounding box, so no two outlines ever meet), its
units, courtyards, people, places, resources, incidents and their events, with every unit
code's first nine digits replaced by the copy's code (`620902001`, `620902002`, `620902004`,
…; the home `620902003` stays as it is) and every record id suffixed with `-<street>`
(`H000001-001`), so references between the copied rows hold. Each sub-district is written
in its own transaction working for it (`geo.core.tenancy.work_for`).

    >>> lay_out_city(engine, 3)                          # doctest: +SKIP
    ['620902001', '620902002']
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine

from geo.core.settings import get_settings
from geo.core.tenancy import CODE_LENGTH, work_for
from geo.core.terms import BEIJING_ZONE
from geo.maps.heat import CELL_M, lattice_steps
from geo.maps.heat_cells import TOTAL_SHIFTS

#: the tables copied, parents before children (the foreign keys hold at every insert)
TABLES = (
    "units",
    "courtyards",
    "households",
    "residents",
    "businesses",
    "resources",
    "incidents",
    "incident_events",
    "streets",
    "landmarks",
)
#: the rollups the copied rows' INSERT triggers would write, copied from the home's instead
#: (codes and worker ids rewritten as in the rows they count): the same rows, without
#: re-deriving them from every copied incident, household, resident and business
ROLLUPS = (
    "incident_daily_stats",
    "incident_monthly_stats",
    "incident_worker_daily_stats",
    "incident_worker_monthly_stats",
    "sector_holdings",
)
#: table → the INSERT triggers a copy turns off while it writes (in its transaction, so
#: nothing else ever sees them off): the rollups above are copied and the heat cells counted
#: set-based instead (`HEAT`), and `incident_events_marks` would add the copied events'
#: send-backs and extensions to incidents copied with them counted already
QUIET = {
    "incidents": ("incident_stats_insert", "incident_worker_stats_insert", "incident_heat_insert"),
    "incident_events": ("incident_events_marks",),
    "households": ("holdings_households_insert",),
    "residents": ("holdings_residents_insert",),
    "businesses": ("holdings_businesses_insert",),
}
#: the copy's incidents as its INSERT writes them (codes rewritten, points shifted)
#: (OFFSET 0: shifted once each, not once per lattice of the totals)
_POINTS = (
    "(SELECT CASE WHEN sector_code IS NULL THEN NULL ELSE :code || "
    f"substr(sector_code, {CODE_LENGTH + 1}) END AS sector_code, category, status, "
    "observed_at, ST_Translate(geom, :dx, :dy) AS geom FROM home_incidents OFFSET 0)"
)
_CELL = "floor(ST_X(geom) / :dlon)::int{shift}, floor(ST_Y(geom) / :dlat)::int{shift}"
_SUMS = "count(*), sum(ST_X(geom)), sum(ST_Y(geom))"
#: the copy's heat cells, counted as 0017h's INSERT trigger counts the inserted rows (the
#: shift moves points across cells: they are counted, not copied), as plain INSERTs (every
#: key is the copy's own; `copy_plan` sees that every incident has a sector)
HEAT = (
    "INSERT INTO incident_heat_cells (month, subdistrict, category, status, sector_code, cx, cy, "
    "incidents, sum_lon, sum_lat) SELECT date_trunc('month', observed_at AT TIME ZONE "
    f"'{BEIJING_ZONE}')::date, left(sector_code, {CODE_LENGTH}), category, status, sector_code, "
    f"{_CELL.format(shift='')}, {_SUMS} FROM {_POINTS} p GROUP BY 1, 2, 3, 4, 5, 6, 7",
    "INSERT INTO incident_heat_totals (shift, subdistrict, sector_code, cx, cy, incidents, "
    f"sum_lon, sum_lat) SELECT g.shift, left(sector_code, {CODE_LENGTH}), sector_code, "
    f"{_CELL.format(shift=' >> g.shift')}, {_SUMS} FROM {_POINTS} p "
    f"CROSS JOIN generate_series(0, {TOTAL_SHIFTS - 1}) AS g(shift) GROUP BY 1, 2, 3, 4, 5",
)


#: tables whose copy skips its foreign-key checks (as a superuser can: the replica role
#: fires no trigger but ENABLE ALWAYS ones, and this table has no other on INSERT than
#: those QUIET turns off): each copied event names its incident's id with the suffix, and
#: the snapshot holds exactly the events of the incidents copied before them, so every
#: reference holds by construction. Measured at 200,000 incidents per copy: 39 s of the
#: events' 65 s were the check of their 973,680 references
UNCHECKED = ("incident_events",)


def _superuser(conn: Connection) -> bool:
    return conn.execute(text("SELECT current_setting('is_superuser') = 'on'")).scalar_one()


@dataclass(frozen=True)
class CopyPlan:
    """How a copy writes its rollups: the ones copied from the home's, whether the heat cells
    are counted set-based (`HEAT`), and the triggers off meanwhile (table → names)."""

    rollups: tuple[str, ...] = ROLLUPS
    heat: bool = True
    quiet: dict[str, tuple[str, ...]] = field(default_factory=lambda: QUIET)


#: columns holding a unit or courtyard code: their sub-district prefix is replaced
CODE_COLUMNS = {
    "code",
    "parent_code",
    "successor_code",
    "sector_code",
    "grid2_code",
    "community_code",
    "courtyard_code",
    "serves_code",
}
#: columns holding (or pointing at) a synthetic record id: suffixed with `-<street>`
ID_COLUMNS = {
    "households": {"id"},
    "residents": {"id", "household_id"},
    "businesses": {"id"},
    "resources": {"id", "parent_id"},
    "courtyards": {"property_company_id"},
    "incidents": {"id", "duplicate_of", "owner_id", "idempotency_key", "assigned_to"},
    "incident_events": {"incident_id"},
    "incident_worker_daily_stats": {"worker_id"},
    "incident_worker_monthly_stats": {"worker_id"},
}
#: written by the database itself: left to their defaults
SKIPPED = {"subdistrict"}
#: space between neighbouring sub-districts, as a share of the home outline's extent
GAP = 0.02

Progress = Callable[[str], None]


def city_codes(n: int, home: str) -> list[str]:
    """The codes of the N - 1 sub-districts laid out beside `home`: the district's street
    codes 001, 002, … skipping the home's."""
    district = home[:6]
    codes = [f"{district}{k:03d}" for k in range(1, n + 1)]
    if home in codes:
        codes.remove(home)
    return codes[: n - 1]


def _columns(conn: Connection, table: str) -> list[tuple[str, str]]:
    """(name, data type) of the columns a copy writes: not identity, generated or skipped."""
    rows = conn.execute(
        text(
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_schema = current_schema() AND table_name = :t "
            "AND is_identity = 'NO' AND is_generated = 'NEVER' ORDER BY ordinal_position"
        ),
        {"t": table},
    ).all()
    return [(name, kind) for name, kind in rows if name not in SKIPPED]


def _expression(table: str, name: str, kind: str) -> str:
    """How a column of the home row becomes the copy's."""
    if name == "geom" and table in ("units", "courtyards"):
        # back on the 1e-7° grid the boundary files are written on: the planner's checks
        # (nesting, coverage) compare vertices, which an arbitrary shift leaves off it
        return "ST_SnapToGrid(ST_Translate(geom, :dx, :dy), 1e-7)"
    if name == "geom":
        return "ST_Translate(geom, :dx, :dy)"
    if name == "change_id":
        return ":change_id"
    if name in CODE_COLUMNS:
        rest = f"substr({name}, {CODE_LENGTH + 1})"
        return f"CASE WHEN {name} IS NULL THEN NULL ELSE :code || {rest} END"
    if name in ID_COLUMNS.get(table, ()):
        if kind == "ARRAY":
            return f"ARRAY(SELECT x || :suffix FROM unnest({name}) AS x)"
        return f"{name} || :suffix"
    return name


def copy_statement(conn: Connection, table: str) -> str:
    """INSERT … SELECT from the home snapshot `home_<table>` into `table`, shifted and recoded."""
    columns = _columns(conn, table)
    names = ", ".join(name for name, _ in columns)
    values = ", ".join(_expression(table, name, kind) for name, kind in columns)
    return f"INSERT INTO {table} ({names}) SELECT {values} FROM home_{table}"


def _subdistrict_column(conn: Connection, table: str) -> bool:
    return bool(
        conn.execute(
            text(
                "SELECT 1 FROM information_schema.columns WHERE table_schema = current_schema() "
                "AND table_name = :t AND column_name = 'subdistrict'"
            ),
            {"t": table},
        ).first()
    )


def _snapshot(conn: Connection, home: str) -> tuple[float, float]:
    """Temporary copies of the home sub-district's rows and rollups (read once, while working
    for it); returns the home outline's width and height in degrees."""
    work_for(conn, home)
    for table in (*TABLES, *ROLLUPS):
        where = "WHERE subdistrict = :home" if _subdistrict_column(conn, table) else ""
        if table == "incident_events":  # the events of the incidents copied, and only those
            where = "WHERE incident_id IN (SELECT id FROM home_incidents)"
        conn.execute(
            text(f"CREATE TEMPORARY TABLE home_{table} AS SELECT * FROM {table} {where}"),
            {"home": home},
        )
    width, height = conn.execute(
        text(
            "SELECT ST_XMax(e) - ST_XMin(e), ST_YMax(e) - ST_YMin(e) FROM "
            "(SELECT ST_Extent(geom) AS e FROM home_units WHERE level = 'district') AS x"
        )
    ).one()
    return width, height


def copy_plan(conn: Connection) -> CopyPlan:
    """The plan of every copy (after `_snapshot`): all rollups copied or counted set-based,
    unless a home incident lies in no sector (it counts under the key '' shared by every
    sub-district): then the incidents' triggers count the copy's incidents as written."""
    sectorless = conn.execute(
        text("SELECT 1 FROM home_incidents WHERE coalesce(sector_code, '') = '' LIMIT 1")
    ).first()
    if sectorless is None:
        return CopyPlan()
    return CopyPlan(("sector_holdings",), False, {**QUIET, "incidents": ()})


def _triggers(conn: Connection, quiet: dict[str, tuple[str, ...]], verb: str) -> None:
    for table, names in quiet.items():
        for name in names:
            conn.execute(text(f"ALTER TABLE {table} {verb} TRIGGER {name}"))


def copy_subdistrict(
    conn: Connection,
    code: str,
    number: int,
    shift: tuple[float, float],
    plan: CopyPlan = CopyPlan(),
) -> None:
    """Write sub-district `code` (the `number`-th street: 第N街道) as the home snapshot
    shifted by `shift` (dx, dy degrees), working for it, in the caller's transaction:
    its rows, then the rollups of `plan` (`copy_plan`) with their triggers off meanwhile."""
    work_for(conn, code)
    change_id = conn.execute(
        text(
            "INSERT INTO boundary_changes (at, actor, kind, reason) "
            "SELECT at, actor, kind, reason FROM boundary_changes "
            "WHERE id = (SELECT min(change_id) FROM home_units) RETURNING id"
        )
    ).scalar_one()
    dx, dy = shift
    params = {"code": code, "suffix": f"-{code[6:]}", "dx": dx, "dy": dy, "change_id": change_id}
    _triggers(conn, plan.quiet, "DISABLE")
    for table in (*TABLES, *plan.rollups):
        unchecked = table in UNCHECKED and _superuser(conn)
        if unchecked:
            conn.execute(text("SET LOCAL session_replication_role = replica"))
        conn.execute(text(copy_statement(conn, table)), params)
        if unchecked:
            conn.execute(text("SET LOCAL session_replication_role = origin"))
    dlon, dlat = lattice_steps(CELL_M)
    for statement in HEAT if plan.heat else ():
        conn.execute(text(statement), {**params, "dlon": dlon, "dlat": dlat})
    _triggers(conn, plan.quiet, "ENABLE")
    conn.execute(
        text(
            "UPDATE units SET name_zh = :zh, name_en = :en WHERE code = :code AND valid_to IS NULL"
        ),
        {"code": code, "zh": f"第{number}街道", "en": f"Sub-district {number}"},
    )


def lay_out_city(engine: Engine, n: int, progress: Progress = lambda step: None) -> list[str]:
    """Add N - 1 sub-districts beside the seeded home one, each in its own transaction;
    returns their codes. The home sub-district (`GRIDMAP_STREET_CODE`) must be loaded."""
    home = get_settings().street_prefix
    codes = city_codes(n, home)
    if not codes:
        return []
    columns = math.ceil(math.sqrt(n))
    with engine.connect() as conn:
        try:
            with conn.begin():
                width, height = _snapshot(conn, home)
                plan = copy_plan(conn)
            for position, code in enumerate(codes, start=1):
                progress(f"sub-district {code} ({position}/{len(codes)})")
                row, col = divmod(position, columns)
                shift = (round(col * width * (1 + GAP), 3), round(row * height * (1 + GAP), 3))
                with conn.begin():
                    copy_subdistrict(conn, code, int(code[6:]), shift, plan)
        finally:  # the snapshot goes (the pooled connection lives on, and it takes disk)
            with conn.begin():
                conn.execute(text("DISCARD TEMP"))
    return codes

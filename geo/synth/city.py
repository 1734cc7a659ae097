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

from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine

from geo.core.settings import get_settings
from geo.core.tenancy import CODE_LENGTH, work_for

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


def _snapshot(conn: Connection, home: str) -> tuple[float, float]:
    """Temporary copies of the home sub-district's rows (read once, while working for it);
    returns the home outline's width and height in degrees."""
    work_for(conn, home)
    for table in TABLES:
        coded = table in ("units", "courtyards")
        where = f"WHERE left(code, {CODE_LENGTH}) = :home" if coded else ""
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


def copy_subdistrict(conn: Connection, code: str, number: int, dx: float, dy: float) -> None:
    """Write sub-district `code` (the `number`-th street: 第N街道) as the home snapshot
    shifted by (dx, dy) degrees, working for it, in the caller's transaction."""
    work_for(conn, code)
    change_id = conn.execute(
        text(
            "INSERT INTO boundary_changes (at, actor, kind, reason) "
            "SELECT at, actor, kind, reason FROM boundary_changes "
            "WHERE id = (SELECT min(change_id) FROM home_units) RETURNING id"
        )
    ).scalar_one()
    params = {"code": code, "suffix": f"-{code[6:]}", "dx": dx, "dy": dy, "change_id": change_id}
    for table in TABLES:
        conn.execute(text(copy_statement(conn, table)), params)
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
        with conn.begin():
            width, height = _snapshot(conn, home)
        for position, code in enumerate(codes, start=1):
            progress(f"sub-district {code} ({position}/{len(codes)})")
            row, col = divmod(position, columns)
            with conn.begin():
                copy_subdistrict(
                    conn,
                    code,
                    int(code[6:]),
                    round(col * width * (1 + GAP), 3),
                    round(row * height * (1 + GAP), 3),
                )
    return codes

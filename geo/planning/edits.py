"""The planner's edits, each a plan committed by `geo.planning.commit`: move a border
(`put_sector`; `put_sectors` for several sectors drawn at once), reassign a sector to
another level-2 grid, split a sector along a line, merge two adjacent sectors, roll a unit
back to an old version, roll the whole layer back to a moment. Every edit needs a reason;
a dry run previews it.

    >>> report = put_sector(conn, "6209020030010101", new_geometry, "新建小区划入",
    ...                     actor="planner:王规划", expect=['"6209020030010101:v1"'])
"""

from __future__ import annotations

from datetime import datetime

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
import shapely.ops
from sqlalchemy import text
from sqlalchemy.engine import Connection

from geo.core.errors import InvalidInput, NotFound
from geo.core.settings import get_settings
from geo.planning.commit import Edit, commit
from geo.planning.geometry import as_multi, to_metric
from geo.planning.layer import LAYER, Plan, State, load_state
from geo.planning.tiling import Problem, clean_polygon

MODES = ("adjust", "refuse")


def _mode(mode: str) -> bool:
    """strict (refuse) or not (adjust)."""
    if mode not in MODES:
        raise InvalidInput(f"on_conflict must be adjust or refuse, got {mode!r}")
    return mode == "refuse"


def require_sector(state: State, code: str) -> None:
    """NotFound (saying what became of it) unless `code` is a current sector."""
    if code in state.sectors.index:
        return
    if code in state.latest.index:
        row = state.latest.loc[code]
        if row["level"] != "sector":
            raise InvalidInput(
                f"{code} is a {row['level']}, not a sector: level-2 grids and communities are "
                "the union of their sectors, so edit the sectors (or reassign them)"
            )
        if not row["current"]:
            succ = f"; its area is now in {row['successor_code']}" if row["successor_code"] else ""
            raise NotFound(
                f"sector {code} was retired at {row['valid_to']:%Y-%m-%d %H:%M}{succ}. "
                f"To bring it back, roll it back: POST /api/boundaries/units/{code}/rollback"
            )
    raise NotFound(f"no sector {code}; GET /api/boundaries?level=sector lists them")


def add_sector(plan: Plan, key: str, **values) -> None:
    row = gpd.GeoDataFrame(
        {c: [values.get(c)] for c in plan.sectors.columns if c != "geometry"},
        geometry=[values["geometry"]],
        index=[key],
        crs=4326,
    )
    plan.sectors = pd.concat([plan.sectors, row])


def set_geometry(plan: Plan, key: str, geom) -> None:
    geoms = plan.sectors.geometry.values.copy()
    geoms[plan.sectors.index.get_loc(key)] = as_multi(geom)
    plan.sectors = plan.sectors.set_geometry(
        gpd.GeoSeries(geoms, index=plan.sectors.index, crs=4326)
    )


def put_sector(
    conn: Connection,
    code: str,
    geometry,
    reason: str,
    actor: str,
    expect: list[str] | None = None,
    mode: str = "adjust",
    dry_run: bool = False,
    name_zh: str | None = None,
    name_en: str | None = None,
) -> dict:
    """Give sector `code` a new geometry (moving its borders). The neighbours it now
    overlaps or abandons are adjusted (`mode="adjust"`), or the change is refused with
    the exact gaps and overlaps (`mode="refuse"`). Optionally renames it."""
    return put_sectors(
        conn, {code: geometry}, reason, actor, expect, mode, dry_run, {code: (name_zh, name_en)}
    )


def put_sectors(
    conn: Connection,
    geometries: dict[str, object],
    reason: str,
    actor: str,
    expect: list[str] | None = None,
    mode: str = "adjust",
    dry_run: bool = False,
    names: dict[str, tuple[str | None, str | None]] | None = None,
) -> dict:
    """Give several sectors new geometries in one change: a border moved as the planner
    drew it on both sides (a vertex shared by three sectors moves three borders, which no
    single sector's geometry describes). The sectors drawn win any overlap; other
    neighbours are adjusted (`mode="adjust"`), or the change is refused with the exact gaps
    and overlaps (`mode="refuse"`). `expect` must hold the ETag of every sector drawn.

        >>> put_sectors(conn, {"6209020030010101": a, "6209020030010102": b}, "道路改线",
        ...             "planner:王规划", ['"6209020030010101:v1"', '"6209020030010102:v1"'])
    """
    strict = _mode(mode)
    if not geometries:
        raise InvalidInput("send the new geometry of at least one sector")
    codes = list(geometries)
    names = names or {}

    def build(state: State) -> Plan:
        for code in codes:
            require_sector(state, code)
        plan = Plan.from_state(state, "move_border")
        plan.strict, plan.favour = strict, set(codes)
        settings = get_settings()
        for code, geometry in geometries.items():
            if geometry is None:
                continue
            geom, problems = clean_polygon(
                geometry,
                f"the new geometry of sector {code}",
                settings.max_polygon_vertices,
                [code],
            )
            plan.problems += problems
            if not problems:
                set_geometry(plan, code, geom)
        for code, (name_zh, name_en) in names.items():
            if name_zh:
                plan.sectors.at[code, "name_zh"] = name_zh
            if name_en:
                plan.sectors.at[code, "name_en"] = name_en
        return plan

    return commit(conn, Edit("move_border", reason, actor, build, codes, expect, dry_run))


def reassign(
    conn: Connection,
    code: str,
    grid2_code: str,
    reason: str,
    actor: str,
    expect: list[str] | None = None,
    dry_run: bool = False,
    name_zh: str | None = None,
    name_en: str | None = None,
) -> dict:
    """Move sector `code` (same shape) to level-2 grid `grid2_code` of the same community.
    Codes encode the parent, so the sector gets the next free code there; the old code is
    retired naming the new one, and its workers, points and tokens follow."""

    def build(state: State) -> Plan:
        require_sector(state, code)
        if grid2_code not in state.grid2s.index:
            raise NotFound(f"no level-2 grid {grid2_code}; GET /api/boundaries?level=grid2")
        if state.sectors.at[code, "grid2"] == grid2_code:
            raise InvalidInput(f"sector {code} is already in level-2 grid {grid2_code}")
        plan = Plan.from_state(state, "reassign")
        geom = plan.sectors.at[code, "geometry"]
        plan.sectors = plan.sectors.drop(index=code)
        add_sector(
            plan,
            f"new:{code}",
            code=None,
            grid2=grid2_code,
            name_zh=name_zh,
            name_en=name_en,
            origin=code,
            geometry=geom,
        )
        return plan

    return commit(conn, Edit("reassign", reason, actor, build, [code], expect, dry_run))


def split(
    conn: Connection,
    code: str,
    line,
    reason: str,
    actor: str,
    expect: list[str] | None = None,
    dry_run: bool = False,
    name_zh: str | None = None,
    name_en: str | None = None,
) -> dict:
    """Split sector `code` in two along `line` (a WGS 84 LineString crossing it from border
    to border). The larger part keeps the code; the other becomes a new sector of the same
    level-2 grid with the next free code (and `name_zh`/`name_en` if given)."""

    def build(state: State) -> Plan:
        require_sector(state, code)
        plan = Plan.from_state(state, "split")
        if line is None or line.geom_type not in ("LineString", "MultiLineString"):
            kind = "nothing" if line is None else f"a {line.geom_type}"
            plan.problems = [Problem("split_line", f"the split line is {kind}, not a line", [code])]
            return plan
        if not shapely.is_valid(line) or line.is_empty:
            plan.problems = [
                Problem(
                    "split_line",
                    f"the split line is invalid: {shapely.is_valid_reason(line)}",
                    [code],
                    where=line,
                )
            ]
            return plan
        sector = state.sectors.at[code, "geometry"]
        pieces = shapely.get_parts(shapely.ops.split(sector, line))
        if len(pieces) != 2:
            plan.problems = [
                Problem(
                    "split_line",
                    f"the line cuts sector {code} into {len(pieces)} part(s), not 2: draw one "
                    "line that crosses the sector from border to border once",
                    [code],
                    where=line,
                )
            ]
            return plan
        areas = shapely.area(to_metric(pieces))
        keep, new = pieces[int(np.argmax(areas))], pieces[int(np.argmin(areas))]
        set_geometry(plan, code, keep)
        add_sector(
            plan,
            f"new:split:{code}",
            code=None,
            grid2=state.sectors.at[code, "grid2"],
            name_zh=name_zh,
            name_en=name_en,
            origin=code,
            geometry=as_multi(new),
        )
        return plan

    return commit(conn, Edit("split", reason, actor, build, [code], expect, dry_run))


def merge(
    conn: Connection,
    code: str,
    other: str,
    reason: str,
    actor: str,
    expect: list[str] | None = None,
    dry_run: bool = False,
) -> dict:
    """Merge sector `other` into the adjacent sector `code`, which keeps its code; `other`
    is retired naming `code`, and its workers, points and tokens follow."""

    def build(state: State) -> Plan:
        require_sector(state, code)
        require_sector(state, other)
        if other == code:
            raise InvalidInput("a sector cannot be merged with itself; name another sector")
        plan = Plan.from_state(state, "merge")
        a, b = state.sectors.at[code, "geometry"], state.sectors.at[other, "geometry"]
        shared = shapely.length(to_metric(shapely.intersection(a.boundary, b.boundary)))
        if shared < 1.0:
            gap = shapely.shortest_line(a, b)
            plan.problems = [
                Problem(
                    "contiguity",
                    f"sectors {code} and {other} share no border (they are "
                    f"{shapely.length(to_metric(gap)):,.0f} m apart); only adjacent sectors merge",
                    [code, other],
                    where=gap,
                )
            ]
            return plan
        set_geometry(plan, code, shapely.coverage_union_all([a, b]))
        plan.sectors = plan.sectors.drop(index=other)
        plan.favour = {code}
        return plan

    return commit(conn, Edit("merge", reason, actor, build, [code, other], expect, dry_run))


def rollback_unit(
    conn: Connection,
    code: str,
    version: int,
    reason: str,
    actor: str,
    expect: list[str] | None = None,
    mode: str = "adjust",
    dry_run: bool = False,
) -> dict:
    """Restore sector `code` as it was in `version`, as a new version (a retired sector
    comes back); neighbours are adjusted around it, or the change refused (`mode`)."""
    strict = _mode(mode)
    old = gpd.read_postgis(
        text(
            "SELECT level, parent_code, name_zh, name_en, geom FROM units "
            "WHERE code = :code AND version = :version"
        ),
        conn,
        geom_col="geom",
        params={"code": code, "version": version},
    )
    if old.empty:
        raise NotFound(f"unit {code} has no version {version}; see its history")
    row = old.iloc[0]
    if row["level"] != "sector":
        raise InvalidInput(
            f"{code} is a {row['level']}: level-2 grids and communities follow their sectors; "
            "roll back the sectors, or the whole layer (POST /api/boundaries/rollback)"
        )

    def build(state: State) -> Plan:
        plan = Plan.from_state(state, "rollback")
        plan.strict, plan.favour = strict, {code}
        if code in plan.sectors.index:
            set_geometry(plan, code, row["geom"])
            plan.sectors.at[code, "name_zh"] = row["name_zh"]
            plan.sectors.at[code, "name_en"] = row["name_en"]
        elif row["parent_code"] not in state.grid2s.index:
            plan.problems = [
                Problem(
                    "empty_grid",
                    f"version {version} of {code} belonged to level-2 grid {row['parent_code']}, "
                    "which no longer exists; roll back the whole layer instead",
                    [code, row["parent_code"]],
                )
            ]
        else:
            add_sector(
                plan,
                code,
                code=code,
                grid2=row["parent_code"],
                name_zh=row["name_zh"],
                name_en=row["name_en"],
                origin=code,
                geometry=as_multi(row["geom"]),
            )
        return plan

    return commit(conn, Edit("rollback", reason, actor, build, [code], expect, dry_run))


def rollback_layer(
    conn: Connection,
    as_of: datetime,
    reason: str,
    actor: str,
    expect: list[str] | None = None,
    dry_run: bool = False,
) -> dict:
    """Restore every sector, level-2 grid, community and courtyard as they were at `as_of`,
    as new versions (retired units come back, units created since are retired)."""

    def build(state: State) -> Plan:
        past = load_state(conn, state.at, as_of=as_of)
        if past.sectors.empty:
            first = conn.execute(text("SELECT min(valid_from) FROM units")).scalar()
            raise InvalidInput(
                f"no boundaries were in force at {as_of.isoformat()}; the earliest are from "
                f"{first.isoformat() if first else 'never'}"
            )
        plan = Plan.from_state(past, "rollback_layer")
        yards = past.courtyards.reset_index()
        plan.courtyards = gpd.GeoDataFrame(yards, geometry="geometry", crs=4326)
        return plan

    return commit(conn, Edit("rollback_layer", reason, actor, build, [LAYER], expect, dry_run))

"""Attach: the courtyard, sector, level-2 grid and community every point lies in.

The edge rule. A point on a border shared by two or more units (an edge or a vertex) is
covered by all of them (`ST_Covers` includes the boundary); it goes to the one with the
lowest code (compared byte by byte, `COLLATE "C"`), so it lands in exactly one unit, never
two, never none. Codes run west→east, north→south, so a border point goes to the unit to
its west or north. A point in a hole of a unit is covered by the unit filling the hole; a
point on any part of a multipolygon unit is covered by that unit. The level-2 grid and
community follow from the sector's parents, so the three codes cannot disagree; the
courtyard is found on its own by the same rule (a point may lie in no courtyard).

The rule lives in one place, `codes_sql`: every caller (whole tables, the points of a
changed area, an import's staging table, `locate_points` for a single report) runs it.
It joins units to points (`ST_Covers` on the units' partial GiST index, or on the points'
own GiST index when the points are many: the planner takes each unit once and probes the
points) and keeps the lowest covering code per point.

    >>> moved = attach_points(conn, "incidents")                   # doctest: +SKIP
    >>> moved = attach_points(conn, "households", area_wkt=wkt)    # doctest: +SKIP
    >>> locate_points(conn, [98.47], [39.76])                      # doctest: +SKIP
      courtyard_code       sector_code      grid2_code community_code  outside_m
    0           None  6209020030020301  62090200300203   620902003002        NaN
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sqlalchemy import text
from sqlalchemy.engine import Connection

from geo.core.models import METRIC_SRID

#: the point tables that carry attach codes
POINT_TABLES = ("households", "businesses", "resources", "incidents")
#: what `codes_sql` selects for every point, besides its id
CODE_COLUMNS = ("courtyard_code", "sector_code", "grid2_code", "community_code")

#: the edge rule: among the units of `level` covering a point, the lowest code (given back
#: in the default collation: joined to units.code under "C", the join could not use the
#: units' code index, and at city size looped over every unit per point)
_LOWEST_SECTOR = """
    SELECT p.id, min(u.code COLLATE "C") COLLATE "default" AS code
    FROM {units} u JOIN {points} p ON ST_Covers(u.geom, p.geom)
    WHERE {current} AND u.level = 'sector'{own}
    GROUP BY p.id"""
_LOWEST_COURTYARD = """
    SELECT p.id, min(u.code COLLATE "C") COLLATE "default" AS code
    FROM {courtyards} u JOIN {points} p ON ST_Covers(u.geom, p.geom)
    WHERE {current}{own}
    GROUP BY p.id"""
#: the units and courtyards valid at :at (versions written by boundary planning)
AS_OF = {
    "units": "units_as_of(CAST(:at AS timestamptz))",
    "courtyards": "courtyards_as_of(CAST(:at AS timestamptz))",
}


#: the advisory lock of the boundaries: boundary changes hold it exclusively, writers that
#: attach points hold it shared (geo.planning takes the exclusive side)
BOUNDARY_LOCK = 0x67726964  # "grid"


def hold_boundaries(conn: Connection) -> None:
    """Shared boundary lock until the transaction ends, for writers that attach points
    (imports, incident intake): they wait while a boundary change commits, and a change
    waits for them, so no point is attached against boundaries being replaced."""
    conn.execute(text("SELECT pg_advisory_xact_lock_shared(:k)"), {"k": BOUNDARY_LOCK})


def without_jit(conn: Connection) -> None:
    """Turn JIT compilation off for the rest of the transaction: the join's cost estimate
    is high enough to trigger it, and compiling takes longer than the join itself."""
    conn.execute(text("SET LOCAL jit = off"))


#: `codes_sql(own=...)`: the points' sub-district is their own row's (whole tables) ...
ROW_SUBDISTRICT = "p.subdistrict"
#: ... or the one the transaction works for (an import's staging table)
WORKING_SUBDISTRICT = "gridmap_subdistrict()"


def codes_sql(
    points: str, courtyards: bool = True, as_of: bool = False, own: str | None = None
) -> str:
    """SQL selecting, for every row of `points` (a table name or a parenthesised subquery
    with columns `id` and `geom`, SRID 4326): `id`, `courtyard_code`, `sector_code`,
    `grid2_code`, `community_code` and `outside_m`, the distance in metres (EPSG:4542) to
    the sub-district for a point outside it, else NULL. A point with no sector is outside
    the sub-district, or (outside_m NULL) in a gap of the sector layer. With `as_of`, the
    boundaries are those valid at the bound parameter `:at` instead of the current ones.
    With `own` (SQL of the points' sub-district, e.g. ROW_SUBDISTRICT), a point attaches only
    to units of its own sub-district, also in unscoped work that sees them all (0017t)."""
    within = f" AND u.subdistrict = {own}" if own else ""

    def source(table: str, alias: str) -> tuple[str, str]:
        if as_of:
            return AS_OF[table], "TRUE"
        return table, f"{alias}.valid_to IS NULL"

    units, current = source("units", "u")
    yards, yard_current = source("courtyards", "u")
    sector = _LOWEST_SECTOR.format(points=points, units=units, current=current, own=within)
    courtyard = (
        "LEFT JOIN ("
        + _LOWEST_COURTYARD.format(
            points=points, courtyards=yards, current=yard_current, own=within
        )
        + ") yard ON yard.id = p.id"
        if courtyards
        else "LEFT JOIN (SELECT NULL::text AS code) yard ON FALSE"
    )
    s_units, s_current = source("units", "s")
    g_units, g_current = source("units", "g")
    d_units, d_current = source("units", "d")
    return f"""
        SELECT p.id, yard.code AS courtyard_code, sec.code AS sector_code,
               s.parent_code AS grid2_code, g.parent_code AS community_code,
               CASE WHEN sec.code IS NULL THEN (
                   SELECT min(ST_Distance(ST_Transform(d.geom, {METRIC_SRID}),
                                          ST_Transform(p.geom, {METRIC_SRID})))
                   FROM {d_units} d
                   WHERE {d_current} AND d.level = 'district'
                     AND NOT ST_Covers(d.geom, p.geom){within.replace("u.", "d.")}
               ) END AS outside_m
        FROM {points} p
        LEFT JOIN ({sector}) sec ON sec.id = p.id
        {courtyard}
        LEFT JOIN {s_units} s ON s.code = sec.code AND {s_current}
        LEFT JOIN {g_units} g ON g.code = s.parent_code AND {g_current}
    """


@dataclass
class AttachResult:
    examined: int
    moved: int  # points whose sector or courtyard changed


def attach_points(
    conn: Connection, table: str, area_wkt: str | None = None, record: str | None = None
) -> AttachResult:
    """Recompute the codes of the points of `table` (all, or those covered by `area_wkt`,
    a WGS 84 geometry); returns how many were examined and how many changed unit. With
    `record` (a table with columns kind, id, from_<unit>, to_<unit> for the four units),
    every examined point's codes before and after are added to it in the same statement
    (kind = `table`)."""
    if table not in POINT_TABLES:
        raise ValueError(f"not a point table: {table}")
    where = "geom IS NOT NULL"
    params = {}
    if area_wkt is not None:
        where += " AND ST_Covers(ST_GeomFromText(:area, 4326), geom)"
        params["area"] = area_wkt
    points = f"(SELECT id, geom, subdistrict FROM {table} WHERE {where})"
    recorded = ""
    if record is not None:
        codes = ("courtyard_code", "sector_code", "grid2_code", "community_code")
        into = ", ".join(f"from_{c[:-5]}, to_{c[:-5]}" for c in codes)
        both = ", ".join(f"o.{c}, coded.{c}" for c in codes)
        recorded = f"""recorded AS (
            INSERT INTO {record} (kind, id, {into})
            SELECT :kind, o.id, {both} FROM coded
            JOIN (SELECT id, {", ".join(codes)} FROM {table} WHERE {where}) o ON o.id = coded.id
        ),"""
        params["kind"] = table
    without_jit(conn)
    sql = f"""
        WITH coded AS ({codes_sql(points, own=ROW_SUBDISTRICT)}), {recorded}
        changed AS (
            UPDATE {table} p SET courtyard_code = coded.courtyard_code,
                   sector_code = coded.sector_code, grid2_code = coded.grid2_code,
                   community_code = coded.community_code
            FROM coded
            WHERE p.id = coded.id AND (p.courtyard_code, p.sector_code, p.grid2_code,
                  p.community_code) IS DISTINCT FROM (coded.courtyard_code, coded.sector_code,
                  coded.grid2_code, coded.community_code)
            RETURNING p.id
        )
        SELECT (SELECT count(*) FROM coded), (SELECT count(*) FROM changed)
    """
    examined, moved = conn.execute(text(sql), params).one()
    return AttachResult(examined=examined, moved=moved)


def attach_courtyards(conn: Connection, subdistrict: str | None = None) -> int:
    """Set each current courtyard's sector (by a point on its surface), grid and community
    (only those of `subdistrict`, when given: a courtyard attaches to its own sub-district's
    units, so another's boundary change cannot move it); returns how many changed sector."""
    only = "" if subdistrict is None else " AND subdistrict = :sd"
    points = (
        "(SELECT id, ST_PointOnSurface(geom) AS geom, subdistrict FROM courtyards "
        f"WHERE valid_to IS NULL{only})"
    )
    without_jit(conn)
    sql = f"""
        WITH coded AS ({codes_sql(points, courtyards=False, own=ROW_SUBDISTRICT)})
        UPDATE courtyards c SET sector_code = coded.sector_code, grid2_code = coded.grid2_code,
               community_code = coded.community_code
        FROM coded
        WHERE c.id = coded.id AND (c.sector_code, c.grid2_code, c.community_code)
              IS DISTINCT FROM (coded.sector_code, coded.grid2_code, coded.community_code)
    """
    return conn.execute(text(sql), {"sd": subdistrict}).rowcount


def locate_points(
    conn: Connection, lons: Sequence[float] | np.ndarray, lats: Sequence[float] | np.ndarray
) -> pd.DataFrame:
    """The codes of WGS 84 points, one row per point in the order given, without writing:
    columns courtyard_code, sector_code, grid2_code, community_code (None where none) and
    outside_m (metres to the sub-district for a point outside it, else NaN).

    >>> locate_points(conn, [98.47], [39.76]).iloc[0].sector_code     # doctest: +SKIP
    '6209020030020301'
    """
    lons = np.asarray(lons, dtype=float).ravel()
    lats = np.asarray(lats, dtype=float).ravel()
    if lons.shape != lats.shape:
        raise ValueError("lons and lats differ in length")
    points = (
        "(SELECT t.n AS id, ST_SetSRID(ST_MakePoint(t.lon, t.lat), 4326) AS geom "
        "FROM unnest(CAST(:lons AS float8[]), CAST(:lats AS float8[])) "
        "WITH ORDINALITY AS t(lon, lat, n))"
    )
    without_jit(conn)
    rows = conn.execute(
        text(f"SELECT * FROM ({codes_sql(points)}) c ORDER BY id"),
        {"lons": lons.tolist(), "lats": lats.tolist()},
    ).all()
    frame = pd.DataFrame(
        {
            **{
                c: pd.Series([r[k + 1] for r in rows], dtype=object)
                for k, c in enumerate(CODE_COLUMNS)
            },
            "outside_m": pd.Series([r[-1] for r in rows], dtype=float),
        }
    )
    return frame


@dataclass(frozen=True)
class Location:
    """Where one point lies: its codes, or (no sector) how far outside the district it is."""

    courtyard_code: str | None
    sector_code: str | None
    grid2_code: str | None
    community_code: str | None
    #: metres to the sub-district (EPSG:4542) for a point outside it, else None
    outside_m: float | None

    @property
    def inside(self) -> bool:
        return self.sector_code is not None


def locate_point(conn: Connection, lon: float, lat: float) -> Location:
    """`locate_points` for one WGS 84 point.

    >>> locate_point(conn, 98.47, 39.76).sector_code          # doctest: +SKIP
    '6209020030020301'
    """
    row = locate_points(conn, [lon], [lat]).iloc[0]
    outside = None if pd.isna(row["outside_m"]) else float(row["outside_m"])
    return Location(*(None if pd.isna(row[c]) else row[c] for c in CODE_COLUMNS), outside)

"""Shared helpers of the boundary planning tests: geometry of real edits on the seeded
district, computed independently of `geo.planning` where a test compares against it."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import shapely
from pyproj import Transformer
from shapely.geometry import mapping, shape
from sqlalchemy import text

_TO_M = Transformer.from_crs(4326, 4542, always_xy=True)
_TO_W = Transformer.from_crs(4542, 4326, always_xy=True)


def metric(geom):
    return shapely.transform(geom, lambda xy: np.column_stack(_TO_M.transform(*xy.T)))


def wgs84(geom):
    return shapely.transform(geom, lambda xy: np.column_stack(_TO_W.transform(*xy.T)))


def sectors(conn) -> dict[str, shapely.Geometry]:
    """Current sectors, code → WGS 84 geometry, straight from the table."""
    rows = conn.execute(
        text(
            "SELECT code, ST_AsBinary(geom) FROM units WHERE level = 'sector' "
            "AND valid_to IS NULL ORDER BY code"
        )
    ).all()
    return {code: shapely.from_wkb(bytes(wkb)) for code, wkb in rows}


def courtyards(conn) -> dict[str, shapely.Geometry]:
    rows = conn.execute(
        text("SELECT code, ST_AsBinary(geom) FROM courtyards WHERE valid_to IS NULL")
    ).all()
    return {code: shapely.from_wkb(bytes(wkb)) for code, wkb in rows}


def etag(conn, code: str) -> str:
    version = conn.execute(
        text("SELECT max(version) FROM units WHERE code = :c"), {"c": code}
    ).scalar_one()
    return f'"{code}:v{version}"'


def neighbours(conn, shared_m: float = 300.0) -> list[tuple[str, str]]:
    """Pairs of sectors in the same level-2 grid sharing a border longer than `shared_m`."""
    rows = conn.execute(
        text(
            """SELECT a.code, b.code FROM units a JOIN units b
               ON a.code < b.code AND a.parent_code = b.parent_code
               AND ST_Length(ST_Transform(ST_Intersection(ST_Boundary(a.geom),
                   ST_Boundary(b.geom)), 4542)) > :len
               WHERE a.level = 'sector' AND b.level = 'sector'
               AND a.valid_to IS NULL AND b.valid_to IS NULL ORDER BY 1, 2"""
        ),
        {"len": shared_m},
    ).all()
    return [tuple(r) for r in rows]


def strip(conn, a: str, b: str, width_m: float, avoid_courtyards: bool = True):
    """The part of sector `b` within `width_m` of its border with `a` (WGS 84). Courtyards
    sit at least ~40 m inside their blocks, so strips up to 30 m never cut one; wider
    strips take whole courtyards or, with `avoid_courtyards`, leave them out."""
    geoms = sectors(conn)
    ga, gb = metric(geoms[a]), metric(geoms[b])
    piece = gb.intersection(ga.boundary.intersection(gb.boundary).buffer(width_m))
    if avoid_courtyards:
        yards = [metric(g) for g in courtyards(conn).values()]
        cut = [y for y in yards if y.intersects(piece) and not piece.contains(y)]
        if cut:
            piece = piece.difference(shapely.union_all(cut).buffer(5))
    return wgs84(piece)


def grow(conn, a: str, b: str, width_m: float):
    """Sector `a` grown into `b` by a strip of `width_m` (WGS 84 geometry, and the strip)."""
    piece = strip(conn, a, b, width_m)
    return shapely.union(sectors(conn)[a], piece), piece


def geojson(geom) -> dict:
    return mapping(geom)


def from_geojson(obj):
    return shape(obj)


def now() -> datetime:
    return datetime.now(UTC)


def coverage_is_clean(conn) -> bool:
    """The current sectors form a valid coverage whose union is the district outline."""
    geoms = np.array(list(sectors(conn).values()), dtype=object)
    district = shapely.from_wkb(
        bytes(
            conn.execute(
                text(
                    "SELECT ST_AsBinary(geom) FROM units WHERE level = 'district' "
                    "AND valid_to IS NULL"
                )
            ).scalar_one()
        )
    )
    union = shapely.coverage_union_all(geoms)
    gap = metric(shapely.symmetric_difference(union, district)).area
    return bool(shapely.coverage_is_valid(geoms)) and gap < 1.0


def move_a_border(engine, kind: str, check) -> int:
    """Grow a sector 300 m into its neighbour, for the first of four neighbouring pairs
    whose edit moves some `kind` rows (households, incidents, ...); `check(conn)` runs in
    each edit's transaction. Returns how many `kind` rows the committed edit moved."""
    from geo.planning import edits

    with engine.connect() as conn:
        pairs = neighbours(conn)[:4]
    moved = 0
    for x, y in pairs:
        with engine.begin() as conn:
            new_x, _ = grow(conn, x, y, 300)
            report = edits.put_sector(conn, x, new_x, "调整", "planner:测试", [etag(conn, x)])
            moved += report["moves"][kind]["moved"]
            check(conn)
        if moved:
            break
    return moved

"""Shared helpers of the plan tests (API and browser): the three edits of the issue's
scenario on the seeded district, and an independent shapely count of moved households."""

from __future__ import annotations

import numpy as np
import shapely
import shapely.ops
from shapely.geometry import mapping, shape
from sqlalchemy import text

from tests.planning_support import courtyards, grow, metric, neighbours, sectors, wgs84


def split_line(conn, code: str):
    """A north-south WGS 84 line cutting sector `code` in two without crossing a courtyard."""
    sector = metric(sectors(conn)[code])
    yards = [metric(g) for g in courtyards(conn).values() if metric(g).intersects(sector)]
    minx, miny, maxx, maxy = sector.bounds
    for x in np.linspace(minx + 150, maxx - 150, 80):
        line = shapely.LineString([(x, miny - 50), (x, maxy + 50)])
        pieces = shapely.get_parts(shapely.ops.split(sector, line))
        if len(pieces) == 2 and not any(line.intersects(y) for y in yards):
            if min(p.area for p in pieces) > 0.2 * sector.area:
                return wgs84(line)
    raise AssertionError(f"no line splits {code} cleanly")


def scenario(conn) -> dict:
    """Bodies of the three edits (move a border, split another sector, assign a worker),
    the sectors involved, and a grid worker to assign."""
    a, b = neighbours(conn)[0]
    new_a, _ = grow(conn, a, b, 25)
    c = conn.execute(
        text(
            "SELECT sector_code FROM households WHERE sector_code NOT IN (:a, :b) "
            "GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT 1"
        ),
        {"a": a, "b": b},
    ).scalar_one()
    worker = conn.execute(
        text(
            "SELECT id FROM resources WHERE kind = 'grid_worker' AND retired_at IS NULL "
            "AND serves_code = :c ORDER BY id LIMIT 1"
        ),
        {"c": c},
    ).scalar_one()
    return {
        "a": a,
        "b": b,
        "c": c,
        "worker": worker,
        "move": {"kind": "move_border", "code": a, "geometry": mapping(new_a)},
        "split": {"kind": "split", "code": c, "line": mapping(split_line(conn, c))},
    }


def households_moved(conn, before: dict, after: dict) -> int:
    """Households whose sector differs between two sector FeatureCollections, from their
    points and the polygons alone (a point on a shared edge goes to the lowest code)."""
    rows = conn.execute(text("SELECT ST_X(geom), ST_Y(geom) FROM households")).all()
    points = shapely.points(np.array(rows, dtype=float))

    def sector_of(fc: dict) -> np.ndarray:
        codes = np.array([f["properties"]["code"] for f in fc["features"]], dtype=object)
        tree = shapely.STRtree([shape(f["geometry"]) for f in fc["features"]])
        p, s = tree.query(points, predicate="covered_by")
        out = np.full(len(points), "", dtype=object)
        for i in np.argsort(codes[s], kind="stable")[::-1]:  # lowest code written last
            out[p[i]] = codes[s[i]]
        return out

    return int((sector_of(before) != sector_of(after)).sum())

"""Heat of incidents aggregated on the server: weighted cells of a fine lattice, so a page
holds at most a bounded number of cells however many incidents there are.

One SQL statement counts the selected incidents per 5 m cell (and per sector, in the same
pass) and keeps each cell's centre of mass. Leaflet.heat itself bins the points in view
into squares of half its radius (16 px: 29 m at zoom 16, 15 m at zoom 17) placed at their
centre of mass, so small cells at their centres of mass draw the picture the points they
stand for would (tests/test_heat.py: no further from it than panning the map moves it).
If a selection fills more than `MAX_CELLS` cells, neighbouring cells are merged 2 x 2
(10 m, 20 m, ...) until it fits: a million incidents fill about 100,000 10 m cells.
The page carries the cells packed in binary (8 bytes a cell, base64) and scales the
weights to 0–1 (count / largest count) for Leaflet.heat.

    >>> heat = incident_heat(conn, where, params)           # doctest: +SKIP
    >>> heat.total, len(heat.count), heat.cell_m            # doctest: +SKIP
    (25000, 19620, 5.0)
"""

from __future__ import annotations

import base64
import json
import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sqlalchemy import text
from sqlalchemy.engine import Connection

from geo.core.terms import METRES_PER_DEGREE, longitude_degrees

#: the finest lattice, metres
CELL_M = 5.0
#: at most this many cells on a page (about 1.3 MB packed); more are merged 2 x 2
MAX_CELLS = 120_000
#: packed positions are in units of this many metres from the south-west corner
UNIT_M = 0.25


@dataclass(frozen=True)
class Heat:
    """Occupied cells: centre of mass (WGS 84), incident count; plus counts per sector."""

    lon: np.ndarray
    lat: np.ndarray
    count: np.ndarray
    cell_m: float
    by_sector: dict[str, int]

    @property
    def total(self) -> int:
        return int(self.count.sum())

    def weights(self) -> np.ndarray:
        """Counts scaled to 0–1 (the largest cell is 1), as Leaflet.heat expects."""
        return self.count / self.count.max() if len(self.count) else self.count.astype(float)


def lattice_steps(cell_m: float) -> tuple[float, float]:
    """Degrees of longitude and latitude that make `cell_m` metres at the district."""
    return longitude_degrees(cell_m), cell_m / METRES_PER_DEGREE


#: the cells of the subquery `cells` as one row: cx, cy, n as big-endian int4 and sx, sy as
#: big-endian float8 in one bytea each (exact, read by numpy without parsing), and the
#: sector codes as one comma-separated text. (As arrays, psycopg2 built 600,000 Python
#: objects for 100,000 cells: a third of the heat page's build at a million incidents.)
PACKED_CELLS = """
SELECT string_agg(int4send(cx::int4), ''), string_agg(int4send(cy::int4), ''),
       string_agg(int4send(n::int4), ''), string_agg(float8send(sx::float8), ''),
       string_agg(float8send(sy::float8), ''), string_agg(coalesce(sector_code, ''), ',')
"""

HEAT_SQL = (
    PACKED_CELLS
    + """
FROM (
    SELECT floor(ST_X(i.geom) / :dlon)::int AS cx, floor(ST_Y(i.geom) / :dlat)::int AS cy,
           i.sector_code, count(*)::int AS n, sum(ST_X(i.geom)) AS sx, sum(ST_Y(i.geom)) AS sy
    FROM incidents i
    WHERE {where}
    GROUP BY 1, 2, 3
) cells
"""
)


def _merge(key: np.ndarray, *values: np.ndarray) -> tuple[np.ndarray, ...]:
    """Sum `values` over equal `key`s: (unique keys, summed values...)."""
    unique, inverse = np.unique(key, return_inverse=True)
    return (unique, *(np.bincount(inverse, v, minlength=len(unique)) for v in values))


#: about this many incidents fill `MAX_CELLS` 5 m cells (a million fill 200,000)
INCIDENTS_PER_BUDGET = 500_000
#: the planner's row estimate is this close (log2: 1 %) to the truth at best
ESTIMATE_SLACK = 0.015


def _estimated_rows(conn: Connection, where: str, params: dict) -> float:
    """The planner's estimate of how many incidents `where` selects (no scan)."""
    plan = conn.execute(
        text(f"EXPLAIN (FORMAT JSON) SELECT 1 FROM incidents i WHERE {where}"), params
    ).scalar()
    plan = json.loads(plan) if isinstance(plan, str) else plan
    return float(plan[0]["Plan"]["Plan Rows"])


def page_cell_m(conn: Connection, where: str, params: dict) -> float:
    """The page's lattice for the incidents `i` matching `where`: 5 m, or the coarser
    lattice a large selection would be merged to anyway (chosen from the planner's
    estimate, so PostgreSQL groups fewer cells)."""
    estimate = _estimated_rows(conn, where, params)
    # an estimate a hair over a power of two (a million rows, estimated at 1,000,050)
    # stays on the finer lattice: the merge below keeps the page within budget anyway
    doublings = math.log2(max(estimate, 1) / INCIDENTS_PER_BUDGET) - ESTIMATE_SLACK
    return CELL_M * 2 ** max(0, math.ceil(doublings))


def incident_heat(
    conn: Connection,
    where: str,
    params: dict,
    cell_m: float | None = None,
    max_cells: int = MAX_CELLS,
) -> Heat:
    """The heat of incidents `i` matching `where` (SQL with bound `params`), counted from
    every point on `cell_m` cells (by default `page_cell_m`)."""
    if cell_m is None:
        cell_m = page_cell_m(conn, where, params)
    dlon, dlat = lattice_steps(cell_m)
    row = conn.execute(
        text(HEAT_SQL.format(where=where)), {**params, "dlon": dlon, "dlat": dlat}
    ).one()  # one row of packed cells: far quicker to fetch than a row per cell
    return merged_heat([row], cell_m, max_cells)


def _numbers(packed, dtype: str) -> np.ndarray:
    """The numbers of a bytea of big-endian values (`PACKED_CELLS`)."""
    return np.frombuffer(packed, dtype=dtype)


def merged_heat(parts: list, cell_m: float, max_cells: int = MAX_CELLS) -> Heat:
    """One `Heat` from rows of cells (`PACKED_CELLS`: cx, cy, n, sx, sy, sector codes) on
    the `cell_m` lattice: equal cells summed, merged 2 x 2 until at most `max_cells` remain."""
    parts = [p for p in parts if p[0] is not None]
    if not parts:
        empty = np.zeros(0)
        return Heat(empty, empty, empty.astype(np.int64), cell_m, {})
    cx, cy = (
        np.concatenate([_numbers(p[i], ">i4") for p in parts]).astype(np.int64) for i in (0, 1)
    )
    n = np.concatenate([_numbers(p[2], ">i4") for p in parts]).astype(float)
    sx, sy = (np.concatenate([_numbers(p[i], ">f8") for p in parts]).astype(float) for i in (3, 4))
    codes = pd.Series([c for p in parts for c in p[5].split(",")], dtype=object)
    sectors = pd.Series(n).groupby(codes).sum()
    by_sector = {str(k): int(round(v)) for k, v in sectors.items() if round(v)}
    # equal cells summed; a cell whose signed parts cancel out holds no incident
    key, n, sx, sy = _merge((cx << 32) + cy, n, sx, sy)
    held = n != 0
    key, n, sx, sy = key[held], n[held], sx[held], sy[held]
    cx, cy = key >> 32, key & 0xFFFFFFFF
    shift = 0
    while True:  # merge 2 x 2 neighbours until the page fits
        key = ((cx >> shift) << 32) + (cy >> shift)
        _, count, mx, my = _merge(key, n, sx, sy)
        if len(count) <= max_cells:
            break
        shift += 1
    return Heat(
        lon=mx / count,
        lat=my / count,
        count=np.rint(count).astype(np.int64),
        cell_m=cell_m * 2**shift,
        by_sector=by_sector,
    )


@dataclass(frozen=True)
class Packed:
    """Cells packed for the page: little-endian uint16 east and north offsets in `UNIT_M`
    steps from (lon0, lat0), then the uint32 count; base64."""

    data: str
    lon0: float
    lat0: float
    dlon: float
    dlat: float
    max_count: int
    cells: int


def pack(lon: np.ndarray, lat: np.ndarray, count: np.ndarray) -> Packed:
    """Positions (already in the basemap's datum) and counts, packed for `decode` in JS."""
    dlon, dlat = lattice_steps(UNIT_M)
    if len(count) == 0:
        return Packed("", 0.0, 0.0, dlon, dlat, 1, 0)
    lon0, lat0 = float(lon.min()), float(lat.min())
    # a quarter metre over up to 16 km (a district); a city's span doubles the step as often
    # as needed (still well under the smallest cell, 5 m, up to 320 km)
    span = max((float(lon.max()) - lon0) / dlon, (float(lat.max()) - lat0) / dlat)
    if span > 65535:
        scale = 2 ** math.ceil(math.log2(span / 65535))
        dlon, dlat = dlon * scale, dlat * scale
    east = np.rint((lon - lon0) / dlon)
    north = np.rint((lat - lat0) / dlat)
    record = np.zeros(len(count), dtype=[("e", "<u2"), ("n", "<u2"), ("c", "<u4")])
    record["e"], record["n"], record["c"] = east, north, count
    data = base64.b64encode(record.tobytes()).decode("ascii")
    return Packed(data, lon0, lat0, dlon, dlat, int(count.max()), len(count))


#: JavaScript that unpacks `Packed` into Leaflet.heat points [lat, lon, weight 0–1]
DECODE_JS = """
function gmUnpackHeat(p) {
  if (!p.data) { return []; }
  var s = atob(p.data), bytes = new Uint8Array(s.length), i;
  for (i = 0; i < s.length; i++) { bytes[i] = s.charCodeAt(i); }
  var v = new DataView(bytes.buffer), n = s.length / 8, out = new Array(n);
  for (i = 0; i < n; i++) {
    out[i] = [p.lat0 + v.getUint16(8 * i + 2, true) * p.dlat,
              p.lon0 + v.getUint16(8 * i, true) * p.dlon,
              v.getUint32(8 * i + 4, true) / p.max_count];
  }
  return out;
}
"""

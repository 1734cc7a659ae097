"""Significant hotspots: Getis-Ord Gi* on a regular lattice, with a false-discovery-rate
correction, as crime-mapping practice flags them.

Method. Incidents are counted on square cells (default 100 m) of a lattice in CGCS2000 /
3-degree Gauss-Kruger CM 99E (EPSG:4542), anchored at the district's south-west corner;
only cells that touch the district are analysed, empty ones included. Each cell's
neighbourhood is itself and its 8 neighbours (queen contiguity, binary weights). Gi*
(PySAL `esda.G_Local`, star=True) gives a z-score per cell; its two-sided p-value from the
normal approximation is tested at 90, 95 and 99 % with the Benjamini-Hochberg false
discovery rate over all cells (`esda.fdr`), so a map of thousands of cells does not light
up by chance. A cell's class is +3/+2/+1 (hot at 99/95/90 %), 0, or -1/-2/-3 (cold).

`hotspot_analysis` runs it on the incidents a caller selects and may see, in two modes:
`window` (the incidents of the filter's window) and `compare` (the last 4 weeks up to
`until`, or to the latest incident, against the 52 weeks before: where the weekly rate
rose or fell in significant clusters). The map page is `geo.maps.hotspots`; the monthly
report (`geo.publish.reports`) uses it too.

    >>> result = gi_star_hotspots(x, y, district, cell_m=100)      # doctest: +SKIP
    >>> result.cells[result.cells.gi_bin == 3]                      # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from sqlalchemy import text
from sqlalchemy.engine import Connection

from geo.access.roles import Principal
from geo.cases.selection import LOCAL, IncidentFilter, data_end, incident_filter, selection
from geo.core.errors import InvalidInput
from geo.core.models import METRIC_SRID

DEFAULT_CELL_M = 100.0
#: below 25 m cells hold one or two incidents and the test has no power; above 1 km the
#: district is a handful of cells
MIN_CELL_M, MAX_CELL_M = 25.0, 1000.0
#: confidence levels and the class each one gives
LEVELS = ((0.99, 3), (0.95, 2), (0.90, 1))

#: (class, 中文, English, colour) for legends, hot first
CLASSES = (
    (3, "热点 99% 置信", "hot spot, 99 % confidence", "#b2182b"),
    (2, "热点 95% 置信", "hot spot, 95 % confidence", "#ef8a62"),
    (1, "热点 90% 置信", "hot spot, 90 % confidence", "#fddbc7"),
    (0, "不显著", "not significant", "#f7f7f7"),
    (-1, "冷点 90% 置信", "cold spot, 90 % confidence", "#d1e5f0"),
    (-2, "冷点 95% 置信", "cold spot, 95 % confidence", "#67a9cf"),
    (-3, "冷点 99% 置信", "cold spot, 99 % confidence", "#2166ac"),
)


def check_cell_size(cell_m: float) -> float:
    """The cell size in metres, or `InvalidInput` outside 25–1000 m."""
    if not (MIN_CELL_M <= cell_m <= MAX_CELL_M) or not np.isfinite(cell_m):
        raise InvalidInput(
            f"cell size {cell_m:g} m is outside {MIN_CELL_M:g}-{MAX_CELL_M:g} m: smaller cells "
            "hold too few incidents to test, larger ones cover the district in a few cells",
            field="cell",
        )
    return float(cell_m)


@dataclass(frozen=True)
class Lattice:
    """Square cells of `cell_m` from (x0, y0) in EPSG:4542, those touching the district."""

    x0: float
    y0: float
    cell_m: float
    ncols: int
    nrows: int
    #: col, row and polygon (EPSG:4542) of each analysed cell, indexed 0..n-1
    cells: gpd.GeoDataFrame

    def index_of(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """The analysed cell of each point (metric x, y), -1 outside them."""
        col = np.floor((np.asarray(x) - self.x0) / self.cell_m).astype(np.int64)
        row = np.floor((np.asarray(y) - self.y0) / self.cell_m).astype(np.int64)
        inside = (col >= 0) & (col < self.ncols) & (row >= 0) & (row < self.nrows)
        lookup = np.full(self.ncols * self.nrows, -1, dtype=np.int64)
        lookup[self.cells["row"].to_numpy() * self.ncols + self.cells["col"].to_numpy()] = (
            np.arange(len(self.cells))
        )
        out = np.full(len(col), -1, dtype=np.int64)
        out[inside] = lookup[row[inside] * self.ncols + col[inside]]
        return out


def lattice_over(area, cell_m: float = DEFAULT_CELL_M) -> Lattice:
    """The lattice of `cell_m` cells over `area` (a shapely polygon in EPSG:4542)."""
    cell_m = check_cell_size(cell_m)
    minx, miny, maxx, maxy = area.bounds
    ncols = int(np.ceil((maxx - minx) / cell_m))
    nrows = int(np.ceil((maxy - miny) / cell_m))
    col, row = np.meshgrid(np.arange(ncols), np.arange(nrows))
    col, row = col.ravel(), row.ravel()
    boxes = shapely.box(
        minx + col * cell_m,
        miny + row * cell_m,
        minx + (col + 1) * cell_m,
        miny + (row + 1) * cell_m,
    )
    shapely.prepare(area)
    keep = shapely.intersects(area, boxes)
    cells = gpd.GeoDataFrame(
        {"col": col[keep], "row": row[keep]}, geometry=boxes[keep], crs=METRIC_SRID
    ).reset_index(drop=True)
    return Lattice(minx, miny, cell_m, ncols, nrows, cells)


def _weights(lattice: Lattice):
    from libpysal.weights import DistanceBand

    centres = np.column_stack(
        [lattice.cells["col"].to_numpy(float), lattice.cells["row"].to_numpy(float)]
    )
    # queen contiguity on the lattice: the 8 neighbours lie within 1.5 cells
    return DistanceBand(centres, threshold=1.5, binary=True, silence_warnings=True)


def gi_star(values: np.ndarray, lattice: Lattice) -> tuple[np.ndarray, np.ndarray]:
    """Gi* z-scores and two-sided p-values of `values` (one per analysed cell). Values may
    be negative (rate changes): Gi*'s z-score does not change when a constant is added,
    so they are shifted to be non-negative first, as esda's ratio form needs."""
    from esda.getisord import G_Local
    from scipy.stats import norm

    y = np.asarray(values, dtype=float)
    if len(y) < 3 or np.ptp(y) == 0:
        return np.zeros(len(y)), np.ones(len(y))
    y = y - min(y.min(), 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        g = G_Local(y, _weights(lattice), transform="B", permutations=0, star=True)
    z = np.nan_to_num(np.asarray(g.Zs, dtype=float))
    return z, 2 * norm.sf(np.abs(z))


def classify(z: np.ndarray, p: np.ndarray) -> tuple[np.ndarray, dict[float, float]]:
    """Gi* bins (+3 hot at 99 % … -3 cold at 99 %) after the Benjamini-Hochberg correction
    at each level; also the p-value cut-off used at each level."""
    from esda import fdr

    bins = np.zeros(len(z), dtype=np.int8)
    cutoffs = {}
    for confidence, level in reversed(LEVELS):  # 90 %, then 95 %, then 99 % overwrite
        cutoff = float(fdr(p, 1 - confidence)) if len(p) else 0.0
        cutoffs[confidence] = cutoff
        significant = p <= cutoff
        bins[significant] = np.sign(z[significant]).astype(np.int8) * level
    return bins, cutoffs


@dataclass(frozen=True)
class Hotspots:
    """Analysed cells with `count` (or the compared counts), `z`, `p` and `gi_bin`."""

    cells: gpd.GeoDataFrame
    cell_m: float
    fdr_cutoffs: dict[float, float]

    def summary(self) -> dict[int, int]:
        """Number of cells per class."""
        counts = pd.Series(self.cells["gi_bin"]).value_counts()
        return {level: int(counts.get(level, 0)) for level, *_ in CLASSES}


def gi_star_hotspots(x, y, area, cell_m: float = DEFAULT_CELL_M) -> Hotspots:
    """Hot and cold spots of points (metric x, y in EPSG:4542) over `area` (polygon, EPSG:4542)."""
    lattice = lattice_over(area, cell_m)
    which = lattice.index_of(x, y)
    counts = np.bincount(which[which >= 0], minlength=len(lattice.cells))
    return analyse(lattice, counts, {"count": counts})


def analyse(lattice: Lattice, values: np.ndarray, columns: dict) -> Hotspots:
    """Gi* classes of `values` (one per analysed cell), with `columns` kept beside them."""
    z, p = gi_star(values, lattice)
    bins, cutoffs = classify(z, p)
    cells = lattice.cells.assign(**columns, z=z, p=p, gi_bin=bins)
    return Hotspots(cells, lattice.cell_m, cutoffs)


MODES = ("window", "compare")
RECENT_WEEKS, BASELINE_WEEKS = 4, 52

CELL_COUNTS_SQL = """
SELECT floor((ST_X(g) - :x0) / :cell)::int AS col, floor((ST_Y(g) - :y0) / :cell)::int AS row,
       (observed_at >= :split) AS recent, count(*) AS n
FROM (SELECT ST_Transform(i.geom, {srid}) AS g, i.observed_at FROM incidents i WHERE {where}) s
GROUP BY 1, 2, 3
"""


@dataclass(frozen=True)
class HotspotAnalysis:
    """The result and what it was computed on."""

    hotspots: Hotspots
    mode: str
    filter: IncidentFilter
    #: compare mode: the start of the recent window (the baseline ends there)
    split: datetime | None
    total: int


def _area(conn: Connection, grid: str | None):
    """The analysed area in EPSG:4542: the chosen unit, or the district."""
    row = conn.execute(
        text(
            f"SELECT ST_AsBinary(ST_Transform(geom, {METRIC_SRID})) FROM units "
            "WHERE valid_to IS NULL AND (CAST(:code AS text) IS NULL AND level = 'district' "
            "OR code = :code)"
        ),
        {"code": grid},
    ).first()
    if row is None:
        raise InvalidInput("no district is loaded: run `gridmap seed` first", field="grid")
    return shapely.from_wkb(bytes(row[0]))


def hotspot_analysis(
    conn: Connection,
    principal: Principal,
    mode: str = "window",
    cell: float = DEFAULT_CELL_M,
    **query,
) -> HotspotAnalysis:
    """Gi* hot and cold spots of the incidents the query selects and `principal` may see."""
    if mode not in MODES:
        raise InvalidInput(f"unknown mode {mode!r}; one of: {', '.join(MODES)}", field="mode")
    cell = check_cell_size(cell)
    f = incident_filter(conn, **query)
    split = None
    if mode == "compare":
        if f.since:
            raise InvalidInput(
                "compare mode sets its own windows (the last 4 weeks against the 52 before); "
                "pass `until` only",
                field="since",
            )
        end = f.until or data_end(conn, principal) or datetime.now(LOCAL)
        split = end - timedelta(weeks=RECENT_WEEKS)
        start = split - timedelta(weeks=BASELINE_WEEKS)
        f = IncidentFilter(f.categories, f.statuses, start, end, f.grid, f.grid_name)
    lattice = lattice_over(_area(conn, f.grid), cell)
    where, params = selection(principal, f)
    rows = conn.execute(
        text(CELL_COUNTS_SQL.format(srid=METRIC_SRID, where=where)),
        {
            **params,
            "x0": lattice.x0,
            "y0": lattice.y0,
            "cell": cell,
            "split": split or datetime.max.replace(tzinfo=LOCAL),
        },
    ).all()
    col = np.array([r.col for r in rows], dtype=np.int64)
    row = np.array([r.row for r in rows], dtype=np.int64)
    n = np.array([r.n for r in rows], dtype=np.int64)
    recent = np.array([bool(r.recent) for r in rows], dtype=bool)
    which = lattice.index_of(lattice.x0 + (col + 0.5) * cell, lattice.y0 + (row + 0.5) * cell)
    inside = which >= 0

    def counts(mask: np.ndarray) -> np.ndarray:
        keep = inside & mask
        return np.bincount(which[keep], weights=n[keep], minlength=len(lattice.cells)).astype(
            np.int64
        )

    if mode == "compare":
        now, before = counts(recent), counts(~recent)
        change = now / RECENT_WEEKS - before / BASELINE_WEEKS
        columns = {"recent": now, "baseline": before, "weekly_change": change.round(4)}
        values = change
    else:
        values = counts(np.ones(len(n), dtype=bool))
        columns = {"count": values}
    total = int(n[inside].sum()) if len(n) else 0
    return HotspotAnalysis(analyse(lattice, values, columns), mode, f, split, total)

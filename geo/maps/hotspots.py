"""Significant hotspots of the selected incidents (Getis-Ord Gi*, `geo.insight.hotspots`): as
GeoJSON for `/api/hotspots` and as a map page for `/maps/hotspots`.

Two modes: `window` (the incidents of the filter's window) and `compare` (the last 4 weeks
up to `until`, or to the latest incident, against the 52 weeks before: where the weekly
rate rose or fell in significant clusters).

    >>> result = hotspot_analysis(conn, principal, category="sanitation")   # doctest: +SKIP
    >>> result.hotspots.summary()                                           # doctest: +SKIP
    {3: 41, 2: 9, 1: 6, 0: 2650, -1: 0, -2: 0, -3: 0}
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta

import folium
import numpy as np
import shapely
from sqlalchemy import text
from sqlalchemy.engine import Connection

from geo.access.roles import Principal
from geo.core.errors import InvalidInput
from geo.core.models import METRIC_SRID
from geo.insight.hotspots import (
    CLASSES,
    DEFAULT_CELL_M,
    Hotspots,
    analyse,
    check_cell_size,
    lattice_over,
)
from geo.maps.cache import CachedPage, cached_page
from geo.maps.filters import (
    LOCAL,
    IncidentFilter,
    category_codes,
    describe,
    incident_filter,
    selection,
    visibility_class,
)
from geo.maps.incidents import EMPTY, data_end, filter_form, page_links, sensitive_notice
from geo.maps.layers import (
    add_legend,
    add_unit_layers,
    cells_layer,
    current_units,
    district_bounds,
)
from geo.maps.offline import add_notice, add_top_html, offline_map, render_html
from geo.maps.orientation import add_orientation

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


def _label(gi_bin: int, lang: int) -> str:
    return next(c[lang] for c in CLASSES if c[0] == gi_bin)


def hotspots_geojson(result: HotspotAnalysis, all_cells: bool = False) -> dict:
    """RFC 7946 FeatureCollection (WGS 84) of the significant cells (or all analysed cells),
    with the method, window and class counts as foreign members."""
    cells = result.hotspots.cells
    if not all_cells:
        cells = cells[cells["gi_bin"] != 0]
    cells = cells.to_crs(4326)
    cells = cells.assign(
        geometry=shapely.set_precision(cells.geometry.values, 1e-7),
        class_zh=[_label(int(b), 1) for b in cells["gi_bin"]],
        class_en=[_label(int(b), 2) for b in cells["gi_bin"]],
        id=[f"{c}_{r}" for c, r in zip(cells["col"], cells["row"], strict=True)],
    )
    collection = json.loads(cells.to_json(drop_id=True))
    for feature in collection["features"]:
        feature["id"] = feature["properties"].pop("id")
    f = result.filter
    collection.update(
        {
            "mode": result.mode,
            "method": "Getis-Ord Gi* (esda.G_Local, star, binary queen weights), two-sided "
            "normal p-values, Benjamini-Hochberg false discovery rate at each level",
            "cell_m": result.hotspots.cell_m,
            "crs_of_lattice": f"EPSG:{METRIC_SRID}",
            "filter": f.key(),
            "recent_since": result.split.isoformat() if result.split else None,
            "incidents": result.total,
            "fdr_cutoffs": {f"{k:.2f}": v for k, v in result.hotspots.fdr_cutoffs.items()},
            "summary": {str(k): v for k, v in result.hotspots.summary().items()},
            "analysed_cells": int(len(result.hotspots.cells)),
        }
    )
    return collection


def build_hotspot_map(conn: Connection, principal: Principal, result: HotspotAnalysis) -> str:
    categories = category_codes(conn)
    units = current_units(conn)
    f = result.filter
    compare = result.mode == "compare"
    title = (
        "热点变化 · Where incidents rose or fell (last 4 weeks vs 52 before)"
        if compare
        else "显著热点 · Significant hotspots (Getis-Ord Gi*)"
    )
    m = offline_map(
        district_bounds(conn, f.grid),
        title=title,
        subtitle=f"{describe(f, categories)} · {result.total:,} 件 incidents · "
        f"{result.hotspots.cell_m:g} m 网格 cells",
    )
    add_orientation(m, conn)
    add_top_html(m, page_links(f))
    if result.total == 0:
        add_notice(m, EMPTY, "gm-empty")
    notice = sensitive_notice(principal, categories)
    if notice:
        add_notice(m, notice)
    significant = result.hotspots.cells[result.hotspots.cells["gi_bin"] != 0]
    if result.total and significant.empty:
        add_notice(m, "没有统计显著的热点或冷点 · No significant hot or cold spots")
    colours = {c[0]: c[3] for c in CLASSES}
    fields = ["recent", "baseline", "weekly_change", "z"] if compare else ["count", "z"]
    aliases = (
        ["近4周 last 4 weeks", "前52周 52 weeks before", "周均变化 weekly change", "Gi* z"]
        if compare
        else ["事件 incidents", "Gi* z"]
    )
    cells_layer(m, significant, colours, "热点 · hotspots", fields, aliases)
    add_unit_layers(m, units, show_sectors=False)
    if compare:
        legend = [
            (colour, f"{'增加' if level > 0 else '减少'} {conf} 置信 · "
             f"{'increase' if level > 0 else 'decrease'}, {conf} confidence")
            for level, _, _, colour in CLASSES
            if level != 0
            for conf in [{3: "99%", 2: "95%", 1: "90%"}[abs(level)]]
        ]  # fmt: skip
        add_legend(m, "周均增减（聚集）· clusters of change", legend)
    else:
        legend = [(c[3], f"{c[1]} · {c[2]}") for c in CLASSES if c[0] != 0]
        add_legend(m, "Gi* 热点/冷点 (FDR) · hot and cold spots", legend)
    action = "/maps/hotspots"
    form = filter_form(
        action,
        _without_start(f) if compare else f,
        categories,
        units,
        principal,
        with_since=not compare,
    )
    mode_select = (
        f'<input type="hidden" name="mode" value="{result.mode}">'
        f'<input type="hidden" name="cell" value="{result.hotspots.cell_m:g}">'
    )
    add_top_html(m, form.replace("</form>", mode_select + "</form>"))
    other = "window" if compare else "compare"
    add_top_html(
        m,
        f'<div class="gm-sub"><a href="/maps/hotspots?mode={other}">'
        f"{'当前窗口 window' if compare else '对比 compare: 近4周 vs 前52周'}</a></div>",
    )
    folium.LayerControl(collapsed=True).add_to(m)
    return render_html(m)


def _without_start(f: IncidentFilter) -> IncidentFilter:
    return IncidentFilter(f.categories, f.statuses, None, f.until, f.grid, f.grid_name)


def hotspot_page(
    conn: Connection, principal: Principal, mode: str = "window", cell: float = DEFAULT_CELL_M,
    **query,
) -> CachedPage:  # fmt: skip
    """`GET /maps/hotspots`: the cached hotspot page for the query."""
    if mode not in MODES:
        raise InvalidInput(f"unknown mode {mode!r}; one of: {', '.join(MODES)}", field="mode")
    check_cell_size(cell)
    f = incident_filter(conn, **query)
    params = {**f.key(), "mode": mode, "cell": cell}
    return cached_page(
        conn,
        "hotspots",
        params,
        visibility_class(principal),
        lambda: build_hotspot_map(
            conn, principal, hotspot_analysis(conn, principal, mode, cell, **query)
        ),
    )

"""Significant hotspots of the selected incidents as a map page (`/maps/hotspots`) and as
GeoJSON (`/api/hotspots`). The analysis itself (Gi*, the `window` and `compare` modes) is
`geo.insight.hotspots.hotspot_analysis`.

    >>> result = hotspot_analysis(conn, principal, category="sanitation")   # doctest: +SKIP
    >>> hotspots_geojson(result)["features"][0]["properties"]["gi_bin"]     # doctest: +SKIP
    3
"""

from __future__ import annotations

import json

import folium
import shapely
from sqlalchemy.engine import Connection

from geo.access.roles import Principal
from geo.cases.selection import (
    IncidentFilter,
    category_codes,
    describe,
    incident_filter,
    visibility_class,
)
from geo.core.errors import InvalidInput
from geo.core.models import METRIC_SRID
from geo.insight.hotspots import (
    CLASSES,
    DEFAULT_CELL_M,
    MODES,
    HotspotAnalysis,
    check_cell_size,
    hotspot_analysis,
)
from geo.maps.layers import (
    add_legend,
    add_unit_layers,
    cells_layer,
    current_units,
    district_bounds,
)
from geo.maps.offline import add_notice, add_top_html, offline_map, render_html
from geo.maps.orientation import add_orientation
from geo.maps.pages import EMPTY, filter_form, page_links, sensitive_notice
from geo.publish.cache import CachedPage, cached_page


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

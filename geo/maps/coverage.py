"""The coverage choropleth for officials: one metric per unit, classed with mapclassify,
with a legend and each unit's coverage row in its popup. Offline and cached like the
incident maps.

    >>> page = coverage_page(conn, principal, level="grid2", metric="households_per_worker")
    ...                                                                  # doctest: +SKIP
"""

from __future__ import annotations

import html
import math
import warnings

import folium
import mapclassify
import numpy as np
import shapely

from geo.access.roles import Principal
from geo.cases.selection import visibility_class
from geo.core.errors import InvalidInput
from geo.core.terms import LABELS as TERMS
from geo.core.terms import Level
from geo.insight.coverage import FLAGS, KEY_METRICS, LABELS, METRICS, coverage
from geo.maps.datum import shift_geometries
from geo.maps.layers import UNIT_STYLE, add_legend, current_units, district_bounds
from geo.maps.offline import add_notice, add_top_html, offline_map, render_html
from geo.maps.orientation import add_orientation
from geo.publish.cache import CachedPage, cached_page

#: the metrics a map can show (every number in a coverage row)
MAP_METRICS = [
    key for key, _, _ in METRICS if key not in ("code", "name_zh", "name_en", "parent_code")
]
DEFAULT_METRIC = "households_per_worker"
LEVELS = ("sector", "grid2", "community")
#: ColorBrewer YlOrRd, light to dark; units with no value are grey
PALETTE = ["#ffffb2", "#fecc5c", "#fd8d3c", "#f03b20", "#bd0026"]
NO_VALUE = "#c8ccd0"
#: what a popup shows of the unit's row
POPUP_METRICS = [
    *KEY_METRICS,
    "property_companies",
    "red_property_companies",
    "median_hours_to_close",
]


def classes(values: list[float | None], k: int = 5) -> tuple[list[int | None], list[float]]:
    """Each value's class (None for no value) and the classes' upper bounds, by Fisher-Jenks
    natural breaks (fewer classes when there are fewer distinct values)."""
    present = np.array([v for v in values if v is not None], dtype=float)
    distinct = len(np.unique(present))
    if distinct == 0:
        return [None] * len(values), []
    if distinct <= k:
        bins = sorted(np.unique(present).tolist())
    else:
        with warnings.catch_warnings():  # without numba it is slower, which 40 units do not feel
            warnings.filterwarnings("ignore", message="Numba not installed")
            bins = mapclassify.FisherJenks(present, k=k).bins.tolist()
    out = []
    for v in values:
        out.append(None if v is None else int(np.searchsorted(bins, v, side="left")))
    return out, bins


def class_labels(values: list, klass: list[int | None], n: int) -> list[str]:
    """The legend text of each of `n` classes: the lowest and highest value that falls in
    it ("1–4", "5–7"), so classes never overlap and each says what it holds (a class of
    one value is that value)."""
    labels = []
    for i in range(n):
        members = [v for v, k in zip(values, klass, strict=True) if k == i]
        low, high = (min(members), max(members)) if members else (None, None)
        labels.append(_fmt(low) if low == high else f"{_fmt(low)}–{_fmt(high)}")
    return labels


def _fmt(value) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if isinstance(value, float):
        return f"{value:,.2f}".rstrip("0").rstrip(".")
    return f"{value:,}"


def _popup(row: dict, level: str) -> str:
    zh, en = TERMS[Level(level)]
    lines = [
        f"<b>{html.escape(row['name_zh'])}</b> · {html.escape(row['name_en'])}",
        f"{zh} · {en} · {html.escape(row['code'])}",
    ]
    for key in POPUP_METRICS:
        mzh, men = LABELS[key]
        lines.append(f"{mzh} {men}: <b>{_fmt(row.get(key))}</b>")
    for flag in row["flags"]:
        fzh, fen, _ = FLAGS[flag["flag"]]
        lines.append(
            f'<span style="color:#a93226">⚠ {fzh} · {fen} ({html.escape(flag["rule"])})</span>'
        )
    return "<br>".join(lines)


def _form(level: str, metric: str) -> str:
    level_options = "".join(
        f'<option value="{lv}"{" selected" if lv == level else ""}>'
        f"{TERMS[Level(lv)][0]} · {TERMS[Level(lv)][1]}</option>"
        for lv in LEVELS
    )
    metric_options = "".join(
        f'<option value="{key}"{" selected" if key == metric else ""}>'
        f"{html.escape(LABELS[key][0])} · {html.escape(LABELS[key][1])}</option>"
        for key in MAP_METRICS
    )
    return (
        '<details><summary>指标 · Metric</summary><form method="get" action="/maps/coverage">'
        f'<label for="gm-level">层级</label><select id="gm-level" name="level">{level_options}'
        f'</select><label for="gm-metric">指标</label><select id="gm-metric" name="metric">'
        f'{metric_options}</select><button type="submit">显示 · Show</button></form></details>'
    )


def build_coverage_map(
    conn, principal: Principal, level: str, metric: str, unit: str | None
) -> str:
    """The choropleth page of `metric` over the units of `level`, `unit` outlined."""
    report = coverage(conn, principal, level)
    rows = {r["code"]: r for r in report.rows}
    units = current_units(conn)
    shown = units[units["level"] == level].copy()
    values = [rows[c].get(metric) for c in shown["code"]]
    klass, bins = classes(values)
    zh, en = LABELS[metric]
    m = offline_map(
        district_bounds(conn, unit if unit in rows else None),
        title=f"网格覆盖 · Coverage: {zh} · {en}",
        subtitle=f"{TERMS[Level(level)][0]} · {TERMS[Level(level)][1]} · "
        f"{report.since} – {report.until}",
    )
    add_orientation(m, conn)
    if unit and unit not in rows:
        add_notice(
            m, f"没有编码为 {unit} 的{TERMS[Level(level)][0]} · no {level} {unit}", "gm-empty"
        )
    shown["fill"] = [NO_VALUE if k is None else PALETTE[min(k, len(PALETTE) - 1)] for k in klass]
    shown["popup"] = [_popup(rows[c], level) for c in shown["code"]]
    shown["label"] = [
        f"{html.escape(n)}<br><small>{_fmt(v)}</small>"
        for n, v in zip(shown["name_zh"], values, strict=True)
    ]
    shown["chosen"] = shown["code"] == unit
    shown = shown.assign(
        geometry=shapely.set_precision(shift_geometries(shown.geometry.values, m.datum), 1e-6)
    )
    folium.GeoJson(
        shown[["code", "fill", "popup", "label", "chosen", "geometry"]].__geo_interface__,
        name=f"{zh} · {en}",
        style_function=lambda f: {
            "fillColor": f["properties"]["fill"],
            "fillOpacity": 0.75,
            "color": "#111" if f["properties"]["chosen"] else "#555",
            "weight": 4 if f["properties"]["chosen"] else 1,
        },
        highlight_function=lambda _f: {"weight": 3, "fillOpacity": 0.9},
        popup=folium.GeoJsonPopup(fields=["popup"], labels=False),
        tooltip=folium.GeoJsonTooltip(fields=["label"], labels=False),
        zoom_on_click=False,
    ).add_to(m)
    context = units[units["level"] == "community"]
    if level != "community" and not context.empty:
        folium.GeoJson(
            context.assign(geometry=shift_geometries(context.geometry.values, m.datum))[
                ["code", "geometry"]
            ].__geo_interface__,
            name=f"{TERMS[Level.COMMUNITY][0]} · {TERMS[Level.COMMUNITY][1]}",
            style_function=lambda _f: {**UNIT_STYLE[Level.COMMUNITY], "fillOpacity": 0},
            interactive=False,
        ).add_to(m)
    legend = [
        (PALETTE[min(i, len(PALETTE) - 1)], label)
        for i, label in enumerate(class_labels(values, klass, len(bins)))
    ]
    if any(k is None for k in klass):
        legend.append((NO_VALUE, "无数值 · no value"))
    add_legend(m, f"{zh} · {en}", legend)
    add_top_html(m, _form(level, metric))
    folium.LayerControl(collapsed=True).add_to(m)
    return render_html(m)


def coverage_page(
    conn,
    principal: Principal,
    level: str = "sector",
    metric: str = DEFAULT_METRIC,
    unit: str | None = None,
) -> CachedPage:
    """`GET /maps/coverage`: the cached choropleth, rebuilt when the data change."""
    if level not in LEVELS:
        raise InvalidInput(f"unknown level {level!r}; one of: {', '.join(LEVELS)}", field="level")
    if metric not in MAP_METRICS:
        raise InvalidInput(
            f"unknown metric {metric!r}; one of: {', '.join(MAP_METRICS)}", field="metric"
        )
    return cached_page(
        conn,
        "coverage",
        {"level": level, "metric": metric, "unit": unit},
        visibility_class(principal),
        lambda: build_coverage_map(conn, principal, level, metric, unit),
    )

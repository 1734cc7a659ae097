"""The map of a boundary change: old and new borders side by side.

`preview_page` renders a self-contained HTML page (inline SVG, no script, no external
request of any kind) of a preview or a committed change: old sectors dashed red, new ones
filled blue, with the moves and the households per worker below. (The interactive
picture, old and new sectors on the vendored Leaflet map, is the committed change's page
`/maps/boundaries/changes/{id}` and the planner's editor.)

    >>> html = preview_page("Preview", report["map"]["before"], report["map"]["after"], report)
"""

from __future__ import annotations

import html
import math

import numpy as np
import shapely
from shapely.geometry import shape

WIDTH, HEIGHT, PAD = 880, 620, 20
STREET = "#c8c2b4"  # the streets under the borders, as light as on the other maps


def _geoms(collection: dict) -> list[tuple[str, shapely.Geometry, dict]]:
    return [
        (str(f.get("id") or f["properties"].get("code")), shape(f["geometry"]), f["properties"])
        for f in collection.get("features", [])
        if f.get("geometry")
    ]


def _projector(geoms):
    bounds = np.array([g.bounds for g in geoms]) if geoms else np.array([[0, 0, 1, 1]])
    minx, miny = bounds[:, 0].min(), bounds[:, 1].min()
    maxx, maxy = bounds[:, 2].max(), bounds[:, 3].max()
    kx = math.cos(math.radians((miny + maxy) / 2))
    scale = min(
        (WIDTH - 2 * PAD) / max((maxx - minx) * kx, 1e-9),
        (HEIGHT - 2 * PAD) / max(maxy - miny, 1e-9),
    )

    def project(xy: np.ndarray) -> np.ndarray:
        return np.column_stack(
            [PAD + (xy[:, 0] - minx) * kx * scale, PAD + (maxy - xy[:, 1]) * scale]
        )

    return project


def _path(geom, project) -> str:
    out = []
    for poly in shapely.get_parts(geom):
        if poly.geom_type != "Polygon":
            continue
        for ring in [poly.exterior, *poly.interiors]:
            xy = project(np.asarray(ring.coords))
            out.append("M" + " L".join(f"{x:.1f} {y:.1f}" for x, y in xy) + " Z")
    return " ".join(out)


def _street_lines(streets: dict | None, project, view) -> list[str]:
    """The streets under the borders (their part inside `view`): light lines, each named
    once at the middle of what is drawn."""
    parts = []
    for feature in (streets or {}).get("features", []):
        line = shape(feature["geometry"]).intersection(view)
        if line.is_empty or line.length == 0:
            continue
        name = feature["properties"].get("name_zh") or ""
        for part in shapely.get_parts(line):
            xy = project(np.asarray(part.coords))
            points = " ".join(f"{x:.1f},{y:.1f}" for x, y in xy)
            parts.append(
                f'<polyline points="{points}" fill="none" stroke="#c8c2b4" stroke-width="3"/>'
            )
        if name:
            middle = shapely.line_interpolate_point(shapely.line_merge(line), 0.5, normalized=True)
            x, y = project(np.asarray(middle.coords))[0]
            parts.append(
                f'<text class="street" x="{x:.1f}" y="{y:.1f}" font-size="11" fill="#6b6457" '
                f'text-anchor="middle">{html.escape(name)}</text>'
            )
    return parts


def _svg(before, after, streets: dict | None = None) -> str:
    drawn = [g for _, g, _ in before + after]
    project = _projector(drawn)
    parts = [f'<svg viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" height="{HEIGHT}" role="img">']
    if drawn:
        view = shapely.box(*shapely.total_bounds(np.array(drawn, dtype=object)))
        parts += _street_lines(streets, project, view)
    for code, geom, _ in after:
        parts.append(
            f'<path d="{_path(geom, project)}" fill="#3b82f6" fill-opacity="0.25" '
            f'stroke="#1d4ed8" stroke-width="1.5" fill-rule="evenodd"><title>{html.escape(code)}'
            "</title></path>"
        )
    for code, geom, _ in before:
        parts.append(
            f'<path d="{_path(geom, project)}" fill="none" stroke="#dc2626" stroke-width="2" '
            f'stroke-dasharray="6 4"><title>{html.escape(code)} (before)</title></path>'
        )
    for code, geom, _ in after:
        x, y = project(np.asarray(shapely.point_on_surface(geom).coords))[0]
        parts.append(
            f'<text x="{x:.1f}" y="{y:.1f}" font-size="12" text-anchor="middle">'
            f"{html.escape(code[-4:])}</text>"
        )
    parts.append("</svg>")
    return "".join(parts)


def _rows(report: dict) -> str:
    out = []
    for kind, m in report.get("moves", {}).items():
        for f in m.get("flows", []) if isinstance(m, dict) else []:
            count = f.get("count", 1)
            out.append(
                f"<tr><td>{html.escape(kind)}</td><td>{html.escape(str(f.get('code', '')))}</td>"
                f"<td>{html.escape(str(f['from']))}</td><td>{html.escape(str(f['to']))}</td>"
                f"<td>{count}</td></tr>"
            )
    loads = []
    for row in report.get("load", {}).get("sectors", []):
        loads.append(
            "<tr>"
            + "".join(
                f"<td>{html.escape(str(row.get(k)))}</td>"
                for k in (
                    "code",
                    "name_zh",
                    "households_before",
                    "households_after",
                    "workers_after",
                    "households_per_worker_before",
                    "households_per_worker_after",
                )
            )
            + "</tr>"
        )
    moves = (
        "<h2>移动 · What moves</h2><table><tr><th>kind</th><th>courtyard</th><th>from</th>"
        f"<th>to</th><th>count</th></tr>{''.join(out)}</table>"
        if out
        else "<p>Nothing moves between sectors.</p>"
    )
    target = report.get("load", {}).get("target")
    load = (
        f"<h2>每名网格员户数 · Households per worker (target {target})</h2><table><tr>"
        "<th>sector</th><th>name</th><th>households before</th><th>after</th><th>workers</th>"
        f"<th>per worker before</th><th>after</th></tr>{''.join(loads)}</table>"
        if loads
        else ""
    )
    problems = "".join(
        f"<li><b>{html.escape(p['rule'])}</b>: {html.escape(p['detail'])}</li>"
        for p in report.get("problems", [])
    )
    return (f"<h2>问题 · Problems</h2><ul>{problems}</ul>" if problems else "") + moves + load


def preview_page(
    title: str, before: dict, after: dict, report: dict | None = None, streets: dict | None = None
) -> str:
    """A self-contained HTML page of old (dashed red) and new (blue) borders over the named
    `streets` (a GeoJSON FeatureCollection of lines), and the report's moves and loads; it
    loads nothing from anywhere."""
    svg = _svg(_geoms(before), _geoms(after), streets)
    return (
        '<!doctype html><html lang="zh"><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title><style>body{{font-family:sans-serif;margin:1em}}"
        "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:2px 6px;"
        "font-size:13px}</style></head><body>"
        f'<h1>{html.escape(title)}</h1><p><span style="color:#dc2626">- - 调整前 before</span>'
        ' &nbsp; <span style="color:#1d4ed8">■ 调整后 after</span></p>'
        f"{svg}{_rows(report or {})}</body></html>"
    )

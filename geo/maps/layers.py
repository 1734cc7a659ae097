"""Layers the map pages share: unit boundaries with labels and count popups, the packed
heat layer, lattice cells coloured by class, and legends.

    >>> units = current_units(conn)                                   # doctest: +SKIP
    >>> add_unit_layers(m, units, counts={"6209020030010101": 12})     # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
import html

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from branca.element import Element
from folium.elements import JSCSSMixin
from folium.map import Layer
from folium.plugins import HeatMap
from folium.template import Template
from folium.utilities import JsCode, remove_empty
from sqlalchemy import text
from sqlalchemy.engine import Connection

from geo.core.terms import LABELS, Level
from geo.maps.datum import shift_geometries
from geo.maps.heat import DECODE_JS, Packed

#: drawing order and style of the unit levels, coarse to fine
UNIT_STYLE = {
    Level.COMMUNITY: {"color": "#7b241c", "weight": 3.5, "fillOpacity": 0.0},
    Level.GRID2: {"color": "#1a5276", "weight": 2.0, "fillOpacity": 0.0, "dashArray": "6 4"},
    Level.SECTOR: {"color": "#566573", "weight": 1.0, "fillOpacity": 0.02},
}


def current_units(conn: Connection) -> gpd.GeoDataFrame:
    """Current communities, level-2 grids and sectors (WGS 84): code, level, parent_code,
    name_zh, name_en, geometry."""
    rows = conn.execute(
        text(
            "SELECT code, level, parent_code, name_zh, name_en, ST_AsBinary(geom) AS wkb "
            "FROM units WHERE valid_to IS NULL AND level IN ('community', 'grid2', 'sector') "
            "ORDER BY code"
        )
    ).all()
    frame = gpd.GeoDataFrame(
        [r[:5] for r in rows],
        columns=["code", "level", "parent_code", "name_zh", "name_en"],
        geometry=shapely.from_wkb([bytes(r.wkb) for r in rows]) if rows else [],
        crs=4326,
    )
    return frame


def district_bounds(conn: Connection, code: str | None = None) -> tuple[float, ...]:
    """(west, south, east, north) of the current unit `code`, or of the whole district."""
    row = conn.execute(
        text(
            "SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM ("
            "SELECT ST_Extent(geom) AS e FROM units WHERE valid_to IS NULL "
            "AND (CAST(:code AS text) IS NULL AND level = 'district' OR code = :code)) s"
        ),
        {"code": code},
    ).one()
    if row[0] is None:
        return (98.47, 39.74, 98.53, 39.79)  # no district loaded: Jiuquan's north-west
    return tuple(float(v) for v in row)


def rolled_up(by_sector: dict[str, int]) -> dict[str, int]:
    """Counts per sector summed up to every unit whose code prefixes the sector's
    (codes are hierarchical), keyed by unit code."""
    totals: dict[str, int] = {}
    for sector, count in by_sector.items():
        if not sector:
            continue
        for length in (12, 14, 16):  # community, level-2 grid, sector codes
            if len(sector) >= length:
                totals[sector[:length]] = totals.get(sector[:length], 0) + count
    return totals


def _popup(row, counts: dict[str, int], by_code: pd.DataFrame, what: str) -> str:
    """HTML of a unit's popup: its names and codes, and the counts of it and its parents
    (`by_code`: the units indexed by code)."""
    lines = [
        f"<b>{html.escape(row.name_zh)}</b> · {html.escape(row.name_en)}",
        f"{LABELS[Level(row.level)][0]} · {LABELS[Level(row.level)][1]} · {row.code}",
    ]
    chain, code = [], row.code
    while code in by_code.index:
        chain.append(code)
        code = by_code.loc[code, "parent_code"]
    for code in chain:
        unit = by_code.loc[code]
        lines.append(f"{html.escape(unit.name_zh)}: <b>{counts.get(code, 0):,}</b> {what}")
    return "<br>".join(lines)


def add_unit_layers(
    m: folium.Map,
    units: gpd.GeoDataFrame,
    counts: dict[str, int] | None = None,
    what: str = "件事件 incidents",
    show_sectors: bool = True,
) -> None:
    """Community, level-2 grid and sector boundaries as three overlays, each unit labelled
    with its name and code, its popup giving the counts of it and the units above it."""
    counts = counts or {}
    units = units.assign(geometry=shift_geometries(units.geometry.values, m.datum))
    by_code = pd.DataFrame(units.drop(columns="geometry")).set_index("code")
    for level, style in UNIT_STYLE.items():
        rows = units[units["level"] == level.value]
        if rows.empty:
            continue
        short = {Level.COMMUNITY: 3, Level.GRID2: 2, Level.SECTOR: 4}[level]
        frame = gpd.GeoDataFrame(
            {
                "code": rows["code"],
                "label": [
                    f"{html.escape(n)}<br><small>{c[-short:]}</small>"
                    for n, c in zip(rows["name_zh"], rows["code"], strict=True)
                ],
                "popup": [_popup(r, counts, by_code, what) for r in rows.itertuples()],
            },
            geometry=shapely.set_precision(rows.geometry.values, 1e-6),
            crs=4326,
        )
        zh, en = LABELS[level]
        layer = folium.GeoJson(
            frame.__geo_interface__,
            name=f"{zh} · {en}",
            style_function=lambda _f, s=style: s,
            highlight_function=lambda _f: {"weight": 4, "fillOpacity": 0.08},
            popup=folium.GeoJsonPopup(fields=["popup"], labels=False),
            # one permanent label per unit (bound on the group, Leaflet would show only one)
            on_each_feature=JsCode(
                "function (feature, layer) { layer.bindTooltip(feature.properties.label, "
                "{permanent: true, direction: 'center', "
                f"className: 'gm-label gm-label-{level.value}'}}); }}"
            ),
            show=show_sectors or level != Level.SECTOR,
            zoom_on_click=False,
        )
        layer.add_to(m)


#: how the heat is drawn (the benchmark's raw-point page uses the same)
HEAT_STYLE = {"radius": 18, "blur": 14, "min_opacity": 0.05}


class _Verbatim(Element):
    """Markup added to the page as it is. (branca adds a macro's output as an `Element`,
    which compiles that text as a Jinja template: for the heat layer's megabyte of packed
    cells that took a third of the page's build.)"""

    def __init__(self, markup: str) -> None:
        super().__init__()
        self.markup = markup

    def render(self, **kwargs) -> str:
        return self.markup


class PackedHeat(JSCSSMixin, Layer):
    """Leaflet.heat over cells packed by `geo.maps.heat.pack`, weights 0–1."""

    _template = Template(
        """{% macro header(this, kwargs) %}<script>""" + DECODE_JS + """</script>{% endmacro %}"""
    )
    #: the layer's script, holding its cells: added verbatim by `render`
    _script = Template(
        """
        {% macro script(this, kwargs) %}
            var {{ this.get_name() }} = L.heatLayer(
                gmUnpackHeat({{ this.packed|tojson }}),
                {{ this.options|tojavascript }}
            );
            window.gmHeat = {{ this.get_name() }};
        {% endmacro %}
        """
    )
    default_js = HeatMap.default_js

    def __init__(
        self,
        packed: Packed,
        name: str,
        radius: int = HEAT_STYLE["radius"],
        blur: int = HEAT_STYLE["blur"],
        min_opacity: float = HEAT_STYLE["min_opacity"],
        max_zoom: int = 18,
        show: bool = True,
    ):
        super().__init__(name=name, overlay=True, control=True, show=show)
        self._name = "PackedHeat"
        self.packed = dataclasses.asdict(packed)
        self.options = remove_empty(
            min_opacity=min_opacity, max_zoom=max_zoom, radius=radius, blur=blur
        )

    def render(self, **kwargs) -> None:
        script = self._script.module.__dict__["script"](self, kwargs)
        self.get_root().script.add_child(_Verbatim(script), name=self.get_name())
        super().render(**kwargs)


def add_legend(m: folium.Map, title: str, rows: list[tuple[str, str]]) -> None:
    """A legend panel: (colour, text) rows under a title."""
    from geo.maps.offline import add_bottom_panel

    items = "".join(
        f'<div><i style="background:{colour}"></i>{html.escape(label)}</div>'
        for colour, label in rows
    )
    add_bottom_panel(m, f"<b>{html.escape(title)}</b>{items}")


def cells_layer(
    m: folium.Map,
    cells: gpd.GeoDataFrame,
    colour_of: dict[int, str],
    name: str,
    popup_fields: list[str],
    popup_aliases: list[str],
) -> None:
    """Lattice cells (EPSG:4542) as polygons filled by the colour of their `gi_bin`."""
    if cells.empty:
        return
    shown = cells.to_crs(4326)
    shown = shown.assign(
        geometry=shapely.set_precision(shift_geometries(shown.geometry.values, m.datum), 1e-6),
        fill=[colour_of[int(b)] for b in shown["gi_bin"]],
    )
    for column in popup_fields:
        if np.issubdtype(shown[column].dtype, np.floating):
            shown[column] = shown[column].round(3)
    keep = ["fill", *popup_fields, "geometry"]
    folium.GeoJson(
        shown[keep].__geo_interface__,
        name=name,
        style_function=lambda f: {
            "fillColor": f["properties"]["fill"],
            "color": f["properties"]["fill"],
            "weight": 0.5,
            "fillOpacity": 0.75,
        },
        popup=folium.GeoJsonPopup(fields=popup_fields, aliases=popup_aliases),
        zoom_on_click=False,
    ).add_to(m)

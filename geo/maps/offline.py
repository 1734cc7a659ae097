"""The one builder of map pages that work offline: vendored assets, the configured basemap,
overlays lined up with it, phone-friendly chrome, and HTML with no request to another host.

Every map page (incidents, hotspots, coverage, boundary previews) starts here:

    >>> m = offline_map((98.47, 39.74, 98.52, 39.78), title="事件热力图 · Incident heat")
    >>> folium.GeoJson(shift_feature_collection(fc, m.datum)).add_to(m)   # doctest: +SKIP
    >>> html = render_html(m)
"""

from __future__ import annotations

import html as html_escape
import re

import folium
from branca.element import Element, MacroElement
from folium.template import Template

from geo.maps.assets import localise
from geo.maps.basemap import Basemap, basemap
from geo.maps.datum import shift_lonlat

#: (west, south, east, north) in WGS 84 degrees
Bounds = tuple[float, float, float, float]

#: an asset (script, stylesheet, font, image) loaded from another host
EXTERNAL_ASSET = re.compile(
    r"""(?:<script[^>]*\ssrc|<link[^>]*\shref|<img[^>]*\ssrc)\s*=\s*["']?(?:https?:)?//"""
    r"""|url\(\s*["']?(?:https?:)?//|@import\s+["']?(?:https?:)?//""",
    re.IGNORECASE,
)

GCJ02_NOTICE = (
    "底图为 GCJ-02 坐标（高德/腾讯），叠加图层已由 WGS 84 偏移对齐 · "
    "The basemap is drawn in GCJ-02 (Gaode/Tencent); overlays are shifted from WGS 84 "
    "to line up with it"
)

#: page chrome: readable at 360 px, touch-sized controls, panels over the map
PAGE_CSS = """
<style>
html, body { font-family: system-ui, "Noto Sans CJK SC", "Microsoft YaHei", sans-serif;
  font-size: 15px; -webkit-text-size-adjust: 100%; }
.folium-map.gm-plain { background: #eef0ea; }
.gm-panel { position: absolute; z-index: 1000; background: rgba(255,255,255,.95);
  border-radius: 6px; box-shadow: 0 1px 5px rgba(0,0,0,.3); padding: 6px 10px;
  max-width: calc(100vw - 80px); line-height: 1.35; color: #1d2733; }
.gm-top { top: 10px; left: 56px; }
.gm-bottom { bottom: 56px; left: 10px; }
.gm-panel h1 { font-size: 1rem; margin: 0; }
.gm-panel .gm-sub { font-size: .8rem; color: #4a5663; }
.gm-notice { background: #fff6d6; border-left: 4px solid #e0a800; padding: 4px 8px;
  margin-top: 4px; font-size: .85rem; }
.gm-empty { background: #fdecea; border-left: 4px solid #c0392b; }
.gm-panel details summary { cursor: pointer; min-height: 36px; line-height: 36px;
  font-weight: 600; }
.gm-panel form { display: grid; grid-template-columns: auto minmax(0, 1fr); gap: 6px 8px;
  align-items: center; margin: 6px 0; }
.gm-panel select, .gm-panel input, .gm-panel button { font-size: 15px; min-height: 36px;
  width: 100%; min-width: 0; box-sizing: border-box; }
.gm-panel button { grid-column: 1 / 3; background: #c0392b; color: #fff; border: 0;
  border-radius: 4px; }
.gm-legend i { display: inline-block; width: 14px; height: 14px; margin-right: 6px;
  vertical-align: -2px; border: 1px solid rgba(0,0,0,.25); }
.leaflet-tooltip.gm-label { background: transparent; border: 0; box-shadow: none; font-weight: 600;
  text-shadow: 0 0 3px #fff, 0 0 3px #fff, 0 0 3px #fff; white-space: nowrap; }
.leaflet-tooltip.gm-label::before { display: none; }
.gm-label-community { font-size: 15px; color: #7b241c; }
.gm-label-grid2 { font-size: 13px; color: #1a5276; }
.gm-label-sector { font-size: 11px; color: #424949; }
.gm-zoom-far .gm-label-sector, .gm-zoom-far .gm-label-grid2 { display: none; }
.gm-zoom-mid .gm-label-sector { display: none; }
.leaflet-touch .leaflet-control-layers-toggle { width: 44px; height: 44px; }
.leaflet-popup-content { font-size: 14px; }
@media (max-width: 480px) { .gm-top { left: 52px; right: 60px; } .gm-bottom { left: 8px; } }
</style>
"""


class _MapScript(MacroElement):
    """Page behaviour run once the map exists: a plain background when there are no tiles,
    and labels by zoom (communities always, level-2 grids from 14, sectors from 15)."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        (function (map) {
          var c = map.getContainer().classList;
          {% if this.plain %}c.add('gm-plain');{% endif %}
          function mark() {
            var z = map.getZoom();
            c.toggle('gm-zoom-far', z < 14); c.toggle('gm-zoom-mid', z == 14);
          }
          map.on('zoomend', mark); mark();
          window.gmMap = map;
        })({{ this._parent.get_name() }});
        {% endmacro %}
        """
    )

    def __init__(self, plain: bool) -> None:
        super().__init__()
        self._name = "MapScript"
        self.plain = plain


def offline_map(
    bounds: Bounds,
    *,
    title: str = "",
    subtitle: str = "",
    tiles: Basemap | None = None,
    min_zoom: int = 11,
    max_zoom: int = 19,
) -> folium.Map:
    """A Folium map fitted to `bounds` (WGS 84) that loads only vendored assets, on the
    basemap of `GRIDMAP_TILES` (or `tiles`). `m.datum` says what overlays must be drawn in
    ("wgs84" or "gcj02": shift them with `geo.maps.datum`); on GCJ-02 tiles the page says
    that overlays are shifted. `title` and `subtitle` head the page's top panel."""
    tiles = tiles or basemap()
    west, south, east, north = bounds
    lon, lat = shift_lonlat([west, east], [south, north], tiles.datum)
    m = folium.Map(
        location=[(lat[0] + lat[1]) / 2, (lon[0] + lon[1]) / 2],
        zoom_start=14,
        tiles=None,
        min_zoom=min_zoom,
        max_zoom=max_zoom,
        control_scale=True,
        zoom_snap=0.25,
    )
    localise(m)
    m.datum = tiles.datum
    m.basemap = tiles
    if tiles.url:
        folium.TileLayer(
            tiles.url,
            attr=html_escape.escape(tiles.attribution) or "basemap",
            name="底图 · basemap",
            max_zoom=max_zoom,
            max_native_zoom=18,
            subdomains="01234567" if "tianditu" in tiles.url else "abc",
            control=False,
        ).add_to(m)
    _MapScript(plain=not tiles.url).add_to(m)
    m.fit_bounds([[lat[0], lon[0]], [lat[1], lon[1]]])
    m.get_root().header.add_child(Element(PAGE_CSS), name="gridmap_css")
    m.gm_top = []  # HTML blocks of the top panel, in order
    if title:
        m.gm_top.append(f"<h1>{html_escape.escape(title)}</h1>")
    if subtitle:
        m.gm_top.append(f'<div class="gm-sub">{html_escape.escape(subtitle)}</div>')
    if tiles.datum == "gcj02":
        m.gm_top.append(f'<div class="gm-notice" role="note">{GCJ02_NOTICE}</div>')
    return m


def add_notice(m: folium.Map, text: str, kind: str = "") -> None:
    """A line in the page's top panel (e.g. "no incidents in this window")."""
    css = f"gm-notice {kind}".strip()
    m.gm_top.append(f'<div class="{css}" role="status">{html_escape.escape(text)}</div>')


def add_top_html(m: folium.Map, html: str) -> None:
    """Trusted HTML (built by the caller, values escaped) for the page's top panel."""
    m.gm_top.append(html)


def add_bottom_panel(m: folium.Map, html: str, css_class: str = "gm-legend") -> None:
    """Trusted HTML in a panel at the bottom left (legends)."""
    m.get_root().html.add_child(
        Element(f'<div class="gm-panel gm-bottom {css_class}">{html}</div>')
    )


def render_html(m: folium.Map) -> str:
    """The page as one HTML document; raises if any asset would load from another host."""
    if m.gm_top:
        m.get_root().html.add_child(
            Element(f'<div class="gm-panel gm-top" id="gm-top">{"".join(m.gm_top)}</div>'),
            name="gm_top",
        )
        m.gm_top = []
    page = m.get_root().render()
    assert_offline(page)
    return page


def external_assets(page: str) -> list[str]:
    """The places in `page` where an asset would be loaded from another host."""
    return [page[max(0, x.start() - 40) : x.end() + 60] for x in EXTERNAL_ASSET.finditer(page)]


def assert_offline(page: str) -> None:
    found = external_assets(page)
    if found:
        raise RuntimeError(f"the map page would load assets from another host: {found[:3]}")

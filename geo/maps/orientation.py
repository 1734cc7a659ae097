"""The streets and landmarks under a generated map page (heat, hotspots, coverage) when no
tile basemap is configured: the data inline, drawn by the same script as the template
pages (`static/web/streets.js`), so the page still asks nothing of another host.

    >>> m = offline_map(bounds, title="事件热力图")          # doctest: +SKIP
    >>> add_orientation(m, conn)                              # doctest: +SKIP
"""

from __future__ import annotations

import folium
from branca.element import Element, MacroElement
from folium.template import Template
from sqlalchemy.engine import Connection

from geo.grid.streets import orientation

SCRIPT = "/static/web/streets.js"

#: the label rules of `static/web/gridmap.css` the generated pages need (they do not load
#: the pages' stylesheet)
LABEL_CSS = """<style>
.leaflet-tooltip.gm-street { background: transparent; border: 0; box-shadow: none; padding: 0;
  color: #56606b; font-size: 11px; white-space: nowrap; text-shadow: 0 0 2px #fff, 0 0 3px #fff; }
.leaflet-tooltip.gm-street::before { display: none; }
.leaflet-tooltip.gm-street-arterial { font-size: 12px; font-weight: 600; color: #6e5a2e; }
.leaflet-tooltip.gm-landmark { font-style: italic; color: #6b5a3e; }
.gm-streets-far .leaflet-tooltip.gm-street:not(.gm-street-arterial) { display: none; }
</style>"""


class _Orientation(MacroElement):
    """Draws the inline streets and landmarks once the map exists."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        if (window.gmStreets) {
          gmStreets.draw({{ this._parent.get_name() }}, {{ this.data|tojson }});
        }
        {% endmacro %}
        """
    )

    def __init__(self, data: dict) -> None:
        super().__init__()
        self._name = "Orientation"
        self.data = data


def add_orientation(m: folium.Map, conn: Connection) -> bool:
    """Streets and landmarks under the data of `m` when it has no tile basemap; True when
    they were added (False: tiles are configured and show streets themselves)."""
    if getattr(m, "basemap", None) is not None and m.basemap.url:
        return False
    root = m.get_root()
    root.header.add_child(Element(f'<script src="{SCRIPT}"></script>'), name="gm_streets_js")
    root.header.add_child(Element(LABEL_CSS), name="gm_streets_css")
    _Orientation(orientation(conn)).add_to(m)
    return True

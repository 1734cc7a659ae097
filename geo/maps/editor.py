"""What the grid editor page needs from the server: its vendored assets, its labels in the
page's language, the load target, and the basemap (when it can be drawn under WGS 84
borders).

    >>> config = editor_config("en")
    >>> config["assets"]["geoman"]
    '/static/maps/vendor/leaflet-geoman-free-2.20.2/dist/leaflet-geoman.min.js'
"""

from __future__ import annotations

from geo.core.settings import get_settings
from geo.maps.assets import EDITOR_ASSETS
from geo.maps.basemap import basemap
from geo.publish.messages import messages_for

#: the label keys the editor's script uses (rules name validation problems)
MESSAGE_PREFIXES = (
    "editor.",
    "rule.",
    "term.sector",
    "term.grid2",
    "term.managed",  # the courtyard kinds, drawn under the pen
    "term.scattered",
    "term.rental",
    "plans.",
)


def editor_config(lang: str) -> dict:
    """The page's assets (`assets`) and the script's settings (`script`: labels, the
    households-per-worker target and band, the basemap or None, the language)."""
    settings = get_settings()
    tiles = basemap(settings)
    # the editor moves WGS 84 vertices: GCJ-02 tiles would sit beside them, so none then
    layer = None
    if tiles.url and tiles.datum == "wgs84":
        layer = {
            "url": tiles.url,
            "attribution": tiles.attribution,
            "subdomains": "01234567" if "tianditu" in tiles.url else "abc",
        }
    return {
        "assets": EDITOR_ASSETS,
        "script": {
            "lang": lang,
            "messages": messages_for(lang, *MESSAGE_PREFIXES),
            "target": settings.households_per_worker_target,
            "band": settings.rebalance_band,
            "basemap": layer,
            "basemap_skipped": bool(tiles.url) and layer is None,
        },
    }

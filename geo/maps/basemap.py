"""The basemap behind the map pages, from `GRIDMAP_TILES`.

`none` (default): no tiles, a plain background; pages then make no external request at all.
`osm`: OpenStreetMap. `tianditu`: 天地图 vector tiles, needs `GRIDMAP_TIANDITU_KEY`.
Anything else is an XYZ URL template (an intranet tile server, say). Tiles from Gaode
(autonavi/amap) or Tencent (gtimg/qq) are in GCJ-02, and overlays must be shifted to match.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlparse

from geo.core.errors import SetupError
from geo.core.settings import Settings, get_settings

GCJ02_HOSTS = ("autonavi.com", "amap.com", "gtimg.com", "qq.com")


@dataclass(frozen=True)
class Basemap:
    url: str | None  # XYZ template, None for no tiles
    attribution: str
    datum: str  # "wgs84" or "gcj02": what the tiles are drawn in

    @property
    def hosts(self) -> list[str]:
        """Origins the page must be allowed to load images from."""
        if not self.url:
            return []
        parsed = urlparse(self.url.replace("{s}", "a"))
        origin = f"{parsed.scheme}://{parsed.netloc}"
        if "{s}" in self.url:
            origin = f"{parsed.scheme}://*.{parsed.netloc.split('.', 1)[1]}"
        return [origin]


def basemap(settings: Settings | None = None) -> Basemap:
    s = settings or get_settings()
    choice = s.tiles.strip()
    if choice == "none":
        return Basemap(None, "", "wgs84")
    if choice == "osm":
        return Basemap(
            "https://tile.openstreetmap.org/{z}/{x}/{y}.png",
            "© OpenStreetMap contributors",
            "wgs84",
        )
    if choice == "tianditu":
        if not s.tianditu_key:
            raise SetupError("GRIDMAP_TILES=tianditu needs GRIDMAP_TIANDITU_KEY (a 天地图 key)")
        return Basemap(
            "https://t{s}.tianditu.gov.cn/DataServer?T=vec_w&x={x}&y={y}&l={z}&tk="
            + s.tianditu_key,
            "© 天地图 tianditu.gov.cn",
            "wgs84",
        )
    if "{z}" in choice and "{x}" in choice and "{y}" in choice:
        datum = "gcj02" if any(h in choice for h in GCJ02_HOSTS) else "wgs84"
        return Basemap(choice, urlparse(choice).netloc, datum)
    raise SetupError(
        f"GRIDMAP_TILES={choice!r} is not none, osm, tianditu or an XYZ template with "
        "{z}, {x} and {y}"
    )

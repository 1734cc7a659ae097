"""The map pages' JavaScript, CSS and fonts, vendored under `static/maps/vendor/`.

One table says which npm package (pinned) each file comes from, and which vendored file
stands in for each asset name Folium and its plugins ask for, so a page never reaches a
CDN. `scripts/vendor_assets.py` fetches the packages with `npm pack` and writes the files;
`localise(element)` points a Folium element at them:

    >>> m = folium.Map(tiles=None)                       # doctest: +SKIP
    >>> localise(m).default_js[0]                        # doctest: +SKIP
    ('leaflet', '/static/maps/vendor/leaflet-1.9.4/dist/leaflet.js')
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache

from geo.core.settings import PROJECT_ROOT

VENDOR_DIR = PROJECT_ROOT / "static" / "maps" / "vendor"
VENDOR_URL = "/static/maps/vendor"


@dataclass(frozen=True)
class VendoredPackage:
    """An npm package, pinned, and the files of it the pages use (paths inside the package,
    kept as they are so the CSS's relative `url(...)`s keep working)."""

    npm: str
    version: str
    files: tuple[str, ...]
    licence: str
    #: local edits made after unpacking (documented in the manifest)
    note: str = ""

    @property
    def folder(self) -> str:
        return f"{self.npm.rsplit('/', 1)[-1]}-{self.version}"


PACKAGES: tuple[VendoredPackage, ...] = (
    VendoredPackage(
        "leaflet",
        "1.9.4",
        ("dist/leaflet.js", "dist/leaflet.css", "dist/images/*.png"),
        "LICENSE",
    ),
    VendoredPackage(
        "leaflet.heat",
        "0.2.0",
        (),
        "LICENSE",
        note="leaflet-heat.js is this release with Leaflet.heat pull request 78 (weights "
        "summed per cell, normalised by the densest cell in view), as Folium ships it "
        "(folium/templates/leaflet_heat.min.js of the installed folium)",
    ),
    VendoredPackage("jquery", "3.7.1", ("dist/jquery.min.js",), "LICENSE.txt"),
    VendoredPackage(
        "bootstrap",
        "5.2.2",
        ("dist/js/bootstrap.bundle.min.js", "dist/css/bootstrap.min.css"),
        "LICENSE",
    ),
    VendoredPackage(
        "bootstrap",
        "3.4.1",
        ("dist/fonts/glyphicons-halflings-regular.*",),
        "LICENSE",
        note="dist/css/glyphicons.css holds only the Glyphicons rules of dist/css/bootstrap.css "
        "(what Folium's awesome markers need from Bootstrap 3)",
    ),
    VendoredPackage(
        "@fortawesome/fontawesome-free",
        "6.2.0",
        ("css/all.min.css", "webfonts/*"),
        "LICENSE.txt",
    ),
    VendoredPackage(
        "leaflet.awesome-markers",
        "2.0.5",
        ("dist/leaflet.awesome-markers.js", "dist/leaflet.awesome-markers.css", "dist/images/*"),
        "LICENSE",
        note="dist/leaflet.awesome.rotate.min.css is generated: Folium's .fa-rotate-N rules",
    ),
    VendoredPackage(
        "leaflet.markercluster",
        "1.5.3",
        (
            "dist/leaflet.markercluster.js",
            "dist/MarkerCluster.css",
            "dist/MarkerCluster.Default.css",
        ),
        "MIT-LICENCE.txt",
    ),
    VendoredPackage("iso8601-js-period", "0.2.1", ("iso8601.js",), "package.json"),
    VendoredPackage(
        "leaflet-timedimension",
        "1.1.1",
        ("dist/leaflet.timedimension.min.js", "dist/leaflet.timedimension.control.css"),
        "LICENSE",
        note="the control CSS loads the Glyphicons font from the vendored Bootstrap 3.4.1 "
        "instead of a CDN",
    ),
    VendoredPackage(
        "heatmap.js",
        "2.0.5",
        ("build/heatmap.min.js", "plugins/leaflet-heatmap/leaflet-heatmap.js"),
        "LICENSE",
    ),
    VendoredPackage(
        "@geoman-io/leaflet-geoman-free",
        "2.20.2",
        ("dist/leaflet-geoman.min.js", "dist/leaflet-geoman.css"),
        "LICENSE",
        note="the grid editor's vertex editing and line drawing; the bundle includes its "
        "dependencies (Turf, lodash, polyclip-ts, rbush: MIT/ISC); its source map is not "
        "vendored",
    ),
    # the API documentation pages (/docs, /redoc), not map pages
    VendoredPackage(
        "swagger-ui-dist",
        "5.35.0",
        ("swagger-ui-bundle.js", "swagger-ui.css", "favicon-32x32.png"),
        "LICENSE",
        note="/docs: Swagger UI, served locally (its validator badge is switched off)",
    ),
    VendoredPackage(
        "redoc",
        "2.5.4",
        ("bundles/redoc.standalone.js",),
        "LICENSE",
        note="/redoc: ReDoc's standalone bundle, without Google Fonts; the footer's Redocly "
        "logo (loaded from cdn.redoc.ly) is replaced by an empty inline SVG",
    ),
    VendoredPackage(
        "echarts",
        "5.6.0",
        ("dist/echarts.min.js",),
        "LICENSE",
        note="the evaluation page's charts (Apache-2.0; its NOTICE is vendored beside it)",
    ),
)


def _at(npm: str, version: str, path: str) -> str:
    package = next(p for p in PACKAGES if p.npm == npm and p.version == version)
    return f"{VENDOR_URL}/{package.folder}/{path}"


#: every asset name Folium's Map and the plugins the pages use ask for → the vendored URL
FOLIUM_ASSETS: dict[str, str] = {
    # folium.Map
    "leaflet": _at("leaflet", "1.9.4", "dist/leaflet.js"),
    "jquery": _at("jquery", "3.7.1", "dist/jquery.min.js"),
    "bootstrap": _at("bootstrap", "5.2.2", "dist/js/bootstrap.bundle.min.js"),
    "awesome_markers": _at("leaflet.awesome-markers", "2.0.5", "dist/leaflet.awesome-markers.js"),
    "leaflet_css": _at("leaflet", "1.9.4", "dist/leaflet.css"),
    "bootstrap_css": _at("bootstrap", "5.2.2", "dist/css/bootstrap.min.css"),
    "glyphicons_css": _at("bootstrap", "3.4.1", "dist/css/glyphicons.css"),
    "awesome_markers_font_css": _at("@fortawesome/fontawesome-free", "6.2.0", "css/all.min.css"),
    "awesome_markers_css": _at(
        "leaflet.awesome-markers", "2.0.5", "dist/leaflet.awesome-markers.css"
    ),
    "awesome_rotate_css": _at(
        "leaflet.awesome-markers", "2.0.5", "dist/leaflet.awesome.rotate.min.css"
    ),
    # folium.plugins.HeatMap
    "leaflet-heat.js": _at("leaflet.heat", "0.2.0", "leaflet-heat.js"),
    # folium.plugins.HeatMapWithTime
    "iso8601": _at("iso8601-js-period", "0.2.1", "iso8601.js"),
    "leaflet.timedimension.min.js": _at(
        "leaflet-timedimension", "1.1.1", "dist/leaflet.timedimension.min.js"
    ),
    "heatmap.min.js": _at("heatmap.js", "2.0.5", "build/heatmap.min.js"),
    "leaflet-heatmap.js": _at("heatmap.js", "2.0.5", "plugins/leaflet-heatmap/leaflet-heatmap.js"),
    "leaflet.timedimension.control.min.css": _at(
        "leaflet-timedimension", "1.1.1", "dist/leaflet.timedimension.control.css"
    ),
    # folium.plugins.MarkerCluster (and FastMarkerCluster)
    "markerclusterjs": _at("leaflet.markercluster", "1.5.3", "dist/leaflet.markercluster.js"),
    "markerclustercss": _at("leaflet.markercluster", "1.5.3", "dist/MarkerCluster.css"),
    "markerclusterdefaultcss": _at(
        "leaflet.markercluster", "1.5.3", "dist/MarkerCluster.Default.css"
    ),
}


#: what the grid editor page (`/maps/planner`, not a Folium page) loads
EDITOR_ASSETS: dict[str, str] = {
    "leaflet_css": FOLIUM_ASSETS["leaflet_css"],
    "leaflet": FOLIUM_ASSETS["leaflet"],
    "geoman_css": _at("@geoman-io/leaflet-geoman-free", "2.20.2", "dist/leaflet-geoman.css"),
    "geoman": _at("@geoman-io/leaflet-geoman-free", "2.20.2", "dist/leaflet-geoman.min.js"),
}


#: what the API documentation pages (`/docs`, `/redoc`) load
DOCS_ASSETS: dict[str, str] = {
    "swagger_js": _at("swagger-ui-dist", "5.35.0", "swagger-ui-bundle.js"),
    "swagger_css": _at("swagger-ui-dist", "5.35.0", "swagger-ui.css"),
    "swagger_favicon": _at("swagger-ui-dist", "5.35.0", "favicon-32x32.png"),
    "redoc_js": _at("redoc", "2.5.4", "bundles/redoc.standalone.js"),
}


#: what the evaluation page (`/evaluation`) loads
CHART_ASSETS: dict[str, str] = {"echarts": _at("echarts", "5.6.0", "dist/echarts.min.js")}


class UnvendoredAsset(LookupError):
    """A Folium element asks for an asset that is not vendored (it would load from a CDN)."""


def local_url(name: str, url: str) -> str:
    """The vendored URL standing in for Folium's asset `name` (whose CDN address is `url`)."""
    try:
        return FOLIUM_ASSETS[name]
    except KeyError:
        raise UnvendoredAsset(
            f"the map asset {name!r} ({url}) is not vendored: add its npm package to "
            "geo/maps/assets.py and run scripts/vendor_assets.py"
        ) from None


def localise(element):
    """Point a Folium element (a Map or a plugin) at the vendored copies of its assets, on the
    instance only: Folium's own defaults stay as they are. Returns the element."""
    element.default_js = [(n, local_url(n, u)) for n, u in type(element).default_js]
    element.default_css = [(n, local_url(n, u)) for n, u in type(element).default_css]
    return element


@lru_cache
def manifest() -> dict:
    """The vendored packages as recorded by the last `scripts/vendor_assets.py` run."""
    return json.loads((VENDOR_DIR / "manifest.json").read_text(encoding="utf-8"))

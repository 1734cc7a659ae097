"""Coordinate systems grid offices paste from: WGS 84, CGCS2000, GCJ-02 and BD-09, to WGS 84.

- **WGS 84** (GPS, EPSG:4326): stored as it is.
- **CGCS2000** (China's geodetic datum, EPSG:4490): lon/lat agree with WGS 84 to a few
  centimetres, so they are stored as they are. Projected CGCS2000 x/y in metres are
  recognised by their range: 3-degree Gauss-Kruger CM 99E (EPSG:4542, easting about
  500 000), the same with its zone prefix (zone 33, EPSG:4521, easting 33 500 000) or
  6-degree zone 17 (EPSG:4495, easting 17 500 000); surveyors' order (X north first) is
  recognised too. They are projected back with pyproj.
- **GCJ-02** (高德 Gaode/AMap, 腾讯 Tencent, Google China): an obfuscated offset of a few
  hundred metres, computed by the maintained `coordtransform` package (vectorised C). Its
  GCJ-02 → WGS 84 is a one-step approximation (off by up to a couple of metres), so the
  inverse here refines it by fixed-point iteration on the package's exact forward
  function until forward(result) reproduces the input to 1e-9 degrees (about 0.1 mm).
- **BD-09** (百度 Baidu): a further offset on GCJ-02, inverted the same way.

    >>> lon, lat = wgs84_to_gcj02(np.array([116.404]), np.array([39.915]))
    >>> round(float(lon[0]), 6), round(float(lat[0]), 6)
    (116.410244, 39.916404)
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import coordTransform as _ct
import numpy as np
from pyproj import Transformer

from geo.core.errors import InvalidInput


class CoordSystem(StrEnum):
    WGS84 = "wgs84"
    CGCS2000 = "cgcs2000"
    GCJ02 = "gcj02"
    BD09 = "bd09"


LABELS = {
    CoordSystem.WGS84: ("WGS 84 (GPS)", "WGS 84 lon/lat, as GPS devices and OpenStreetMap give"),
    CoordSystem.CGCS2000: (
        "CGCS2000 国家2000坐标系",
        "CGCS2000 lon/lat (EPSG:4490) or Gauss-Kruger x/y in metres (EPSG:4542/4521/4495)",
    ),
    CoordSystem.GCJ02: (
        "GCJ-02 火星坐标 (高德/腾讯)",
        "GCJ-02, as Gaode/AMap and Tencent maps give",
    ),
    CoordSystem.BD09: ("BD-09 百度坐标", "BD-09, as Baidu maps give"),
}
#: other spellings users type for each system
ALIASES = {
    "wgs84": CoordSystem.WGS84,
    "wgs-84": CoordSystem.WGS84,
    "wgs 84": CoordSystem.WGS84,
    "epsg:4326": CoordSystem.WGS84,
    "4326": CoordSystem.WGS84,
    "gps": CoordSystem.WGS84,
    "cgcs2000": CoordSystem.CGCS2000,
    "cgcs-2000": CoordSystem.CGCS2000,
    "epsg:4490": CoordSystem.CGCS2000,
    "4490": CoordSystem.CGCS2000,
    "epsg:4542": CoordSystem.CGCS2000,
    "4542": CoordSystem.CGCS2000,
    "国家2000": CoordSystem.CGCS2000,
    "gcj02": CoordSystem.GCJ02,
    "gcj-02": CoordSystem.GCJ02,
    "gaode": CoordSystem.GCJ02,
    "amap": CoordSystem.GCJ02,
    "高德": CoordSystem.GCJ02,
    "火星": CoordSystem.GCJ02,
    "tencent": CoordSystem.GCJ02,
    "腾讯": CoordSystem.GCJ02,
    "bd09": CoordSystem.BD09,
    "bd-09": CoordSystem.BD09,
    "bd09ll": CoordSystem.BD09,
    "baidu": CoordSystem.BD09,
    "百度": CoordSystem.BD09,
}

#: fixed-point refinement of the inverses: stop when forward(result) is this close (degrees)
TOLERANCE_DEG = 1e-9
MAX_ITERATIONS = 10

#: projected CGCS2000 systems recognised by their easting range (metres) at 99°E
_PROJECTED = (
    (4542, 0.0, 1_000_000.0, "CGCS2000 / 3-degree Gauss-Kruger CM 99E (EPSG:4542)"),
    (4521, 33_000_000.0, 34_000_000.0, "CGCS2000 / 3-degree Gauss-Kruger zone 33 (EPSG:4521)"),
    (4495, 17_000_000.0, 18_000_000.0, "CGCS2000 / Gauss-Kruger zone 17 (EPSG:4495)"),
)
_NORTHING = (1_000_000.0, 10_000_000.0)


def parse_crs(name: str | CoordSystem | None) -> CoordSystem:
    """The coordinate system a user named (`wgs84`, `GCJ-02`, `baidu`, `EPSG:4490`...);
    None means WGS 84. Raises InvalidInput listing the choices."""
    if name is None or name == "":
        return CoordSystem.WGS84
    found = ALIASES.get(str(name).strip().lower())
    if found is None:
        choices = ", ".join(c.value for c in CoordSystem)
        raise InvalidInput(
            f"unsupported coordinate system {name!r}; use one of: {choices} "
            "(GCJ-02 for Gaode/Tencent maps, BD-09 for Baidu)",
            field="crs",
        )
    return found


def _arrays(lon, lat) -> tuple[np.ndarray, np.ndarray]:
    lon = np.ascontiguousarray(lon, dtype=np.float64).ravel()
    lat = np.ascontiguousarray(lat, dtype=np.float64).ravel()
    if lon.shape != lat.shape:
        raise ValueError("lon and lat differ in length")
    return lon, lat


def _apply(fn, lon, lat) -> tuple[np.ndarray, np.ndarray]:
    """Run a `coordtransform` batch function on the finite pairs; NaN stays NaN."""
    lon, lat = _arrays(lon, lat)
    out_lon, out_lat = lon.copy(), lat.copy()
    ok = np.isfinite(lon) & np.isfinite(lat)
    if ok.any():
        x, y = fn(np.ascontiguousarray(lon[ok]), np.ascontiguousarray(lat[ok]))
        out_lon[ok], out_lat[ok] = np.asarray(x), np.asarray(y)
    return out_lon, out_lat


def _invert(forward, first_guess, lon, lat) -> tuple[np.ndarray, np.ndarray]:
    """Solve forward(x) = (lon, lat) for x by fixed-point iteration from `first_guess`
    (the offsets vary slowly, so each step gains several digits)."""
    lon, lat = _arrays(lon, lat)
    x, y = first_guess(lon, lat)
    for _ in range(MAX_ITERATIONS):
        fx, fy = forward(x, y)
        dx, dy = fx - lon, fy - lat
        x, y = x - dx, y - dy
        if not (np.nanmax(np.abs(dx), initial=0) > TOLERANCE_DEG):
            if not (np.nanmax(np.abs(dy), initial=0) > TOLERANCE_DEG):
                break
    return x, y


def wgs84_to_gcj02(lon, lat) -> tuple[np.ndarray, np.ndarray]:
    """GCJ-02 (Gaode/Tencent) lon/lat arrays of WGS 84 points, e.g. to lay overlays on
    Gaode tiles; points outside China are returned unchanged."""
    return _apply(_ct.wgs84_to_gcj02, lon, lat)


def gcj02_to_wgs84(lon, lat) -> tuple[np.ndarray, np.ndarray]:
    """WGS 84 lon/lat arrays of GCJ-02 points (refined to about 0.1 mm)."""
    return _invert(wgs84_to_gcj02, lambda x, y: _apply(_ct.gcj02_to_wgs84, x, y), lon, lat)


def gcj02_to_bd09(lon, lat) -> tuple[np.ndarray, np.ndarray]:
    return _apply(_ct.gcj02_to_bd09, lon, lat)


def bd09_to_gcj02(lon, lat) -> tuple[np.ndarray, np.ndarray]:
    return _invert(gcj02_to_bd09, lambda x, y: _apply(_ct.bd09_to_gcj02, x, y), lon, lat)


def wgs84_to_bd09(lon, lat) -> tuple[np.ndarray, np.ndarray]:
    """BD-09 (Baidu) lon/lat arrays of WGS 84 points."""
    return gcj02_to_bd09(*wgs84_to_gcj02(lon, lat))


def bd09_to_wgs84(lon, lat) -> tuple[np.ndarray, np.ndarray]:
    """WGS 84 lon/lat arrays of BD-09 points."""
    return gcj02_to_wgs84(*bd09_to_gcj02(lon, lat))


@dataclass
class Converted:
    """WGS 84 lon/lat (NaN where the input was missing) and how the input was read."""

    lon: np.ndarray
    lat: np.ndarray
    read_as: str


def _in(values: np.ndarray, low: float, high: float) -> np.ndarray:
    return (values >= low) & (values < high)


def detect_projected(x: np.ndarray, y: np.ndarray) -> tuple[int, bool] | None:
    """(EPSG code, whether x is the northing) when most finite pairs look like projected
    CGCS2000 metres at 99°E, else None (lon/lat)."""
    ok = np.isfinite(x) & np.isfinite(y)
    if not ok.any() or np.median(np.abs(np.r_[x[ok], y[ok]])) < 1000:
        return None
    x, y = x[ok], y[ok]
    best = None
    for epsg, low, high, _ in _PROJECTED:
        for northing_first, east, north in ((False, x, y), (True, y, x)):
            share = np.mean(_in(east, low, high) & _in(north, *_NORTHING))
            if share > 0.5 and (best is None or share > best[0]):
                best = (share, epsg, northing_first)
    return None if best is None else (best[1], best[2])


def to_wgs84(x, y, crs: CoordSystem | str | None = None) -> Converted:
    """WGS 84 lon/lat of coordinates given in `crs` (default WGS 84); NaN stays NaN.
    Values are converted, not checked: see `lonlat_problems` for ranges."""
    crs = parse_crs(crs)
    x, y = _arrays(x, y)
    if crs == CoordSystem.GCJ02:
        return Converted(*gcj02_to_wgs84(x, y), LABELS[crs][0])
    if crs == CoordSystem.BD09:
        return Converted(*bd09_to_wgs84(x, y), LABELS[crs][0])
    if crs == CoordSystem.CGCS2000:
        projected = detect_projected(x, y)
        if projected is not None:
            epsg, northing_first = projected
            east, north = (y, x) if northing_first else (x, y)
            lon, lat = Transformer.from_crs(epsg, 4326, always_xy=True).transform(east, north)
            lon, lat = np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)
            gone = ~(np.isfinite(lon) & np.isfinite(lat))
            lon[gone], lat[gone] = np.nan, np.nan
            name = next(p[3] for p in _PROJECTED if p[0] == epsg)
            order = ", X = northing first (surveyors' order)" if northing_first else ""
            return Converted(lon, lat, f"{name}{order}")
        return Converted(x.copy(), y.copy(), "CGCS2000 lon/lat (EPSG:4490)")
    return Converted(x.copy(), y.copy(), LABELS[crs][0])


def lonlat_problems(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """Per pair, why it is not a longitude/latitude (a sentence), or None. Missing values
    (NaN) are not judged here."""
    lon, lat = _arrays(lon, lat)
    reasons = np.full(lon.shape, None, dtype=object)
    ok = np.isfinite(lon) & np.isfinite(lat)
    lon_bad = ok & (np.abs(lon) > 180)
    lat_bad = ok & (np.abs(lat) > 90)
    swapped = lat_bad & (np.abs(lon) <= 90) & (np.abs(lat) <= 180)
    huge = ok & ((np.abs(lon) > 1000) | (np.abs(lat) > 1000))
    reasons[lon_bad] = "longitude out of range (-180..180)"
    reasons[lat_bad] = "latitude out of range (-90..90)"
    reasons[swapped] = "latitude out of range (-90..90): did you swap lon/lat?"
    reasons[huge] = (
        "not degrees: projected x/y in metres? use --crs cgcs2000 for CGCS2000 Gauss-Kruger"
    )
    return reasons

"""Overlays on a GCJ-02 basemap: shift WGS 84 coordinates so they line up with the tiles.

Chinese web maps (Gaode/amap, Tencent) draw their tiles in GCJ-02, which is WGS 84 moved
by a few hundred metres; boundaries and incidents stored in WGS 84 would sit off the
streets. On such a basemap every overlay goes through `shift_lonlat` (arrays) or
`shift_geometries` (shapely), and the page says so.

    >>> lon, lat = shift_lonlat([98.5], [39.74], "gcj02")
    >>> round(float(lon[0] - 98.5), 4), round(float(lat[0] - 39.74), 4)
    (0.0006, 0.0008)
"""

from __future__ import annotations

import numpy as np
import shapely

from geo.core.coords import wgs84_to_gcj02


def shift_lonlat(lon, lat, datum: str) -> tuple[np.ndarray, np.ndarray]:
    """WGS 84 longitudes and latitudes as they must be drawn on a basemap in `datum`
    ("wgs84": unchanged; "gcj02": shifted)."""
    lon = np.ascontiguousarray(lon, dtype=float)
    lat = np.ascontiguousarray(lat, dtype=float)
    if datum == "wgs84":
        return lon, lat
    if datum == "gcj02":
        if len(lon) == 0:
            return lon, lat
        return wgs84_to_gcj02(lon, lat)
    raise ValueError(f"unknown basemap datum {datum!r}")


def shift_geometries(geometries, datum: str):
    """Shapely geometries (WGS 84) as they must be drawn on a basemap in `datum`."""
    if datum == "wgs84":
        return geometries

    def move(coords: np.ndarray) -> np.ndarray:
        lon, lat = shift_lonlat(coords[:, 0], coords[:, 1], datum)
        return np.column_stack([lon, lat])

    return shapely.transform(geometries, move)

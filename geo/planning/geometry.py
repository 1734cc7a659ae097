"""Geometry plumbing for planning: WGS 84 ↔ CGCS2000 metres, areas, GeoJSON in and out.

Geometry is stored and edited in WGS 84 (SRID 4326), so the vertices of borders nobody
touched stay bit-identical; areas and tolerances are measured in EPSG:4542.

    >>> area_m2(np.array([sector]))        # doctest: +SKIP
    array([1325660.3])
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import shapely
from pyproj import Transformer
from shapely.geometry import mapping, shape

from geo.core.errors import InvalidInput
from geo.core.models import METRIC_SRID, SRID

#: GeoJSON coordinates are written with 7 decimals (about 1 cm), as the committed files are
DECIMALS = 7
#: about 5 cm in degrees: the margin around changed borders that re-attach also examines
BORDER_MARGIN_DEG = 5e-7


@lru_cache
def _transformer(source: int, target: int) -> Transformer:
    return Transformer.from_crs(source, target, always_xy=True)


def to_metric(geoms):
    """WGS 84 geometries (one or an array) in EPSG:4542 metres."""
    tr = _transformer(SRID, METRIC_SRID)
    return shapely.transform(geoms, lambda xy: np.column_stack(tr.transform(xy[:, 0], xy[:, 1])))


def to_wgs84(geoms):
    """EPSG:4542 geometries (one or an array) back in WGS 84."""
    tr = _transformer(METRIC_SRID, SRID)
    return shapely.transform(geoms, lambda xy: np.column_stack(tr.transform(xy[:, 0], xy[:, 1])))


def area_m2(geoms) -> np.ndarray:
    """Area in square metres of each WGS 84 geometry."""
    return shapely.area(to_metric(np.asarray(geoms, dtype=object)))


def as_multi(geom) -> shapely.MultiPolygon:
    """A polygonal geometry as a MultiPolygon (how units are stored)."""
    if geom is None or geom.is_empty:
        return shapely.MultiPolygon()
    if geom.geom_type == "MultiPolygon":
        return geom
    if geom.geom_type == "Polygon":
        return shapely.MultiPolygon([geom])
    parts = [g for g in shapely.get_parts(geom) if g.geom_type in ("Polygon", "MultiPolygon")]
    return as_multi(shapely.union_all(parts)) if parts else shapely.MultiPolygon()


def same_shape(a, b) -> bool:
    """True when two geometries have the same vertices (up to order and 0.1 mm)."""
    if a is None or b is None:
        return a is None and b is None
    return bool(shapely.equals_exact(shapely.normalize(a), shapely.normalize(b), tolerance=1e-9))


def to_geojson(geom) -> dict | None:
    """RFC 7946 geometry (coordinates rounded to 7 decimals) of a WGS 84 geometry."""
    if geom is None:
        return None
    return mapping(shapely.transform(geom, lambda xy: np.round(xy, DECIMALS)))


def from_geojson(obj, what: str = "geometry"):
    """A shapely geometry from a GeoJSON geometry or Feature (dict); InvalidInput if it is not."""
    if isinstance(obj, dict) and obj.get("type") == "Feature":
        obj = obj.get("geometry")
    if not isinstance(obj, dict) or "type" not in obj:
        raise InvalidInput(f"{what}: expected a GeoJSON geometry object with a type")
    try:
        return shape(obj)
    except Exception as exc:  # shapely raises several kinds for malformed coordinates
        raise InvalidInput(f"{what}: not a readable GeoJSON geometry ({exc})") from None


def hex_ewkb(geom, srid: int = SRID) -> str:
    """Hex EWKB with SRID, as PostGIS reads it."""
    return shapely.to_wkb(shapely.set_srid(geom, srid), hex=True, include_srid=True)


def feature(geom, props: dict, fid: str | None = None) -> dict:
    """A GeoJSON Feature."""
    out = {"type": "Feature", "properties": props, "geometry": to_geojson(geom)}
    if fid is not None:
        out["id"] = fid
    return out


def collection(features: list[dict], **members) -> dict:
    return {"type": "FeatureCollection", "features": features, **members}

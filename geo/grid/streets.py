"""The orientation layers: the district's streets and landmarks in PostGIS, loaded from
`data/boundaries/` by the seed, replaceable from a file (an OpenStreetMap extract as
GeoPackage with `name`/`highway` columns, say), and read back for the map pages.

    >>> load_orientation_files(conn)                         # doctest: +SKIP
    {'streets': 13, 'landmarks': 11}
    >>> import_orientation(conn, "streets", Path("jiuquan-osm.gpkg"))   # doctest: +SKIP
    {'kind': 'streets', 'loaded': 412, 'outside': 1093, 'unnamed': 0, 'merged_from': 2210}
"""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import pandas as pd
import shapely
from sqlalchemy import text
from sqlalchemy.engine import Connection

from geo.core.bulk import copy_frame, ewkb_hex
from geo.core.errors import InvalidInput
from geo.grid.boundaries import read_layer

KINDS = ("streets", "landmarks")
#: OpenStreetMap `highway` values drawn as arterial roads (wider, labelled first)
ARTERIAL_HIGHWAYS = {"motorway", "trunk", "primary", "secondary"}
#: a file's columns that may hold each field, first found wins (OSM extracts use `name`,
#: `name:zh`, `name:en`; the committed files `name_zh`, `name_en`)
FIELD_COLUMNS = {
    "name_zh": ("name_zh", "name:zh", "name"),
    "name_en": ("name_en", "name:en", "int_name"),
    "highway": ("highway",),
    "kind": ("kind", "amenity", "shop", "tourism", "leisure", "building"),
}
#: how far beyond the district's extent features are kept (degrees, about 500 m)
MARGIN_DEG = 0.005


def _column(frame: pd.DataFrame, field: str) -> pd.Series:
    """The first of the file's columns that may hold `field`, as text (None when absent)."""
    for name in FIELD_COLUMNS[field]:
        if name in frame.columns:
            values = frame[name].astype(object)
            return values.where(values.notna() & (values.astype(str).str.strip() != ""), None)
    return pd.Series([None] * len(frame), index=frame.index, dtype=object)


def _clip_to_district(conn: Connection, frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """The features that reach the district's extent (all of them when none is loaded)."""
    box = conn.execute(
        text(
            "SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM (SELECT ST_Extent(geom) "
            "AS e FROM units WHERE valid_to IS NULL AND level = 'district') s"
        )
    ).one()
    if box[0] is None:
        return frame
    w, s, e, n = box
    extent = shapely.box(w - MARGIN_DEG, s - MARGIN_DEG, e + MARGIN_DEG, n + MARGIN_DEG)
    return frame[shapely.intersects(frame.geometry.values, extent)]


def streets_frame(source: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """A file's line features as street rows (name_zh, name_en, highway, arterial, geometry
    in WGS 84), the pieces of one named street merged into one MultiLineString."""
    lines = source[source.geometry.geom_type.isin(["LineString", "MultiLineString"])]
    if lines.empty:
        raise InvalidInput(
            "no line features (LineString/MultiLineString) in the file: a street layer is lines"
        )
    highway = _column(lines, "highway")
    if "arterial" in lines.columns:
        arterial = lines["arterial"].fillna(False).astype(bool)
    else:
        arterial = highway.isin(ARTERIAL_HIGHWAYS | {f"{h}_link" for h in ARTERIAL_HIGHWAYS})
    frame = gpd.GeoDataFrame(
        {
            "name_zh": _column(lines, "name_zh"),
            "name_en": _column(lines, "name_en"),
            "highway": highway,
            "arterial": arterial.astype(bool),
        },
        geometry=lines.geometry.values,
        crs=lines.crs,
    )
    keys = ["name_zh", "name_en", "highway", "arterial"]
    named = frame[frame["name_zh"].notna()]
    merged = named.dissolve(by=keys, dropna=False, as_index=False) if len(named) else named
    streets = pd.concat([merged, frame[frame["name_zh"].isna()]], ignore_index=True)
    streets = gpd.GeoDataFrame(streets, geometry="geometry", crs=lines.crs)
    streets.attrs["merged_from"] = len(frame)
    return streets


def landmarks_frame(source: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """A file's named features as landmark rows (name_zh, name_en, kind, a point in WGS 84):
    points as they are, areas by a point on their surface; unnamed ones are dropped."""
    frame = gpd.GeoDataFrame(
        {
            "name_zh": _column(source, "name_zh"),
            "name_en": _column(source, "name_en"),
            "kind": _column(source, "kind"),
        },
        geometry=shapely.point_on_surface(source.geometry.values),
        crs=source.crs,
    )
    named = frame[frame["name_zh"].notna() & ~frame.geometry.is_empty].copy()
    named.attrs["unnamed"] = int(frame["name_zh"].isna().sum())
    return named


def replace_layer(conn: Connection, kind: str, frame: gpd.GeoDataFrame) -> int:
    """Empty the `kind` table and COPY `frame` (WGS 84) into it; returns the rows written."""
    if kind not in KINDS:
        raise InvalidInput(f"not an orientation layer: {kind!r} (streets or landmarks)")
    rows = frame.to_crs(4326) if frame.crs is not None else frame.set_crs(4326)
    geoms = rows.geometry.values
    if kind == "streets":
        geoms = shapely.multilinestrings(shapely.get_parts(geoms), indices=_part_index(geoms))
        columns = ["name_zh", "name_en", "highway", "arterial"]
    else:
        columns = ["name_zh", "name_en", "kind"]
    out = pd.DataFrame({c: rows[c].values for c in columns})
    out["geom"] = ewkb_hex(shapely.set_precision(geoms, 1e-7))
    conn.execute(text(f"DELETE FROM {kind}"))
    return copy_frame(conn, kind, out)


def _part_index(geoms) -> list[int]:
    """For `shapely.multilinestrings`: which row each part of `geoms` belongs to."""
    counts = shapely.get_num_geometries(geoms)
    return [i for i, n in enumerate(counts) for _ in range(int(n))]


def load_orientation_files(conn: Connection) -> dict[str, int]:
    """The committed `streets.geojson` and `landmarks.geojson` into their tables."""
    return {
        "streets": replace_layer(conn, "streets", streets_frame(read_layer("streets"))),
        "landmarks": replace_layer(conn, "landmarks", landmarks_frame(read_layer("landmarks"))),
    }


def import_orientation(conn: Connection, kind: str, path: Path, layer: str | None = None) -> dict:
    """Replace the `kind` layer (streets or landmarks) from a GeoPackage, GeoJSON or
    Shapefile (`layer`: which layer of a GeoPackage) in the caller's transaction, keeping
    the features that reach the district. Returns what was loaded and what was left out."""
    if kind not in KINDS:
        raise InvalidInput(f"not an orientation layer: {kind!r} (streets or landmarks)")
    try:
        source = gpd.read_file(path, layer=layer) if layer else gpd.read_file(path)
    except Exception as exc:  # pyogrio names the format problem; the user needs the file
        raise InvalidInput(f"cannot read {path.name} as a map layer: {exc}") from None
    if source.crs is None:
        source = source.set_crs(4326)  # a file without a CRS: WGS 84, as GeoJSON says
    source = source[source.geometry.notna() & ~source.geometry.is_empty].to_crs(4326)
    frame = streets_frame(source) if kind == "streets" else landmarks_frame(source)
    kept = _clip_to_district(conn, frame)
    if kept.empty:
        raise InvalidInput(
            f"none of the {len(frame)} {kind} in {path.name} reaches the district; nothing "
            "changed (is the file in another place or another CRS?)"
        )
    loaded = replace_layer(conn, kind, kept)
    return {
        "kind": kind,
        "loaded": loaded,
        "outside": len(frame) - len(kept),
        "unnamed": int(frame.attrs.get("unnamed", 0)),
        "merged_from": int(frame.attrs.get("merged_from", len(frame))),
    }


ORIENTATION_SQL = {
    "streets": "SELECT name_zh, name_en, highway, arterial, ST_AsGeoJSON(geom, 6) AS g "
    "FROM streets ORDER BY arterial DESC, name_zh NULLS LAST, id",
    "landmarks": "SELECT name_zh, name_en, kind, ST_AsGeoJSON(geom, 6) AS g "
    "FROM landmarks ORDER BY name_zh, id",
}


def orientation(conn: Connection) -> dict[str, dict]:
    """The streets and landmarks as two GeoJSON FeatureCollections (WGS 84):
    `{"streets": {...}, "landmarks": {...}}`, arterial streets first."""
    out = {}
    for kind, sql in ORIENTATION_SQL.items():
        features = []
        for row in conn.execute(text(sql)).mappings():
            props = {k: v for k, v in row.items() if k != "g"}
            features.append(
                {"type": "Feature", "properties": props, "geometry": json.loads(row["g"])}
            )
        out[kind] = {"type": "FeatureCollection", "features": features}
    return out

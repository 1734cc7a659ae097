"""Boundaries: the spatial units and courtyards in PostGIS, loaded from `data/boundaries/`.

>>> with engine.begin() as conn:            # doctest: +SKIP
...     load_boundary_files(conn)
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import geopandas as gpd
import pandas as pd
import shapely
from sqlalchemy.engine import Connection

from geo.attach import attach_courtyards
from geo.bulk import copy_frame, ewkb_hex
from geo.district import BOUNDARY_DIR, LAYER_FILES

#: the unit layers, coarse to fine (level-1 grids are the communities)
UNIT_LAYERS = ("district", "communities", "grids", "sectors")


def read_layer(layer: str, directory: Path = BOUNDARY_DIR) -> gpd.GeoDataFrame:
    """One committed layer as a GeoDataFrame in WGS 84: `read_layer("sectors")`."""
    return gpd.read_file(directory / LAYER_FILES[layer])


def _multi(geoms) -> list:
    return [g if g.geom_type == "MultiPolygon" else shapely.MultiPolygon([g]) for g in geoms]


def load_boundary_files(
    conn: Connection, directory: Path = BOUNDARY_DIR, valid_from: datetime | None = None
) -> dict[str, int]:
    """Insert every unit and courtyard from `directory` as version 1, in force from
    `valid_from` (default: now); attach the courtyards. Returns the number of rows per layer."""
    counts = {}
    units = pd.concat([read_layer(layer, directory) for layer in UNIT_LAYERS], ignore_index=True)
    frame = units[["code", "level", "parent_code", "seq", "name_zh", "name_en"]].copy()
    frame["geom"] = ewkb_hex(_multi(units.geometry.values))
    frame["reason"] = "initial load from data/boundaries"
    frame["changed_by"] = "seed"
    if valid_from is not None:
        frame["valid_from"] = valid_from.isoformat()
    counts["units"] = copy_frame(conn, "units", frame)
    yards = read_layer("courtyards", directory)
    frame = yards[["code", "name_zh", "name_en", "kind"]].copy()
    frame["geom"] = ewkb_hex(_multi(yards.geometry.values))
    frame["reason"] = "initial load from data/boundaries"
    frame["changed_by"] = "seed"
    if valid_from is not None:
        frame["valid_from"] = valid_from.isoformat()
    counts["courtyards"] = copy_frame(conn, "courtyards", frame)
    attach_courtyards(conn)
    return counts

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
from sqlalchemy import text
from sqlalchemy.engine import Connection

from geo.core.bulk import copy_frame, ewkb_hex
from geo.grid.attach import attach_courtyards
from geo.grid.district import BOUNDARY_DIR, LAYER_FILES

#: the unit layers, coarse to fine (level-1 grids are the communities)
UNIT_LAYERS = ("district", "communities", "grids", "sectors")


def read_layer(layer: str, directory: Path = BOUNDARY_DIR) -> gpd.GeoDataFrame:
    """One committed layer as a GeoDataFrame in WGS 84: `read_layer("sectors")`."""
    return gpd.read_file(directory / LAYER_FILES[layer])


def _multi(geoms) -> list:
    return [g if g.geom_type == "MultiPolygon" else shapely.MultiPolygon([g]) for g in geoms]


INITIAL_REASON = "initial load from data/boundaries"


def load_boundary_files(
    conn: Connection, directory: Path = BOUNDARY_DIR, valid_from: datetime | None = None
) -> dict[str, int]:
    """Insert every unit and courtyard from `directory` as version 1, in force from
    `valid_from` (default: now), under one boundary change (the start of every unit's
    history); attach the courtyards. Returns the number of rows per layer."""
    change_id = conn.execute(
        text(
            "INSERT INTO boundary_changes (at, actor, kind, reason) "
            "VALUES (coalesce(CAST(:at AS timestamptz), now()), 'seed', 'initial_load', :reason) "
            "RETURNING id"
        ),
        {"at": valid_from, "reason": INITIAL_REASON},
    ).scalar_one()
    counts = {}
    units = pd.concat([read_layer(layer, directory) for layer in UNIT_LAYERS], ignore_index=True)
    yards = read_layer("courtyards", directory)
    for table, layer, columns in (
        ("units", units, ["code", "level", "parent_code", "seq", "name_zh", "name_en"]),
        ("courtyards", yards, ["code", "name_zh", "name_en", "kind"]),
    ):
        frame = layer[columns].copy()
        frame["geom"] = ewkb_hex(_multi(layer.geometry.values))
        frame["reason"] = INITIAL_REASON
        frame["changed_by"] = "seed"
        frame["change_id"] = change_id
        if valid_from is not None:
            frame["valid_from"] = valid_from.isoformat()
        counts[table] = copy_frame(conn, table, frame)
    attach_courtyards(conn)
    return counts

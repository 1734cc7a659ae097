"""The boundary layer as planning sees it: the current state, a proposed plan, ETags, the lock.

State is what is in force (read after taking the lock); a Plan is a copy the edits modify.
Rows of a plan are named by a key: an existing unit's code, or `new:…` for a unit that
will get the next free code when the plan is written.

ETags: a unit's is `"<code>:v<version>"` of its latest version; the layer's is a hash of
every current unit's and courtyard's code and version. Edits send them back in `If-Match`.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime

import geopandas as gpd
import pandas as pd
import shapely
from sqlalchemy import text
from sqlalchemy.engine import Connection

from geo.core.tenancy import GUC
from geo.grid.attach import BOUNDARY_LOCK
from geo.planning.tiling import Problem

#: the pseudo-code of the whole layer in ETag checks (imports, layer rollback, rebalance)
LAYER = "layer"

UNIT_COLUMNS = (
    "code, level, parent_code, seq, name_zh, name_en, version, valid_from, ST_AsBinary(geom) AS wkb"
)
#: a unit's or courtyard's code is in the sub-district bound as :sd (NULL: every one)
IN_SUBDISTRICT = "(CAST(:sd AS text) IS NULL OR left(code, 9) = :sd)"
YARD_COLUMNS = (
    "code, kind, name_zh, name_en, property_company_id, sector_code, version, valid_from, "
    "ST_AsBinary(geom) AS wkb"
)


def lock_boundaries(conn: Connection) -> datetime:
    """Take the boundary lock (exclusive, until the transaction ends) and return the clock
    after it: changes are stamped with it, so versions follow each other in time even when
    transactions started in another order."""
    conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": BOUNDARY_LOCK})
    return conn.execute(text("SELECT clock_timestamp()")).scalar_one()


def unit_etag(code: str, version: int) -> str:
    return f'"{code}:v{version}"'


def parse_etags(header: str | None) -> list[str]:
    """The entity tags of an If-Match header (`"a", W/"b"` → ['"a"', '"b"'])."""
    if not header:
        return []
    tags = []
    for part in header.split(","):
        part = part.strip()
        if part.startswith("W/"):
            part = part[2:]
        if part and not part.startswith('"'):
            part = f'"{part}"'
        if part:
            tags.append(part)
    return tags


def _frame(conn: Connection, sql: str, params: dict | None = None) -> gpd.GeoDataFrame:
    """Rows of `sql` (geometry as `wkb`) as a GeoDataFrame in WGS 84."""
    result = conn.execute(text(sql), params or {})
    frame = pd.DataFrame(result.all(), columns=list(result.keys()))
    geoms = shapely.from_wkb([bytes(b) for b in frame.pop("wkb")]) if len(frame) else []
    return gpd.GeoDataFrame(frame, geometry=gpd.GeoSeries(geoms, crs=4326), crs=4326)


@dataclass
class State:
    """The units and courtyards in force (WGS 84), indexed by code, and every code's latest
    version (current or retired)."""

    at: datetime
    district_code: str
    district: shapely.Geometry
    district_names: tuple[str, str]
    sectors: gpd.GeoDataFrame  # grid2, name_zh, name_en, version, geometry
    grid2s: gpd.GeoDataFrame  # community, name_zh, name_en, version, geometry
    communities: gpd.GeoDataFrame  # name_zh, name_en, version, geometry
    courtyards: gpd.GeoDataFrame  # kind, names, property_company_id, sector_code, version
    latest: pd.DataFrame  # index code: level, version, current, successor_code, valid_to
    #: the sub-district the transaction works for (its layer only), None: every unit
    subdistrict: str | None = None

    def layer_etag(self) -> str:
        return layer_etag_of(self.sectors, self.grid2s, self.communities, self.courtyards)


def layer_etag_of(*frames) -> str:
    """The layer ETag of the current rows in `frames` (indexed by code, with `version`)."""
    parts = sorted(f"{c}:{v}" for f in frames for c, v in zip(f.index, f["version"], strict=True))
    return f'"{LAYER}:{hashlib.sha1(",".join(parts).encode()).hexdigest()[:16]}"'


def working_subdistrict(conn: Connection) -> str | None:
    """The sub-district the transaction works for (`gridmap.subdistrict`), None if unset:
    planning then reads and edits that sub-district's layer only."""
    return conn.execute(
        text("SELECT nullif(current_setting(:guc, true), '')"), {"guc": GUC}
    ).scalar()


def current_layer_etag(conn: Connection) -> str:
    """The layer ETag of what is in force, straight from the database: the layer of the
    sub-district the transaction works for (as `load_state` reads it), or every unit."""
    scope = IN_SUBDISTRICT
    frame = pd.read_sql(
        text(
            "SELECT code, version FROM units WHERE valid_to IS NULL AND level <> 'district' "
            f"AND {scope} UNION ALL SELECT code, version FROM courtyards "
            f"WHERE valid_to IS NULL AND {scope}"
        ),
        conn,
        params={"sd": working_subdistrict(conn)},
    ).set_index("code")
    return layer_etag_of(frame)


def _units(frame: gpd.GeoDataFrame, level: str, parent: str | None) -> gpd.GeoDataFrame:
    rows = frame[frame["level"] == level].set_index("code")
    cols = ["name_zh", "name_en", "version", "valid_from", "geometry"]
    out = rows[cols].copy() if parent is None else rows[["parent_code", *cols]].copy()
    if parent is not None:
        out = out.rename(columns={"parent_code": parent})
    return gpd.GeoDataFrame(out, geometry="geometry", crs=4326)


def load_state(conn: Connection, at: datetime, as_of: datetime | None = None) -> State:
    """The layer in force now (or `as_of` a past moment)."""
    if as_of is None:
        where, params = "valid_to IS NULL", {}
    else:
        where = "valid_from <= :t AND (valid_to IS NULL OR valid_to > :t)"
        params = {"t": as_of}
    # a transaction working for one sub-district edits its layer only (a city holds several)
    scope = IN_SUBDISTRICT
    params["sd"] = working_subdistrict(conn)
    where = f"{where} AND {scope}"
    units = _frame(conn, f"SELECT {UNIT_COLUMNS} FROM units WHERE {where} ORDER BY code", params)
    yards = _frame(
        conn, f"SELECT {YARD_COLUMNS} FROM courtyards WHERE {where} ORDER BY code", params
    ).set_index("code")
    district = units[units["level"] == "district"]
    latest = pd.read_sql(
        text(
            "SELECT DISTINCT ON (code) code, level, version, valid_to IS NULL AS current, "
            f"successor_code, valid_to FROM units WHERE {scope} ORDER BY code, version DESC"
        ),
        conn,
        params={"sd": params["sd"]},
    ).set_index("code")
    return State(
        at=at,
        district_code=district["code"].iloc[0] if len(district) else "",
        district=district.geometry.iloc[0] if len(district) else shapely.MultiPolygon(),
        district_names=(
            (district["name_zh"].iloc[0], district["name_en"].iloc[0])
            if len(district)
            else ("", "")
        ),
        sectors=_units(units, "sector", "grid2"),
        grid2s=_units(units, "grid2", "community"),
        communities=_units(units, "community", None),
        courtyards=yards,
        latest=latest,
        subdistrict=params["sd"],
    )


@dataclass
class Plan:
    """A proposed layer. `sectors`: key → code (None: assign one), grid2 key, names (None:
    generate), origin (the code this unit continues, if any), geometry. `grid2s` and
    `communities` likewise (their geometry is derived from the sectors); `frames` are the
    community outlines sectors must stay inside. `courtyards` is None unless the plan
    replaces them."""

    kind: str
    sectors: gpd.GeoDataFrame
    grid2s: pd.DataFrame
    communities: pd.DataFrame
    frames: dict[str, shapely.Geometry]
    courtyards: gpd.GeoDataFrame | None = None
    favour: set[str] = field(default_factory=set)
    strict: bool = True
    problems: list[Problem] = field(default_factory=list)
    #: free-form facts the edit adds to its report (e.g. a rebalancing proposal)
    notes: dict = field(default_factory=dict)

    @classmethod
    def from_state(cls, state: State, kind: str) -> Plan:
        def keyed(frame, cols):
            out = frame[cols].copy()
            out.insert(0, "code", list(frame.index))
            out["origin"] = list(frame.index)
            return out

        sectors = gpd.GeoDataFrame(
            keyed(state.sectors, ["grid2", "name_zh", "name_en", "geometry"]),
            geometry="geometry",
            crs=4326,
        )
        return cls(
            kind=kind,
            sectors=sectors,
            grid2s=keyed(state.grid2s, ["community", "name_zh", "name_en"]),
            communities=keyed(state.communities, ["name_zh", "name_en"]),
            frames=dict(zip(state.communities.index, state.communities.geometry, strict=True)),
        )

    def label(self, key: str) -> str:
        """How a report names a unit of the plan."""
        for frame in (self.sectors, self.grid2s, self.communities):
            if key in frame.index:
                code = frame.at[key, "code"]
                if code:
                    return code
                origin = frame.at[key, "origin"]
                return f"new unit (from {origin})" if origin else f"new unit {key}"
        return key

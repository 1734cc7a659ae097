"""Another sub-district (街道) in the same database: `gridmap district add`.

The boundary file (GeoJSON, GeoPackage or zipped Shapefile, any CRS with a .prj; read like
`gridmap import boundaries`) holds one feature per unit, with a `code` property and
optionally `parent_code` (default: the code less its last segment), `name_zh`, `name_en`.
The level follows from the code's length, as in `data/boundaries/`: 9 digits the
sub-district's outline (exactly one, the code given on the command line), 12 a
community, 14 a level-2 grid, 16 a grid sector.
Children are optional; each lies inside the outline and inside its parent, and its code
starts with its parent's. All or nothing: any problem and nothing is written.

    >>> with engine.begin() as conn:                                  # doctest: +SKIP
    ...     add_subdistrict(conn, "620902004", "新城街道", "Xincheng", Path("x.geojson"))
    {'code': '620902004', 'units': {'district': 1, 'community': 2, ...}}
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pandas as pd
import shapely
from sqlalchemy import text
from sqlalchemy.engine import Connection

from geo.access.tenants import provision
from geo.core.bulk import copy_frame, ewkb_hex
from geo.core.errors import Conflict, InvalidInput
from geo.core.tenancy import CODE_LENGTH, check_code, work_for
from geo.planning.importer import read_boundary_file

#: a unit's level from its code's length (the hierarchical codes of data/boundaries/)
LEVEL_OF_LENGTH = {9: "district", 12: "community", 14: "grid2", 16: "sector"}
#: how far a child may stick out of its parent, in degrees (≈ 1 mm: rounding of coordinates)
TOLERANCE_DEG = 1e-8
ADD_REASON = "sub-district added"


def _code_problem(row, code: str, codes: set[str]) -> str | None:
    """Why feature `row`'s code or parent is wrong, or None."""
    unit = row.code
    if unit is None or not unit.isdigit() or len(unit) not in LEVEL_OF_LENGTH:
        return f"code {unit!r} is not 9, 12, 14 or 16 digits"
    if not unit.startswith(code):
        return f"code {unit} does not start with the sub-district's code {code}"
    if unit != code and row.parent_code not in codes:
        return f"code {unit}: its parent {row.parent_code} is not in the file"
    if unit != code and not unit.startswith(row.parent_code or "-"):
        return f"code {unit} does not start with its parent's code {row.parent_code}"
    if row.geometry is None or row.geometry.geom_type not in ("Polygon", "MultiPolygon"):
        kind = row.geometry.geom_type if row.geometry is not None else "no geometry"
        return f"code {unit}: a unit is a polygon, not {kind}"
    if not shapely.is_valid(row.geometry):
        return f"code {unit}: invalid polygon ({shapely.is_valid_reason(row.geometry)})"
    return None


def _default_parent(unit: str | None) -> str | None:
    if unit is None or len(unit) <= CODE_LENGTH:
        return None
    return unit[:CODE_LENGTH] if len(unit) == 12 else unit[:-2]


def read_subdistrict_file(path: Path, code: str) -> gpd.GeoDataFrame:
    """The units of a new sub-district's boundary file, WGS 84, with `level` and `seq`;
    InvalidInput naming the first feature that is wrong."""
    code = check_code(code, "--code")
    frame = read_boundary_file(path)
    frame["parent_code"] = [
        p or _default_parent(c) for p, c in zip(frame.parent_code, frame.code, strict=True)
    ]
    codes = set(frame["code"].dropna())
    duplicated = frame["code"][frame["code"].duplicated()].dropna()
    if len(duplicated):
        raise InvalidInput(f"{Path(path).name}: code {duplicated.iloc[0]} appears twice")
    if code not in codes:
        raise InvalidInput(
            f"{Path(path).name}: no outline feature with code {code} (the sub-district itself)"
        )
    for i, row in enumerate(frame.itertuples()):
        problem = _code_problem(row, code, codes)
        if problem:
            raise InvalidInput(f"{Path(path).name}, feature {i + 1}: {problem}")
    frame["level"] = [LEVEL_OF_LENGTH[len(c)] for c in frame["code"]]
    frame["seq"] = frame.groupby("parent_code", dropna=False).cumcount() + 1
    frame.loc[frame["level"] == "district", "parent_code"] = None
    return frame


def _check_nesting(frame: gpd.GeoDataFrame, name: str) -> None:
    """Every child inside its parent (and so inside the outline)."""
    by_code = dict(zip(frame["code"], frame.geometry, strict=True))
    for i, row in enumerate(frame.itertuples()):
        if row.level == "district":
            continue
        parent = by_code[row.parent_code].buffer(TOLERANCE_DEG)
        if not parent.covers(row.geometry):
            outside = shapely.area(shapely.difference(row.geometry, parent))
            raise InvalidInput(
                f"{name}, feature {i + 1}: unit {row.code} is not inside its parent "
                f"{row.parent_code} ({outside:.2e} square degrees outside)"
            )


def _check_free(conn: Connection, code: str, outline, name: str) -> None:
    """The code is unused and the outline crosses no other sub-district's outline (sharing an
    edge is fine)."""
    used = conn.execute(
        text("SELECT 1 FROM units WHERE left(code, 9) = :code LIMIT 1"), {"code": code}
    ).first()
    if used:
        raise Conflict(f"sub-district {code} already exists; nothing changed")
    crossed = conn.execute(
        text(
            "SELECT code FROM units WHERE level = 'district' AND valid_to IS NULL "
            "AND ST_Relate(geom, ST_GeomFromEWKB(decode(:g, 'hex')), 'T********') "
            "ORDER BY code LIMIT 1"
        ),
        {"g": ewkb_hex([outline])[0]},
    ).first()
    if crossed:
        raise InvalidInput(
            f"{name}: the outline of {code} overlaps sub-district {crossed.code}; "
            "sub-districts may share edges but never cross each other's outline"
        )


def add_subdistrict(
    conn: Connection, code: str, name_zh: str, name_en: str | None, path: Path, actor: str = "cli"
) -> dict:
    """Validate `path` and insert its units as sub-district `code`, working for it (one
    transaction: the caller's). Returns the code and the number of units per level."""
    path = Path(path)
    if not (name_zh or "").strip():
        raise InvalidInput("--name: the sub-district needs a Chinese name, e.g. 新城街道")
    frame = read_subdistrict_file(path, code)
    _check_nesting(frame, path.name)
    outline = frame.geometry[frame["level"] == "district"].iloc[0]
    _check_free(conn, code, outline, path.name)
    work_for(conn, code)
    change_id = conn.execute(
        text(
            "INSERT INTO boundary_changes (at, actor, kind, reason) "
            "VALUES (now(), :actor, 'district_add', :reason) RETURNING id"
        ),
        {"actor": actor, "reason": f"{ADD_REASON}: {code} {name_zh}"},
    ).scalar_one()
    is_outline = frame["level"] == "district"
    frame.loc[is_outline, "name_zh"] = name_zh.strip()
    frame.loc[is_outline, "name_en"] = (name_en or "").strip() or code
    frame["name_zh"] = frame["name_zh"].fillna(frame["code"])
    frame["name_en"] = frame["name_en"].fillna(frame["name_zh"])
    units = pd.DataFrame(frame[["code", "level", "parent_code", "seq", "name_zh", "name_en"]])
    units["geom"] = ewkb_hex(
        [g if g.geom_type == "MultiPolygon" else shapely.MultiPolygon([g]) for g in frame.geometry]
    )
    units["reason"] = ADD_REASON
    units["changed_by"] = actor
    units["change_id"] = change_id
    copy_frame(conn, "units", units)
    provision(conn, code)
    return {"code": code, "units": frame["level"].value_counts().to_dict()}

"""`gridmap import boundaries FILE --level sector|grid2|community|courtyard`: replace a layer
from a GeoJSON, GeoPackage or zipped Shapefile, in one transaction, after validating it.

What each level means, sectors being the one source geometry:
- sector: the file is the new sector layer. A feature with the `code` of a current sector
  updates it; one without a code is a new sector (next free code) in the level-2 grid
  named by `parent_code`, or the one it overlaps most; current sectors missing from the
  file are retired (their workers and points go to the sector that took their area).
- grid2 / community: the file regroups the units below: every current sector (grid) must
  lie in exactly one feature, which becomes its parent; level-2 grids and communities keep
  their codes where they can, new ones get the next free code. Their geometry stays the
  union of what they hold.
- courtyard: the file is the new courtyard layer (`kind`: managed/scattered/rental or
  物管小区/散居楼院/出租户 for new ones); each courtyard must lie in one sector.

Columns are found by name: code/编码, parent_code/上级编码, name_zh/名称, name_en, kind/类型.
The file's CRS is honoured (a file without one must be WGS 84). Then only the points of
the changed area are re-attached, and the report says how many moved.

    >>> report = import_boundaries(conn, Path("sectors.gpkg"), "sector", actor="cli:wang",
    ...                            reason="2027 年网格调整")       # doctest: +SKIP
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from sqlalchemy import text
from sqlalchemy.engine import Connection

from geo.core.errors import InvalidInput
from geo.core.settings import get_settings
from geo.core.terms import LABELS, CourtyardKind
from geo.planning.commit import Edit, commit
from geo.planning.geometry import area_m2, as_multi
from geo.planning.layer import LAYER, Plan, State
from geo.planning.tiling import Problem, clean_polygon, resolve

IMPORT_LEVELS = ("sector", "grid2", "community", "courtyard")
FORMATS = (".geojson", ".json", ".gpkg", ".zip", ".shp")
ALIASES = {
    "code": ("code", "编码", "代码", "unit_code"),
    "parent_code": ("parent_code", "parent", "上级编码", "上级代码"),
    "name_zh": ("name_zh", "name", "名称", "中文名称"),
    "name_en": ("name_en", "english", "英文名称"),
    "kind": ("kind", "type", "类型"),
}
#: courtyard kinds by value or Chinese label
KINDS = {k.value: k.value for k in CourtyardKind} | {LABELS[k][0]: k.value for k in CourtyardKind}


def read_boundary_file(path: Path) -> gpd.GeoDataFrame:
    """The polygons of `path` in WGS 84, columns renamed to code, parent_code, name_zh,
    name_en, kind (those present); InvalidInput saying what is wrong with the file."""
    path = Path(path)
    if not path.exists():
        raise InvalidInput(f"no file {path}")
    if path.suffix.lower() not in FORMATS:
        raise InvalidInput(
            f"{path.name}: boundaries are read from GeoJSON (.geojson), GeoPackage (.gpkg) or "
            "a zipped Shapefile (.zip)"
        )
    source = str(path)
    try:
        if path.suffix.lower() == ".gpkg":
            import pyogrio

            layers = [name for name, _ in pyogrio.list_layers(source)]
            if len(layers) > 1:
                raise InvalidInput(
                    f"{path.name} holds {len(layers)} layers ({', '.join(layers)}); "
                    "keep only the one to import"
                )
        frame = gpd.read_file(source)
    except InvalidInput:
        raise
    except Exception as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InvalidInput(f"cannot read {path.name} as a boundary file: {reason}") from None
    if frame.empty:
        raise InvalidInput(f"{path.name} holds no features")
    if frame.crs is None:
        minx, miny, maxx, maxy = frame.total_bounds
        if not (-180 <= minx <= maxx <= 180 and -90 <= miny <= maxy <= 90):
            raise InvalidInput(
                f"{path.name} has no coordinate system and its coordinates are not lon/lat; "
                "add a .prj (e.g. EPSG:4542) or export it in WGS 84"
            )
        frame = frame.set_crs(4326)
    elif frame.crs.to_epsg() != 4326:
        frame = frame.to_crs(4326)
    lower = {c.lower(): c for c in frame.columns if c != frame.geometry.name}
    renames = {}
    for name, aliases in ALIASES.items():
        found = next((lower[a.lower()] for a in aliases if a.lower() in lower), None)
        if found is not None:
            renames[found] = name
    frame = frame.rename(columns=renames)
    for name in ALIASES:
        if name not in frame.columns:
            frame[name] = None
    for name in ALIASES:
        frame[name] = [
            None
            if v is None or (isinstance(v, float) and np.isnan(v)) or str(v).strip() == ""
            else str(v).strip()
            for v in frame[name]
        ]
    if frame.geometry.name != "geometry":
        frame = frame.rename_geometry("geometry")
    return frame[[*ALIASES, "geometry"]].reset_index(drop=True)


def _feature_problems(frame: gpd.GeoDataFrame, known: set[str], level: str) -> list[Problem]:
    """Per-feature problems: polygons, duplicate codes, codes that are not current. When
    there are none, the features' geometries are replaced by their cleaned versions."""
    max_v = get_settings().max_polygon_vertices
    problems = []
    seen: dict[str, int] = {}
    cleaned = []
    for i, (code, geom) in enumerate(zip(frame["code"], frame.geometry, strict=True), start=1):
        label = f"feature {i}" + (f" ({code})" if code else "")
        geom, found = clean_polygon(geom, label, max_v, [code] if code else [])
        cleaned.append(geom)
        for p in found:
            p.feature = i
            problems.append(p)
        if code is None:
            continue
        if code in seen:
            problems.append(
                Problem(
                    "code",
                    f"{label}: code {code} appears again (first in feature "
                    f"{seen[code]}); each unit once",
                    [code],
                    feature=i,
                )
            )
        seen.setdefault(code, i)
        if code not in known:
            problems.append(
                Problem(
                    "code",
                    f"{label}: {code} is not a current {level}; leave `code` empty for a new one "
                    "(it gets the next free code)",
                    [code],
                    feature=i,
                )
            )
    if not problems:
        frame["geometry"] = gpd.GeoSeries(cleaned, index=frame.index, crs=4326)
    return problems


def _best_overlap(geoms: np.ndarray, targets: gpd.GeoDataFrame) -> tuple[np.ndarray, np.ndarray]:
    """For each geometry, the index of the target it overlaps most and the area (m²) of
    it lying outside that target."""
    t_geoms = np.asarray(targets.geometry.values, dtype=object)
    gi, ti = shapely.STRtree(t_geoms).query(geoms, predicate="intersects")
    shared = area_m2(shapely.intersection(geoms[gi], t_geoms[ti]))
    best = np.full(len(geoms), -1)
    best_area = np.zeros(len(geoms))
    for g, t, a in zip(gi, ti, shared, strict=True):
        if a > best_area[g]:
            best[g], best_area[g] = t, a
    return best, area_m2(geoms) - best_area


def _regroup(plan: Plan, state: State, frame, level: str, problems: list[Problem]) -> None:
    """grid2/community import: the file's features become the parents of the units below."""
    tol = get_settings().coverage_tolerance_m2
    members = state.sectors if level == "grid2" else state.grid2s
    current = state.grid2s if level == "grid2" else state.communities
    geoms = np.asarray([as_multi(g) for g in frame.geometry], dtype=object)
    keys = [c if c else f"new:{i}" for i, c in enumerate(frame["code"], start=1)]
    coverage = resolve(list(geoms), keys, state.district, strict=True, tolerance_m2=tol)
    problems += coverage.problems
    best, outside = _best_overlap(np.asarray(members.geometry.values, dtype=object), frame)
    what = "sector" if level == "grid2" else "level-2 grid"
    for m, (code, b, out) in enumerate(zip(members.index, best, outside, strict=True)):
        if b < 0 or out > tol:
            problems.append(
                Problem(
                    "nesting",
                    f"{what} {code} does not lie in one feature of the file "
                    f"({out:,.0f} m² outside its best match); every {what} must fit in one",
                    [code],
                    float(out),
                    members.geometry.iloc[m],
                )
            )
    parents = {}
    if level == "grid2":
        up, _ = _best_overlap(geoms, state.communities)
        parents = {
            keys[i]: frame["parent_code"].iloc[i]
            or (state.communities.index[up[i]] if up[i] >= 0 else None)
            for i in range(len(keys))
        }
        for key, parent in parents.items():
            if parent not in state.communities.index:
                problems.append(
                    Problem("code", f"{key}: parent community {parent} does not exist", [key])
                )
    rows = []
    for i, key in enumerate(keys):
        code = frame["code"].iloc[i]
        old = current.loc[code] if code else None
        row = {
            "code": code,
            "name_zh": frame["name_zh"].iloc[i] or (old["name_zh"] if old is not None else None),
            "name_en": frame["name_en"].iloc[i] or (old["name_en"] if old is not None else None),
            "origin": code,
        }
        if level == "grid2":
            row["community"] = parents.get(key)
        rows.append(row)
    table = pd.DataFrame(rows, index=keys)
    if level == "grid2":
        plan.grid2s = table[["code", "community", "name_zh", "name_en", "origin"]]
        sectors = plan.sectors
    else:
        plan.communities = table[["code", "name_zh", "name_en", "origin"]]
        plan.frames = dict(zip(keys, geoms, strict=True))
        grid2s = plan.grid2s.copy()
    for m, code in enumerate(members.index):
        if best[m] < 0:
            continue
        new_parent = keys[best[m]]
        if level == "grid2":
            if sectors.at[code, "grid2"] != new_parent:
                sectors.at[code, "grid2"] = new_parent
                sectors.at[code, "name_zh"] = sectors.at[code, "name_en"] = None
        elif grid2s.at[code, "community"] != new_parent:
            grid2s.at[code, "community"] = new_parent
            grid2s.at[code, "name_zh"] = grid2s.at[code, "name_en"] = None
    if level == "community":
        plan.grid2s = grid2s
        # sectors of a level-2 grid that changed community are renamed with it
        moved = set(grid2s.index[grid2s["name_zh"].isna()])
        for code in plan.sectors.index[plan.sectors["grid2"].isin(moved)]:
            plan.sectors.at[code, "name_zh"] = plan.sectors.at[code, "name_en"] = None


def _sectors(plan: Plan, state: State, frame, problems: list[Problem]) -> None:
    geoms = np.asarray([as_multi(g) for g in frame.geometry], dtype=object)
    up, _ = _best_overlap(geoms, state.grid2s)
    rows, keys = [], []
    for i in range(len(frame)):
        code, parent = frame["code"].iloc[i], frame["parent_code"].iloc[i]
        current = code in state.sectors.index if code else False
        if parent is None:
            parent = (
                state.sectors.at[code, "grid2"]
                if current
                else (state.grid2s.index[up[i]] if up[i] >= 0 else None)
            )
        if parent not in state.grid2s.index:
            problems.append(
                Problem(
                    "code",
                    f"feature {i + 1}: level-2 grid {parent} does not exist; set parent_code to a "
                    "current level-2 grid",
                    [str(parent)],
                    feature=i + 1,
                )
            )
            continue
        keep = current and state.sectors.at[code, "grid2"] == parent
        names = (frame["name_zh"].iloc[i], frame["name_en"].iloc[i])
        if keep and names[0] is None:
            names = (state.sectors.at[code, "name_zh"], state.sectors.at[code, "name_en"])
        keys.append(code if keep else f"new:{i + 1}")
        rows.append(
            {
                "code": code if keep else None,
                "grid2": parent,
                "name_zh": names[0],
                "name_en": names[1] or names[0],
                "origin": code if current else None,
                "geometry": geoms[i],
            }
        )
    plan.sectors = gpd.GeoDataFrame(rows, index=keys, geometry="geometry", crs=4326)


def _courtyards(conn: Connection, plan: Plan, state: State, frame, problems) -> None:
    tol = get_settings().coverage_tolerance_m2
    geoms = np.asarray([as_multi(g) for g in frame.geometry], dtype=object)
    used = (
        conn.execute(
            text("SELECT max(CAST(substring(code from 'Y([0-9]+)$') AS integer)) FROM courtyards")
        ).scalar()
        or 0
    )
    rows = []
    for i in range(len(frame)):
        code, kind = frame["code"].iloc[i], frame["kind"].iloc[i]
        old = state.courtyards.loc[code] if code in state.courtyards.index else None
        if kind is not None and kind not in KINDS:
            problems.append(
                Problem(
                    "attribute",
                    f"feature {i + 1}: kind {kind!r} is not one of {', '.join(KINDS)}",
                    [code or ""],
                    feature=i + 1,
                )
            )
        kind = KINDS.get(kind) if kind else (old["kind"] if old is not None else None)
        name = frame["name_zh"].iloc[i] or (old["name_zh"] if old is not None else None)
        if kind is None or name is None:
            problems.append(
                Problem(
                    "attribute",
                    f"feature {i + 1}: a new courtyard needs `kind` and `name_zh`",
                    [],
                    feature=i + 1,
                )
            )
        if code is None:
            used += 1
            code = f"{state.district_code}Y{used:03d}"
        rows.append(
            {
                "code": code,
                "kind": kind,
                "name_zh": name,
                "name_en": frame["name_en"].iloc[i]
                or (old["name_en"] if old is not None else name),
                "property_company_id": old["property_company_id"] if old is not None else None,
                "geometry": geoms[i],
            }
        )
    outside = shapely.difference(geoms, state.district)
    for i in np.flatnonzero(area_m2(outside) > tol):
        problems.append(
            Problem(
                "outside",
                f"feature {i + 1}: courtyard reaches outside the sub-district",
                [rows[i]["code"]],
                float(area_m2([outside[i]])[0]),
                outside[i],
                feature=i + 1,
            )
        )
    a, b = shapely.STRtree(geoms).query(geoms, predicate="intersects")
    pairs = a < b
    overlap = shapely.intersection(geoms[a[pairs]], geoms[b[pairs]])
    for i, j, piece, size in zip(a[pairs], b[pairs], overlap, area_m2(overlap), strict=True):
        if size > tol:
            problems.append(
                Problem(
                    "overlap",
                    f"courtyards of features {i + 1} and {j + 1} overlap by {size:,.1f} m²",
                    [rows[i]["code"], rows[j]["code"]],
                    float(size),
                    piece,
                    feature=j + 1,
                )
            )
    plan.courtyards = gpd.GeoDataFrame(rows, geometry="geometry", crs=4326)


def import_boundaries(
    conn: Connection,
    path: Path,
    level: str,
    actor: str,
    reason: str | None = None,
    expect: list[str] | None = None,
    dry_run: bool = False,
) -> dict:
    """Validate `path` and replace the `level` layer with it in the caller's transaction
    (nothing is written if anything is wrong); returns the change report with the points
    examined and moved per kind. `expect`: the layer ETag, if the caller checks one."""
    if level not in IMPORT_LEVELS:
        raise InvalidInput(f"--level must be one of {', '.join(IMPORT_LEVELS)}, got {level!r}")
    frame = read_boundary_file(path)
    reason = reason or f"import of {Path(path).name}"

    def build(state: State) -> Plan:
        plan = Plan.from_state(state, f"import_{level}")
        known = {
            "sector": state.sectors.index,
            "grid2": state.grid2s.index,
            "community": state.communities.index,
            "courtyard": state.courtyards.index,
        }[level]
        problems = _feature_problems(frame, set(known), level)
        if problems:
            plan.problems = problems
            return plan
        if level == "sector":
            _sectors(plan, state, frame, problems)
        elif level == "courtyard":
            _courtyards(conn, plan, state, frame, problems)
        else:
            _regroup(plan, state, frame, level, problems)
        plan.problems = problems
        plan.notes = {"file": Path(path).name, "features": len(frame), "level": level}
        return plan

    targets = [LAYER] if expect is not None else []
    return commit(conn, Edit(f"import_{level}", reason, actor, build, targets, expect, dry_run))

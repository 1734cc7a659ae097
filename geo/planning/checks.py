"""The rules a proposed layer must keep, beyond a clean coverage: every level contiguous,
sectors nested in one community and within the size bounds, no level-2 grid left empty,
no courtyard split between sectors. Each problem names the units and the place.

    >>> problems = check_layer(plan, sector_geoms, courtyards, settings)   # doctest: +SKIP
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import shapely

from geo.core.settings import Settings
from geo.planning.geometry import area_m2, as_multi
from geo.planning.layer import Plan
from geo.planning.tiling import Problem


def derived(groups: pd.Series, geoms: dict[str, shapely.Geometry]) -> dict[str, shapely.Geometry]:
    """Union of the member geometries per parent: `groups` maps member key → parent key."""
    out = {}
    for parent, members in groups.groupby(groups, sort=True):
        parts = [geoms[k] for k in members.index if not geoms[k].is_empty]
        out[parent] = as_multi(shapely.coverage_union_all(parts)) if parts else as_multi(None)
    return out


def _contiguity(level: str, geoms: dict[str, shapely.Geometry], label) -> list[Problem]:
    out = []
    for key, geom in geoms.items():
        parts = shapely.get_parts(geom)
        if len(parts) > 1:
            areas = area_m2(parts)
            detached = shapely.MultiPolygon(list(parts[np.argsort(-areas)[1:]]))
            out.append(
                Problem(
                    "contiguity",
                    f"{level} {label(key)} would fall into {len(parts)} separate parts; "
                    "the detached parts are marked",
                    [label(key)],
                    float(areas.sum() - areas.max()),
                    detached,
                )
            )
    return out


def check_layer(
    plan: Plan,
    sectors: dict[str, shapely.Geometry],
    courtyards: pd.DataFrame,
    settings: Settings,
) -> list[Problem]:
    """Problems of the resolved sectors (`sectors`: key → WGS 84 geometry) of `plan`, with
    `courtyards` (code → geometry) the courtyards that must stay whole."""
    tol = settings.coverage_tolerance_m2
    label = plan.label
    problems: list[Problem] = []
    keys = list(sectors)
    grid_of = plan.sectors.loc[keys, "grid2"]
    grids = derived(grid_of, sectors)
    community_of = plan.grid2s["community"]
    for grid in plan.grid2s.index:
        if grid not in grids:
            problems.append(
                Problem(
                    "empty_grid",
                    f"level-2 grid {label(grid)} would hold no sector; keep one in it "
                    "(or import a new level-2 grid layer)",
                    [label(grid)],
                )
            )
    communities = derived(community_of[community_of.index.isin(list(grids))], grids)
    problems += _contiguity("sector", sectors, label)
    problems += _contiguity("level-2 grid", grids, label)
    problems += _contiguity("community", communities, label)
    problems += _outside_community(plan, sectors, grid_of, tol)
    geoms = np.array([sectors[k] for k in keys], dtype=object)
    problems += _size_problems(keys, geoms, label, settings)
    if len(courtyards):
        problems += _courtyard_problems(courtyards, keys, geoms, label, tol)
    return problems


def _outside_community(plan: Plan, sectors: dict, grid_of, tol: float) -> list[Problem]:
    """Nesting: a sector stays inside the outline of its community."""
    label = plan.label
    community_of = plan.grid2s["community"]
    problems: list[Problem] = []
    for key, geom in sectors.items():
        community = community_of[grid_of[key]]
        frame = plan.frames.get(community)
        if frame is None or geom.is_empty:
            continue
        pieces = shapely.get_parts(shapely.difference(geom, frame))
        sizes = area_m2(pieces) if len(pieces) else np.zeros(0)
        outside = shapely.union_all(pieces[sizes > tol]) if (sizes > tol).any() else None
        a = float(sizes[sizes > tol].sum())
        if outside is not None:
            problems.append(
                Problem(
                    "nesting",
                    f"sector {label(key)} would reach {a:,.1f} m² outside its community "
                    f"{label(community)}; a sector lies in one community (community "
                    "boundaries change only by importing a community layer)",
                    [label(key), label(community)],
                    a,
                    outside,
                )
            )
    return problems


def _size_problems(keys: list[str], geoms: np.ndarray, label, settings: Settings) -> list:
    """Size bounds of each sector (settings)."""
    problems: list[Problem] = []
    areas = area_m2(geoms)
    for key, geom, a in zip(keys, geoms, areas, strict=True):
        if geom.is_empty:
            continue
        if a < settings.sector_min_area_m2 or a > settings.sector_max_area_m2:
            problems.append(
                Problem(
                    "size",
                    f"sector {label(key)} would measure {a:,.0f} m², outside the bounds "
                    f"{settings.sector_min_area_m2:,.0f}–{settings.sector_max_area_m2:,.0f} m² "
                    "(GRIDMAP_SECTOR_MIN_AREA_M2 / _MAX_AREA_M2)",
                    [label(key)],
                    float(a),
                    geom,
                )
            )
    return problems


def _courtyard_problems(courtyards, keys: list[str], geoms: np.ndarray, label, tol) -> list:
    """Courtyards stay whole: all of a courtyard in one sector, none outside every sector."""
    problems: list[Problem] = []
    yards = np.asarray(courtyards.geometry.values, dtype=object)
    yard_i, sector_i = shapely.STRtree(geoms).query(yards, predicate="intersects")
    pieces = shapely.intersection(yards[yard_i], geoms[sector_i])
    piece_area = area_m2(pieces)
    big = piece_area > tol
    counts = np.bincount(yard_i[big], minlength=len(yards))
    inside = np.bincount(yard_i, weights=piece_area, minlength=len(yards))
    yard_area = area_m2(yards)
    for y in np.flatnonzero(counts > 1):
        mine = big & (yard_i == y)
        parts = piece_area[mine]
        names = [label(keys[j]) for j in sector_i[mine]]
        smaller = shapely.union_all(pieces[mine][np.argsort(-parts)[1:]])
        shares = ", ".join(f"{n} {a:,.0f} m²" for n, a in zip(names, parts, strict=True))
        problems.append(
            Problem(
                "courtyard_split",
                f"courtyard {courtyards.index[y]} would be split between sectors ({shares}); "
                "a courtyard lies in one sector: draw the border around it",
                [courtyards.index[y], *names],
                float(parts.sum() - parts.max()),
                smaller,
            )
        )
    for y in np.flatnonzero(yard_area - inside > tol):
        problems.append(
            Problem(
                "courtyard_split",
                f"courtyard {courtyards.index[y]} lies {yard_area[y] - inside[y]:,.0f} m² "
                "outside every sector",
                [courtyards.index[y]],
                float(yard_area[y] - inside[y]),
                courtyards.geometry.iloc[y],
            )
        )
    return problems

"""Coverage: turn proposed sector polygons into a clean coverage of the sub-district, or
say exactly where the gaps and overlaps are.

Every border of the proposal (and the district outline) is noded into one set of lines
and polygonized into faces; each face is covered by zero, one or several proposed sectors.
A face inside the district covered by none is a gap, by several an overlap; one outside
the district but covered lies outside. Pieces above the tolerance (1 m² by default) are
problems, reported with their area and location; in `adjust` mode overlaps go to the
sectors the caller drew (`favour`) and gaps to the neighbour sharing the longest border
with them. The sectors are then rebuilt from their faces, so neighbours share exactly the
same vertices and `shapely.coverage_is_valid` holds for what is written.

    >>> result = resolve(geoms, keys, district, favour={"6209020030010101"}, strict=False)
    >>> result.geoms["6209020030010102"]   # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import shapely
import shapely.errors

from geo.planning.geometry import BORDER_MARGIN_DEG, DECIMALS, area_m2, as_multi, to_geojson

#: the precision grid borders are noded on: the 7 decimals of the stored data (about 1 cm)
GRID_DEG = 10.0**-DECIMALS


@dataclass
class Problem:
    """One reason a proposal cannot be written: which rule, which units, where, how big."""

    rule: str
    detail: str
    units: list[str] = field(default_factory=list)
    area_m2: float | None = None
    where: object | None = None  # a WGS 84 shapely geometry; GeoJSON in `as_dict`
    feature: int | None = None  # the feature number in an imported file (from 1)

    def as_dict(self) -> dict:
        out = {"rule": self.rule, "detail": self.detail, "units": self.units}
        if self.area_m2 is not None:
            out["area_m2"] = round(float(self.area_m2), 2)
        if self.feature is not None:
            out["feature"] = self.feature
        out["where"] = to_geojson(self.where) if self.where is not None else None
        return out


#: rule → (中文, English) label, for reports
RULES = {
    "invalid_polygon": ("多边形无效", "invalid polygon"),
    "not_polygon": ("不是多边形", "not a polygon"),
    "too_many_vertices": ("顶点过多", "too many vertices"),
    "gap": ("缝隙", "gap"),
    "overlap": ("重叠", "overlap"),
    "outside": ("超出街道范围", "outside the sub-district"),
    "vanishes": ("单元消失", "unit vanishes"),
    "nesting": ("跨社区", "not nested in one community"),
    "courtyard_split": ("小区被分割", "courtyard split"),
    "contiguity": ("不连通", "not contiguous"),
    "size": ("面积超限", "size out of bounds"),
    "empty_grid": ("网格无片区", "level-2 grid left empty"),
    "split_line": ("分割线无效", "split line does not cut in two"),
    "code": ("编码无效", "bad code"),
    "attribute": ("属性无效", "bad attribute"),
}


def clean_polygon(geom, label: str, max_vertices: int, units: list[str] | None = None):
    """A submitted polygon checked: (the geometry to use, problems). Type, emptiness,
    validity (with the reason from `shapely.is_valid_reason`) and vertex count. A polygon
    invalid only at the last decimals (a ring touching itself once its coordinates are
    rounded) is snapped to the 1 cm grid when that keeps its area; anything else invalid
    is reported where it is."""
    units = units or []
    if geom is None or geom.is_empty:
        return None, [Problem("not_polygon", f"{label}: the geometry is empty", units)]
    if geom.geom_type not in ("Polygon", "MultiPolygon"):
        return None, [
            Problem("not_polygon", f"{label}: a {geom.geom_type} is not a polygon", units)
        ]
    out = []
    if not shapely.is_valid(geom):
        try:
            snapped = shapely.set_precision(geom, GRID_DEG)
        except shapely.errors.GEOSException:  # too broken to snap
            snapped = shapely.Point()
        same = (
            snapped.geom_type in ("Polygon", "MultiPolygon")
            and shapely.is_valid(snapped)
            and abs(area_m2([snapped])[0] - area_m2([geom])[0]) <= 1.0
            and area_m2([shapely.symmetric_difference(snapped, shapely.make_valid(geom))])[0] <= 1.0
        )
        if same:
            geom = snapped
        else:
            reason = shapely.is_valid_reason(geom)
            where = None
            if "[" in reason:  # e.g. "Self-intersection[98.47 39.75]"
                x, y = reason[reason.index("[") + 1 : reason.rindex("]")].split()[:2]
                where = shapely.Point(float(x), float(y))
            out.append(
                Problem(
                    "invalid_polygon",
                    f"{label}: invalid polygon ({reason}); fix the ring there and send it again",
                    units,
                    where=where,
                )
            )
    n = shapely.get_num_coordinates(geom)
    if n > max_vertices:
        out.append(
            Problem(
                "too_many_vertices",
                f"{label}: {n:,} vertices, more than the {max_vertices:,} allowed "
                "(GRIDMAP_MAX_POLYGON_VERTICES); simplify it",
                units,
            )
        )
    return geom, out


@dataclass
class Resolution:
    """The rebuilt sectors (key → MultiPolygon) and the problems found on the way."""

    geoms: dict[str, shapely.MultiPolygon]
    problems: list[Problem]


def _faces(geoms: np.ndarray, frame) -> np.ndarray:
    """The faces of all borders, snap-rounded to GRID_DEG: a vertex of one border lying
    within the grid of another's edge becomes a node of both, so neighbours share edges
    exactly."""
    lines = shapely.union_all(shapely.boundary(np.append(geoms, frame)), grid_size=GRID_DEG)
    faces = shapely.get_parts(shapely.polygonize(shapely.get_parts(lines)))
    return faces[shapely.area(faces) > 0]


def _components(faces: np.ndarray) -> np.ndarray:
    """Connected pieces of a set of faces."""
    if len(faces) == 0:
        return faces
    return shapely.get_parts(shapely.union_all(faces, grid_size=GRID_DEG))


def _at_home(reps, face_i, sector_i, homes) -> np.ndarray:
    if homes is None:
        return np.zeros(len(face_i), dtype=bool)
    homes = np.asarray(homes, dtype=object)
    return shapely.within(reps[face_i], homes[sector_i])


def _border_weight(piece, candidates: np.ndarray) -> np.ndarray:
    """How much border `piece` shares with each candidate (area of a thin band; robust to
    the last-bit differences of noded vertices)."""
    band = shapely.buffer(piece, BORDER_MARGIN_DEG * 4, quad_segs=1)
    return shapely.area(shapely.intersection(band, candidates))


def resolve(
    geoms: list,
    keys: list[str],
    frame,
    favour: set[str] | frozenset = frozenset(),
    strict: bool = True,
    tolerance_m2: float = 1.0,
    homes: list | None = None,
) -> Resolution:
    """Resolve proposed sectors `geoms` (WGS 84, named by `keys`) into a clean coverage of
    `frame` (the district outline).

    strict: gaps, overlaps and parts outside above `tolerance_m2` are problems (the caller
    must fix them). Not strict ("adjust"): overlaps go to `favour` (else the lowest key),
    parts outside are cut off, gaps go to the neighbour with the longest shared border
    (not a favoured one, if another borders it). Slivers up to the tolerance are cleaned
    either way. `homes` (one outline per key, e.g. its community) break ties: a sliver
    goes to a sector whose home holds it, and so does a gap."""
    geoms = np.asarray([as_multi(g) for g in geoms], dtype=object)
    homes_arr = None if homes is None else np.asarray(homes, dtype=object)
    f = _cover(geoms, keys, frame, favour)
    owner = _owners(f, homes, tolerance_m2)
    problems = _overlaps_and_outside(f, strict, bool(favour), tolerance_m2)
    owner[~f.inside] = -1
    problems += _fill_gaps(f, geoms, owner, strict, tolerance_m2, homes_arr)
    _absorb_crumbs(f.faces, f.reps, owner, geoms, tolerance_m2)
    out = {}
    for j, key in enumerate(keys):
        mine = f.faces[owner == j]
        out[key] = (
            as_multi(shapely.coverage_union_all(mine)) if len(mine) else shapely.MultiPolygon()
        )
        if out[key].is_empty:
            problems.append(
                Problem(
                    "vanishes", f"sector {key} would have no area left; merge it instead", [key]
                )
            )
    return Resolution(out, problems)


@dataclass(frozen=True)
class _Cover:
    """The faces of the proposed sectors over the frame and which sectors cover each."""

    keys: list[str]
    faces: np.ndarray
    reps: np.ndarray  # a point on each face
    face_i: np.ndarray  # (face, sector) pairs: the sector covers the face
    sector_i: np.ndarray
    count: np.ndarray  # how many sectors cover each face
    inside: np.ndarray  # whether the face lies in the frame
    rank: np.ndarray  # each sector's rank by key
    favoured: np.ndarray

    def covered_by(self, i: int) -> list[str]:
        return sorted(self.keys[j] for j in self.sector_i[self.face_i == i])


def _cover(geoms: np.ndarray, keys: list[str], frame, favour) -> _Cover:
    order = np.argsort(keys, kind="stable")  # the lowest key wins a contested face
    faces = _faces(geoms, frame)
    reps = shapely.point_on_surface(faces)
    face_i, sector_i = shapely.STRtree(geoms).query(reps, predicate="within")
    rank = np.empty(len(keys), dtype=int)
    rank[order] = np.arange(len(keys))
    return _Cover(
        keys,
        faces,
        reps,
        face_i,
        sector_i,
        np.bincount(face_i, minlength=len(faces)),
        shapely.within(reps, frame),
        rank,
        np.array([k in favour for k in keys]),
    )


def _owners(f: _Cover, homes, tolerance_m2: float) -> np.ndarray:
    """Each face's sector: among those covering it, a favoured one first, then the lowest
    key; a sliver goes first to a sector at home there (it keeps sectors in their
    community). -1: nobody covers it."""
    n = len(f.keys)
    at_home = _at_home(f.reps, f.face_i, f.sector_i, homes)
    sliver = area_m2(f.faces)[f.face_i] <= tolerance_m2
    score = (
        f.rank[f.sector_i]
        - np.where(f.favoured[f.sector_i], n, 0)
        - np.where(at_home & sliver, 2 * n, 0)
    )
    owner = np.full(len(f.faces), -1)
    best = np.full(len(f.faces), np.iinfo(int).max)
    np.minimum.at(best, f.face_i, score)
    chosen = score == best[f.face_i]
    owner[f.face_i[chosen]] = f.sector_i[chosen]
    return owner


def _overlaps_and_outside(
    f: _Cover, strict: bool, favouring: bool, tolerance_m2: float
) -> list[Problem]:
    """Overlaps and parts outside, grouped by who covers them."""
    problems: list[Problem] = []
    inside, count = f.inside, f.count
    for kind, mask in (("overlap", inside & (count > 1)), ("outside", ~inside & (count > 0))):
        groups: dict[tuple, list[int]] = {}
        for i in np.flatnonzero(mask):
            groups.setdefault(tuple(f.covered_by(i)), []).append(i)
        for units, idx in groups.items():
            for piece in _components(f.faces[idx]):
                a = float(area_m2([piece])[0])
                if a > tolerance_m2 and (strict or kind == "overlap" and not favouring):
                    what = (
                        f"sectors {', '.join(units)} overlap"
                        if kind == "overlap"
                        else f"sector {', '.join(units)} reaches outside the sub-district"
                    )
                    problems.append(Problem(kind, f"{what} by {a:,.1f} m²", list(units), a, piece))
    return problems


def _fill_gaps(f: _Cover, geoms, owner, strict: bool, tolerance_m2: float, homes_arr) -> list:
    """Gaps: each connected piece goes to a neighbour (`owner` is updated), or is a problem."""
    problems: list[Problem] = []
    gap_faces = np.flatnonzero(f.inside & (f.count == 0))
    if not len(gap_faces):
        return problems
    pieces = _components(f.faces[gap_faces])
    face_of, piece_of = shapely.STRtree(pieces).query(f.reps[gap_faces], predicate="within")
    tree = shapely.STRtree(geoms)
    for p, piece in enumerate(pieces):
        a = float(area_m2([piece])[0])
        big = a > tolerance_m2
        near = tree.query(shapely.buffer(piece, BORDER_MARGIN_DEG * 4, quad_segs=1))
        names = sorted(f.keys[j] for j in near)
        if big:
            # abandoned area goes to a neighbour the caller did not draw
            near = near[~f.favoured[near]] if len(near) else near
        weights = _border_weight(piece, geoms[near]) if len(near) else np.zeros(0)
        if homes_arr is not None and len(near):
            home = shapely.within(shapely.point_on_surface(piece), homes_arr[near])
            weights = weights * np.where(home, 1.0, 1e-6)
        if big and (strict or len(near) == 0 or weights.max() <= 0):
            between = f" (next to {', '.join(names)})" if names else ""
            hint = "" if strict else "; no neighbour but the edited sector borders it"
            problems.append(
                Problem(
                    "gap",
                    f"a gap of {a:,.1f} m² that no sector covers{between}{hint}",
                    names,
                    a,
                    piece,
                )
            )
            continue
        if len(near) == 0:
            continue
        target = near[np.lexsort((f.rank[near], -weights))[0]]
        owner[gap_faces[face_of[piece_of == p]]] = target
    return problems


def _absorb_crumbs(faces, reps, owner, geoms, tolerance_m2: float) -> None:
    """Detached crumbs of a sector no bigger than the tolerance (left by a new border
    passing a hair's breadth from an old vertex) go to the neighbour they touch most."""
    for j in np.unique(owner[owner >= 0]):
        mine = np.flatnonzero(owner == j)
        parts = shapely.get_parts(shapely.coverage_union_all(faces[mine]))
        if len(parts) < 2:
            continue
        areas = area_m2(parts)
        others = np.array([k for k in range(len(geoms)) if k != j])
        for p in np.flatnonzero((areas <= tolerance_m2) & (areas < areas.max())):
            inside = mine[shapely.within(reps[mine], parts[p])]
            weights = _border_weight(parts[p], geoms[others])
            if len(inside) and weights.max() > 0:
                owner[inside] = others[int(np.argmax(weights))]

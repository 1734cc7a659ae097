"""The Xibeijie boundary dataset: a reproducible generator of `data/boundaries/*.geojson`.

The real boundaries are not public, so the district is drawn to the case's figures: a
26.19 km² outline north-west of Jiuquan's Drum Tower, cut by a gently curving street
lattice into city blocks. Each block belongs to one grid sector (the map in
`SECTOR_MAP`); level-2 grids, communities and the outline are exact unions of sectors,
so every level is a clean coverage of its parent by construction. Courtyards are inset
inside blocks, clear of the streets. Fixed seed: re-running writes the same bytes.

    >>> from geo.grid.district import write_dataset
    >>> write_dataset(Path("data/boundaries"))   # doctest: +SKIP
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import shapely
from pyproj import Transformer
from shapely.geometry import LineString, MultiPolygon, Point, Polygon, mapping

from geo.core.models import METRIC_SRID, SRID
from geo.core.settings import PROJECT_ROOT, get_settings
from geo.core.terms import CourtyardKind, Level
from geo.grid import facts

BOUNDARY_DIR = PROJECT_ROOT / "data" / "boundaries"
TARGET_AREA_M2 = 26.19e6
#: the old town's Drum Tower (鼓楼), WGS 84 (assumption, FACTS.md); the district lies north-west
DRUM_TOWER = (98.508, 39.743)
#: units are numbered in rows of this height from the district's north edge, west→east in a row
ROW_BAND_M = 500.0
#: coordinates are written with 7 decimals (about 1 cm)
DECIMALS = 7
#: vertices per block edge (a curving street drawn every ~200 m); a power of two, so that
#: neighbouring blocks compute their shared vertices from bit-identical lattice coordinates
SUBDIVISIONS = 4

#: which sector each block of the 9 x 6 street lattice belongs to ('.' = outside the district).
#: Rows run north→south, columns west→east. Letters: community (G/Y/J) + sector label.
SECTOR_MAP = [
    ".  G1 G1 G2 G2 G2 J1 J1 . ",
    "G3 G4 G4 G5 G5 J2 J3 J3 J4",
    "G3 G6 G6 G7 Y3 J2 J5 J5 J4",
    "Y1 Y1 Y2 Y2 Y3 J6 J6 J7 J7",
    ".  Y4 Y4 Y5 Y6 Y7 J8 J8 . ",
    ".  .  Y4 Y5 Y6 .  .  .  . ",
]
#: sectors of each level-2 grid (grid labels are internal; codes come from positions)
GRID2_SECTORS = {
    "GA": ["G1", "G2"],
    "GB": ["G3", "G4"],
    "GC": ["G5", "G7"],
    "GD": ["G6"],
    "YA": ["Y1", "Y2"],
    "YB": ["Y3", "Y6"],
    "YC": ["Y4", "Y5"],
    "YD": ["Y7"],
    "JA": ["J1", "J3"],
    "JB": ["J2", "J5"],
    "JC": ["J4", "J7"],
    "JD": ["J6", "J8"],
}
COMMUNITIES = {
    "G": ("官北沟社区", "Guanbeigou Community", "官北沟", "Guanbeigou"),
    "Y": ("阳关路社区", "Yangguanlu Community", "阳关路", "Yangguanlu"),
    "J": ("金河社区", "Jinhe Community", "金河", "Jinhe"),
}
DISTRICT_NAME = ("西北街街道", "Xibeijie Sub-district")

#: streets of the lattice: (index, zh, en, arterial). NS streets sit at column edges u,
#: EW streets at row edges v. Arterials carry most shops.
NS_STREETS = [
    (1, "西环路", "Xihuan Road", False),
    (2, "仓门街", "Cangmen Street", False),
    (3, "阳关路", "Yangguan Road", True),
    (4, "富康路", "Fukang Road", False),
    (5, "北关街", "Beiguan Street", False),
    (6, "金河路", "Jinhe Road", True),
    (7, "新城路", "Xincheng Road", False),
    (8, "东环路", "Donghuan Road", False),
]
EW_STREETS = [
    (1, "北环路", "Beihuan Road", False),
    (2, "西北街", "Xibei Street", True),
    (3, "祁连路", "Qilian Road", False),
    (4, "西大街", "Xi Dajie", True),
    (5, "沙河路", "Shahe Road", False),
]

#: courtyard names by kind (zh, en), enough for the counts in geo.grid.facts
_MANAGED_PREFIX = [
    ("锦绣", "Jinxiu"),
    ("阳光", "Yangguang"),
    ("金河湾", "Jinhewan"),
    ("富康", "Fukang"),
    ("祁连", "Qilian"),
    ("盛世", "Shengshi"),
    ("和平", "Heping"),
    ("西苑", "Xiyuan"),
    ("嘉禾", "Jiahe"),
    ("泉湖", "Quanhu"),
    ("丝路", "Silu"),
    ("福苑", "Fuyuan"),
    ("汇景", "Huijing"),
    ("康乐", "Kangle"),
    ("瑞景", "Ruijing"),
    ("鑫源", "Xinyuan"),
    ("新城", "Xincheng"),
    ("怡和", "Yihe"),
]
_MANAGED_SUFFIX = [("小区", "Residential Estate"), ("花园", "Garden")]
_SCATTERED = [
    ("粮食局", "Grain Bureau"),
    ("供电公司", "Power Supply Co."),
    ("邮政局", "Post Office"),
    ("农机厂", "Farm Machinery Plant"),
    ("水务局", "Water Bureau"),
    ("林业局", "Forestry Bureau"),
    ("交通局", "Transport Bureau"),
    ("卫生局", "Health Bureau"),
    ("建筑公司", "Construction Co."),
    ("物资公司", "Materials Co."),
    ("棉纺厂", "Cotton Mill"),
    ("酒厂", "Distillery"),
    ("电信局", "Telecom Bureau"),
    ("税务局", "Tax Bureau"),
    ("气象局", "Meteorological Bureau"),
    ("地质队", "Geological Team"),
    ("糖厂", "Sugar Factory"),
]
_RENTAL = [
    ("北关巷", "Beiguan Lane"),
    ("西关巷", "Xiguan Lane"),
    ("仓门巷", "Cangmen Lane"),
    ("东坝巷", "Dongba Lane"),
    ("沙河巷", "Shahe Lane"),
    ("新民巷", "Xinmin Lane"),
    ("果园巷", "Guoyuan Lane"),
    ("花园巷", "Huayuan Lane"),
]
#: inset of a courtyard inside its 1/3 x 1/3 sub-block, in lattice units (bigger = smaller yard)
_INSET = {CourtyardKind.MANAGED: 0.05, CourtyardKind.SCATTERED: 0.08, CourtyardKind.RENTAL: 0.11}


@dataclass(frozen=True)
class Lattice:
    """The warped street lattice: lattice coordinates (u east, v south) → metres in EPSG:4542."""

    origin: tuple[float, float]  # north-west corner, metres
    cell: float  # nominal block size, metres
    phases: tuple[float, ...]

    def xy(self, u: np.ndarray, v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        p = self.phases
        dx = 0.07 * np.sin(0.9 * v + 1.3 * u + p[0]) + 0.03 * np.sin(2.1 * v + p[1])
        dy = 0.06 * np.sin(0.8 * u + 1.1 * v + p[2]) + 0.025 * np.sin(2.3 * u + p[3])
        x = self.origin[0] + self.cell * (u + dx)
        y = self.origin[1] - self.cell * (v + dy)
        return x, y

    def ring(self, u0: float, v0: float, u1: float, v1: float, steps: int) -> Polygon:
        """The image of the lattice rectangle [u0,u1] x [v0,v1], each side cut in `steps`."""
        t = np.arange(steps) / steps
        us = np.concatenate(
            [u0 + (u1 - u0) * t, np.full(steps, u1), u1 - (u1 - u0) * t, np.full(steps, u0)]
        )
        vs = np.concatenate(
            [np.full(steps, v0), v0 + (v1 - v0) * t, np.full(steps, v1), v1 - (v1 - v0) * t]
        )
        x, y = self.xy(us, vs)
        return shapely.orient_polygons(Polygon(np.column_stack([x, y])))

    def line(self, u0: float, v0: float, u1: float, v1: float, steps: int) -> LineString:
        t = np.linspace(0.0, 1.0, steps + 1)
        x, y = self.xy(u0 + (u1 - u0) * t, v0 + (v1 - v0) * t)
        return LineString(np.column_stack([x, y]))


def _blocks() -> dict[tuple[int, int], str]:
    """(column, row) → sector label, from SECTOR_MAP."""
    blocks = {}
    for row, line in enumerate(SECTOR_MAP):
        for col, label in enumerate(line.split()):
            if label != ".":
                blocks[(col, row)] = label
    return blocks


def _lattice(cell: float, seed: int) -> Lattice:
    rng = np.random.default_rng(seed)
    to_metric = _transformer(SRID, METRIC_SRID)
    tower_x, tower_y = to_metric.transform(*DRUM_TOWER)
    cols, rows = len(SECTOR_MAP[0].split()), len(SECTOR_MAP)
    # the missing south-east corner of the lattice is the old town around the Drum Tower
    origin = (tower_x - cell * (cols - 0.5), tower_y + cell * (rows - 0.5))
    return Lattice(origin=origin, cell=cell, phases=tuple(rng.uniform(0, 2 * np.pi, 4)))


def _scaled_lattice(seed: int) -> Lattice:
    """The lattice whose blocks add up to exactly TARGET_AREA_M2."""
    blocks = _blocks()
    cell = 800.0
    for _ in range(6):  # area ~ cell²; converges to float precision in a few steps
        lat = _lattice(cell, seed)
        area = sum(lat.ring(c, r, c + 1, r + 1, SUBDIVISIONS).area for c, r in blocks)
        cell *= (TARGET_AREA_M2 / area) ** 0.5
    return _lattice(cell, seed)


def reading_order(points: list[Point], north_edge: float) -> list[int]:
    """Indices of `points` (metric) in numbering order: rows of ROW_BAND_M from the north
    edge, north→south, and west→east within a row."""
    keys = [(int((north_edge - p.y) // ROW_BAND_M), p.x) for p in points]
    return sorted(range(len(points)), key=lambda i: keys[i])


@dataclass
class Feature:
    geom: Polygon | MultiPolygon | LineString | Point  # metric until written
    props: dict


def _unit(geom, code: str, level: Level, parent: str | None, seq: int, zh: str, en: str):
    return Feature(
        geom,
        {
            "code": code,
            "level": level.value,
            "parent_code": parent,
            "seq": seq,
            "name_zh": zh,
            "name_en": en,
        },
    )


def _union(parts) -> MultiPolygon:
    merged = shapely.coverage_union_all(list(parts))
    return merged if isinstance(merged, MultiPolygon) else MultiPolygon([merged])


def build(seed: int | None = None) -> dict[str, list[Feature]]:
    """All layers in EPSG:4542: district, communities, grids, sectors, courtyards, streets,
    landmarks. Codes and names are assigned here."""
    s = get_settings()
    seed = s.seed if seed is None else seed
    prefix = s.street_prefix
    lat = _scaled_lattice(seed)
    blocks = _blocks()
    block_geom = {cr: lat.ring(cr[0], cr[1], cr[0] + 1, cr[1] + 1, SUBDIVISIONS) for cr in blocks}
    sector_geom = {
        label: _union(g for cr, g in block_geom.items() if blocks[cr] == label)
        for label in sorted(set(blocks.values()))
    }
    grid_geom = {g: _union(sector_geom[x] for x in sectors) for g, sectors in GRID2_SECTORS.items()}
    community_geom = {
        c: _union(grid_geom[g] for g in GRID2_SECTORS if g[0] == c) for c in COMMUNITIES
    }
    district_geom = _union(community_geom.values())
    north = district_geom.bounds[3]
    layers = _coded_units(prefix, north, (district_geom, community_geom, grid_geom, sector_geom))
    sector_code = layers.pop("sector_codes")
    layers["courtyards"] = _courtyards(lat, blocks, sector_code, prefix, north, seed)
    layers["streets"] = _streets(lat, district_geom)
    layers["landmarks"] = _landmarks(lat, blocks)
    return layers


def _coded_units(prefix: str, north: float, geoms: tuple) -> dict:
    """The district, communities, grids and sectors with their codes and names, numbered
    in reading order (west→east, north→south); "sector_codes": each sector label's code."""
    district_geom, community_geom, grid_geom, sector_geom = geoms

    def ordered(labels: list[str], geoms: dict) -> list[str]:
        reps = [geoms[lbl].centroid for lbl in labels]
        return [labels[i] for i in reading_order(reps, north)]

    layers: dict = {k: [] for k in ("district", "communities", "grids", "sectors")}
    layers["district"].append(_unit(district_geom, prefix, Level.DISTRICT, None, 1, *DISTRICT_NAME))
    sector_code: dict[str, str] = {}
    for c_seq, c in enumerate(ordered(list(COMMUNITIES), community_geom), start=1):
        c_code = f"{prefix}{c_seq:03d}"
        zh, en, short_zh, short_en = COMMUNITIES[c]
        layers["communities"].append(
            _unit(community_geom[c], c_code, Level.COMMUNITY, prefix, c_seq, zh, en)
        )
        grids = ordered([g for g in GRID2_SECTORS if g[0] == c], grid_geom)
        for g_seq, g in enumerate(grids, start=1):
            g_code = f"{c_code}{g_seq:02d}"
            layers["grids"].append(
                _unit(
                    grid_geom[g], g_code, Level.GRID2, c_code, g_seq,
                    f"{short_zh}第{g_seq}网格", f"{short_en} Grid {g_seq}",
                )
            )  # fmt: skip
            for s_seq, sec in enumerate(ordered(GRID2_SECTORS[g], sector_geom), start=1):
                sector_code[sec] = f"{g_code}{s_seq:02d}"
                layers["sectors"].append(
                    _unit(
                        sector_geom[sec], sector_code[sec], Level.SECTOR, g_code, s_seq,
                        f"{short_zh}{g_seq}-{s_seq}片区", f"{short_en} Sector {g_seq}-{s_seq}",
                    )
                )  # fmt: skip
    layers["sector_codes"] = sector_code
    return layers


def _courtyards(lat, blocks, sector_code, prefix, north, seed) -> list[Feature]:
    """60 courtyards in 1/3-block slots; denser towards the old town (south-east)."""
    rng = np.random.default_rng(seed + 1)
    slots, weights = [], []
    cols, rows = len(SECTOR_MAP[0].split()), len(SECTOR_MAP)
    for c, r in sorted(blocks):
        # distance in blocks from the old town corner
        d = np.hypot(cols - 0.5 - c, rows - 0.5 - r)
        for i in range(3):
            for j in range(3):
                slots.append((c, r, i, j))
                weights.append(np.exp(-d / 3.0))
    weights = np.array(weights) / np.sum(weights)
    total = sum(facts.COURTYARDS.values())
    chosen = rng.choice(len(slots), size=total, replace=False, p=weights)
    kinds = [k for k, n in facts.COURTYARDS.items() for _ in range(n)]
    kinds = [kinds[i] for i in rng.permutation(total)]
    geoms = []
    for slot_index, kind in zip(chosen, kinds, strict=True):
        c, r, i, j = slots[slot_index]
        inset = _INSET[kind]
        u0, v0 = c + i / 3 + inset, r + j / 3 + inset
        geoms.append(lat.ring(u0, v0, u0 + 1 / 3 - 2 * inset, v0 + 1 / 3 - 2 * inset, 2))
    order = reading_order([g.centroid for g in geoms], north)
    names = {
        CourtyardKind.MANAGED: [
            (p[0] + s[0], f"{p[1]} {s[1]}") for s in _MANAGED_SUFFIX for p in _MANAGED_PREFIX
        ],
        CourtyardKind.SCATTERED: [
            (n[0] + "家属院", f"{n[1]} Residential Compound") for n in _SCATTERED
        ],
        CourtyardKind.RENTAL: [(n[0] + "出租院", f"{n[1]} Rental Yard") for n in _RENTAL],
    }
    used = {k: 0 for k in names}
    features = []
    for seq, idx in enumerate(order, start=1):
        kind = kinds[idx]
        zh, en = names[kind][used[kind]]
        used[kind] += 1
        c, r, _, _ = slots[chosen[idx]]
        features.append(
            Feature(
                MultiPolygon([geoms[idx]]),
                {
                    "code": f"{prefix}Y{seq:03d}",
                    "kind": kind.value,
                    "name_zh": zh,
                    "name_en": en,
                    "sector_code": sector_code[blocks[(c, r)]],
                },
            )
        )
    return features


def _streets(lat: Lattice, district) -> list[Feature]:
    cols, rows = len(SECTOR_MAP[0].split()), len(SECTOR_MAP)
    features = []
    for u, zh, en, arterial in NS_STREETS:
        line = lat.line(u, 0, u, rows, rows * SUBDIVISIONS)
        features.append((line, zh, en, arterial))
    for v, zh, en, arterial in EW_STREETS:
        line = lat.line(0, v, cols, v, cols * SUBDIVISIONS)
        features.append((line, zh, en, arterial))
    out = []
    for line, zh, en, arterial in features:
        inside = line.intersection(district)
        if not inside.is_empty:
            out.append(Feature(inside, {"name_zh": zh, "name_en": en, "arterial": arterial}))
    return out


def _landmarks(lat: Lattice, blocks) -> list[Feature]:
    """Places activity gathers around: the market, schools, offices. (zh, en, kind, u, v)."""
    places = [
        ("互联网商贸城", "Internet Trade City (market)", "market", 6.0, 2.0),
        ("西北街农贸市场", "Xibeijie Farmers' Market", "market", 3.0, 4.0),
        ("西北街小学", "Xibeijie Primary School", "school", 2.5, 3.5),
        ("金河中学", "Jinhe Middle School", "school", 7.5, 3.4),
        ("官北沟幼儿园", "Guanbeigou Kindergarten", "school", 2.4, 1.6),
        ("西北街街道办事处", "Xibeijie Sub-district Office", "office", 4.3, 3.2),
        ("官北沟社区服务中心", "Guanbeigou Community Centre", "office", 2.2, 1.3),
        ("阳关路社区服务中心", "Yangguanlu Community Centre", "office", 2.6, 3.7),
        ("金河社区服务中心", "Jinhe Community Centre", "office", 6.7, 2.6),
        ("西北街医院", "Xibeijie Hospital", "hospital", 5.4, 3.6),
        ("金河路建筑工地", "Jinhe Road building site", "site", 7.5, 1.5),
    ]
    out = []
    for zh, en, kind, u, v in places:
        assert (int(u), int(v)) in blocks, zh
        x, y = lat.xy(np.array(u), np.array(v))
        out.append(Feature(Point(float(x), float(y)), {"name_zh": zh, "name_en": en, "kind": kind}))
    return out


@lru_cache
def _transformer(source: int, target: int) -> Transformer:
    return Transformer.from_crs(source, target, always_xy=True)


def _to_wgs84(geom):
    to_wgs = _transformer(METRIC_SRID, SRID)
    # shared vertices transform and round identically, so coverages stay clean
    return shapely.transform(
        geom, lambda xy: np.round(np.column_stack(to_wgs.transform(xy[:, 0], xy[:, 1])), DECIMALS)
    )


def _rfc7946(geom):
    """WGS 84 with counter-clockwise exterior rings (clockwise holes), as RFC 7946 says:
    GEOS's unions hand back clockwise shells."""
    return shapely.orient_polygons(_to_wgs84(geom), exterior_cw=False)


LAYER_FILES = {
    "district": "district.geojson",
    "communities": "communities.geojson",
    "grids": "grids.geojson",
    "sectors": "sectors.geojson",
    "courtyards": "courtyards.geojson",
    "streets": "streets.geojson",
    "landmarks": "landmarks.geojson",
}


def write_dataset(directory: Path = BOUNDARY_DIR, seed: int | None = None) -> list[Path]:
    """Generate every layer and write it as RFC 7946 GeoJSON (WGS 84); returns the paths."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for layer, features in build(seed).items():
        collection = {
            "type": "FeatureCollection",
            "name": layer,
            "features": [
                {"type": "Feature", "properties": f.props, "geometry": mapping(_rfc7946(f.geom))}
                for f in features
            ],
        }
        path = directory / LAYER_FILES[layer]
        path.write_text(json.dumps(collection, ensure_ascii=False, separators=(",", ":")) + "\n")
        written.append(path)
    return written

"""Balancing proposals: reassign courtyards (with the land around them) among a community's
grid sectors so that households per grid worker come as close as they can to the target
(default 300, ±10 %), while every sector and level-2 grid stays contiguous and compact.

The method, a deterministic local search (documented because it is simple on purpose):
1. Cut each sector into blocks: the Voronoi cells of its courtyards and of filler points
   every ~250 m, clipped to the sector, each courtyard whole in its own cell. A block
   holds the households lying in it.
2. Cost of a sector, per worker: how far households per worker lie beyond the band
   (weighted 100×) plus how far from the target; a sector without a worker counts its
   households as overload (their cases fall back to the level-2 grid).
3. Repeatedly make the single best move that lowers the total cost: a block with
   households, with the chain of blocks linking it to a neighbouring sector, goes to
   that sector — provided the giving sector and its level-2 grid stay in one piece and
   both sectors keep at least 60 % of their compactness (Polsby–Popper 4πA/P²). Stop
   when no move helps.
Workers stay with their sectors; only territory moves. When the community as a whole has
more or fewer households per worker than the band allows, no assignment can reach the
target everywhere: the proposal says so and names the number of workers that would.

GerryChain's recombination was considered: it samples plans with equal populations per
part, while here each sector's target scales with its workers (0 to 5 in the seed), and a
planner wants one reviewable proposal rather than a chain of samples.

    >>> report = rebalance(conn, "620902003003", actor, reason=None, apply=False)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np
import pandas as pd
import shapely
from sqlalchemy import text
from sqlalchemy.engine import Connection

from geo.core.errors import NotFound
from geo.core.settings import get_settings
from geo.core.terms import within_band
from geo.planning.commit import Edit, commit
from geo.planning.geometry import as_multi, to_metric, to_wgs84
from geo.planning.layer import LAYER, Plan, State, load_state

FILLER_SPACING_M = 250.0
MIN_COMPACTNESS_SHARE = 0.6
MAX_MOVES = 200
#: blocks touching along less than this are not neighbours (a corner is not a link)
MIN_SHARED_BORDER_M = 20.0


@dataclass
class Proposal:
    community: str
    geoms: dict[str, shapely.Geometry]  # sector code → new geometry (WGS 84), changed only
    notes: dict = field(default_factory=dict)


def _blocks(sector, sector_m, yards: np.ndarray) -> list:
    """Blocks (WGS 84) of one sector: a cell per courtyard (holding it whole) and filler
    cells. Cells are drawn in metres and clipped to the sector in WGS 84, so the sector's
    own borders keep their vertices."""
    yards_m = to_metric(yards)
    minx, miny, maxx, maxy = sector_m.bounds
    xs = np.arange(minx + FILLER_SPACING_M / 2, maxx, FILLER_SPACING_M)
    ys = np.arange(miny + FILLER_SPACING_M / 2, maxy, FILLER_SPACING_M)
    grid = shapely.points(*[a.ravel() for a in np.meshgrid(xs, ys)])
    grid = grid[shapely.contains(sector_m, grid)]
    if len(yards_m):
        far = shapely.distance(grid[:, None], yards_m[None, :]).min(axis=1) > FILLER_SPACING_M / 2
        grid = grid[far]
    seeds = np.concatenate([shapely.point_on_surface(yards_m), grid])
    if len(seeds) < 2:
        return [sector]
    cells = shapely.get_parts(
        shapely.voronoi_polygons(shapely.multipoints(seeds), extend_to=sector_m.buffer(100))
    )
    cells = shapely.intersection(to_wgs84(cells), sector)
    if len(yards):
        cells = shapely.difference(cells, shapely.union_all(yards))
    blocks = [c for c in cells if not c.is_empty]
    for yard in yards:  # each courtyard joins the cell it borders most
        shares = shapely.area(shapely.intersection(shapely.buffer(yard, 1e-5), blocks))
        i = int(np.argmax(shares))
        blocks[i] = shapely.union(blocks[i], yard)
    return [b for b in blocks if shapely.area(to_metric(b)) > 1.0]


def _compactness(geom) -> float:
    return float(4 * np.pi * geom.area / geom.length**2) if geom.length else 0.0


def _cost(households: float, workers: int, target: float, band: float) -> float:
    """Load imbalance of one sector: distance beyond the band weighs 100 times more than
    distance from the target inside it; a sector without a worker is all overload."""
    if workers == 0:
        return 100.0 * (2.0 * households) ** 2
    per_worker = households / workers
    excess = max(0.0, abs(per_worker - target) - band * target)
    return workers * (100.0 * excess**2 + (per_worker - target) ** 2)


def _paths(start: int, src: int, assign: np.ndarray, adjacency: dict[int, set[int]]) -> dict:
    """For each sector bordering `src`'s blocks: the shortest chain of `src` blocks from
    `start` to a block touching it (the courtyard and the land between)."""
    previous = {start: None}
    queue, found = [start], {}
    while queue:
        nxt = []
        for b in queue:
            for n in adjacency[b]:
                owner = int(assign[n])
                if owner != src:
                    if owner not in found:
                        path, at = [], b
                        while at is not None:
                            path.append(at)
                            at = previous[at]
                        found[owner] = path
                elif n not in previous:
                    previous[n] = b
                    nxt.append(n)
        queue = nxt
    return found


def _connected(members: list[int], adjacency: dict[int, set[int]]) -> bool:
    if len(members) <= 1:
        return True
    left = set(members)
    stack = [members[0]]
    left.discard(members[0])
    while stack:
        for n in adjacency[stack.pop()] & left:
            left.discard(n)
            stack.append(n)
    return not left


@dataclass(frozen=True)
class Blocks:
    """A community cut into blocks (a courtyard with the land around it, or filler land):
    WGS 84 and metric shapes, the sector each lies in, households, courtyards, neighbours."""

    geoms: np.ndarray
    metric: np.ndarray
    owner: np.ndarray
    households: np.ndarray
    yards: dict[int, list[str]]
    adjacency: dict[int, set[int]]

    def union(self, members) -> shapely.Geometry:
        """A sector made of blocks, in metres (slivers between blocks closed)."""
        merged = shapely.union_all(self.metric[members])
        return shapely.buffer(shapely.buffer(merged, 0.05), -0.05)


@dataclass
class Search:
    """The local search's outcome: each block's sector, households per sector before and
    after, the sectors' compactness before, the moves made and the cost before."""

    assign: np.ndarray
    hh: np.ndarray
    hh_before: np.ndarray
    compactness: np.ndarray
    moves: list[dict]
    cost_before: float


def _cut_blocks(conn: Connection, state: State, sectors, codes: list[str]) -> Blocks:
    """Cut the community's sectors into blocks and count the households in each."""
    homes = pd.read_sql(
        text("SELECT ST_X(geom) AS x, ST_Y(geom) AS y FROM households WHERE sector_code = ANY(:c)"),
        conn,
        params={"c": codes},
    )
    sector_geoms = np.asarray(sectors.geometry.values, dtype=object)
    sectors_m = to_metric(sector_geoms)
    yards = state.courtyards
    yard_geoms = np.asarray(yards.geometry.values, dtype=object)
    yard_sector = shapely.STRtree(sector_geoms).query(
        shapely.point_on_surface(yard_geoms), predicate="within"
    )
    blocks, owner = [], []
    for s, sector in enumerate(sector_geoms):
        mine = yard_geoms[yard_sector[0][yard_sector[1] == s]]
        for b in _blocks(sector, sectors_m[s], mine):
            blocks.append(b)
            owner.append(s)
    blocks, owner = np.asarray(blocks, dtype=object), np.asarray(owner)
    tree = shapely.STRtree(blocks)
    hit = tree.query(shapely.points(homes["x"].to_numpy(), homes["y"].to_numpy()), "intersects")
    first = pd.Series(hit[1]).groupby(hit[0]).min()  # one block per household
    households = np.bincount(first.to_numpy(), minlength=len(blocks)).astype(float)
    yard_block = tree.query(shapely.point_on_surface(yard_geoms), "within")
    block_yards: dict[int, list[str]] = {}
    for y, b in zip(yard_block[0], yard_block[1], strict=True):
        block_yards.setdefault(int(b), []).append(yards.index[y])
    blocks_m = to_metric(blocks)
    return Blocks(blocks, blocks_m, owner, households, block_yards, _adjacency(blocks_m))


def _adjacency(blocks_m: np.ndarray) -> dict[int, set[int]]:
    """Blocks sharing more than `MIN_SHARED_BORDER_M` of border are neighbours."""
    a, b = shapely.STRtree(blocks_m).query(shapely.buffer(blocks_m, 0.5), predicate="intersects")
    keep = a != b
    shared = shapely.length(
        shapely.intersection(
            shapely.boundary(blocks_m[a[keep]]), shapely.buffer(blocks_m[b[keep]], 0.5)
        )
    )
    adjacency: dict[int, set[int]] = {i: set() for i in range(len(blocks_m))}
    for i, j, length in zip(a[keep], b[keep], shared, strict=True):
        if length > MIN_SHARED_BORDER_M:
            adjacency[int(i)].add(int(j))
            adjacency[int(j)].add(int(i))
    return adjacency


def _candidates(blocks: Blocks, assign, hh, w, target: float, band: float) -> list[tuple]:
    """Every move of a chain of blocks to a neighbouring sector that lowers the cost."""
    candidates = []
    for blk in np.flatnonzero(blocks.households > 0):
        src = int(assign[blk])
        for dst, path in _paths(int(blk), src, assign, blocks.adjacency).items():
            moved = float(blocks.households[path].sum())
            delta = (
                _cost(hh[src] - moved, w[src], target, band)
                + _cost(hh[dst] + moved, w[dst], target, band)
                - _cost(hh[src], w[src], target, band)
                - _cost(hh[dst], w[dst], target, band)
            )
            if delta < -1e-6:
                candidates.append((delta, len(path), int(blk), dst, path))
    return candidates


def _acceptable(blocks: Blocks, assign, grid_of, pp0, path: list[int], dst: int) -> bool:
    """Whether moving `path` to `dst` keeps both sectors (and grids) in one piece and
    compact enough."""
    adjacency = blocks.adjacency
    src = int(assign[path[0]])
    rest = [int(i) for i in np.flatnonzero(assign == src) if i not in path]
    if not rest or not _connected(rest, adjacency):
        return False
    if grid_of[src] != grid_of[dst]:
        grid_rest = [
            int(i) for i in np.flatnonzero(grid_of[assign] == grid_of[src]) if i not in path
        ]
        if not _connected(grid_rest, adjacency):
            return False
    gained = blocks.union(np.flatnonzero(assign == dst).tolist() + path)
    if _compactness(blocks.union(rest)) < MIN_COMPACTNESS_SHARE * pp0[src]:
        return False
    return _compactness(gained) >= MIN_COMPACTNESS_SHARE * pp0[dst]


def _search(blocks: Blocks, codes: list[str], w, grid_of, target: float, band: float) -> Search:
    """Greedy local search: move the best acceptable chain of blocks, up to `MAX_MOVES`."""
    n = len(codes)
    assign = blocks.owner.copy()
    pp0 = np.array(
        [_compactness(blocks.union(np.flatnonzero(assign == s).tolist())) for s in range(n)]
    )
    hh = np.bincount(assign, weights=blocks.households, minlength=n)
    found = Search(assign, hh, hh.copy(), pp0, [], _total_cost(hh, w, target, band))
    for _ in range(MAX_MOVES):
        candidates = _candidates(blocks, assign, hh, w, target, band)
        chosen = next(
            (
                (path, dst)
                for _delta, _size, _blk, dst, path in sorted(candidates, key=lambda c: c[:4])
                if _acceptable(blocks, assign, grid_of, pp0, path, dst)
            ),
            None,
        )
        if chosen is None:
            break
        path, dst = chosen
        src = int(assign[path[0]])
        moved = float(blocks.households[path].sum())
        assign[path] = dst
        hh[src] -= moved
        hh[dst] += moved
        found.moves.append(
            {
                "courtyards": sorted(y for b in path for y in blocks.yards.get(b, [])),
                "households": int(moved),
                "blocks": len(path),
                "from": codes[src],
                "to": codes[dst],
            }
        )
    return found


def _total_cost(hh, w, target: float, band: float) -> float:
    return sum(_cost(hh[s], w[s], target, band) for s in range(len(hh)))


def _per_worker(households, workers) -> float | None:
    return round(float(households) / int(workers), 1) if workers else None


def _sector_rows(blocks: Blocks, found: Search, codes, sectors, w, target, band) -> list[dict]:
    """Each sector's load and compactness before and after the moves."""
    rows = []
    for s, code in enumerate(codes):
        before = _per_worker(found.hh_before[s], w[s])
        after = _per_worker(found.hh[s], w[s])
        after_geom = blocks.union(np.flatnonzero(found.assign == s).tolist())
        rows.append(
            {
                "code": code,
                "name_zh": sectors.at[code, "name_zh"],
                "workers": int(w[s]),
                "households_before": int(found.hh_before[s]),
                "households_after": int(found.hh[s]),
                "households_per_worker_before": before,
                "households_per_worker_after": after,
                "within_band_before": within_band(before, target, band),
                "within_band_after": within_band(after, target, band),
                "compactness_before": round(float(found.compactness[s]), 3),
                "compactness_after": round(_compactness(after_geom), 3),
            }
        )
    return rows


def _explanation(mean: float | None, achievable: bool, total_h: float, total_w: int) -> str:
    settings = get_settings()
    target, band = settings.households_per_worker_target, settings.rebalance_band
    if not mean:
        return "no grid worker serves this community"
    return (
        f"the community as a whole has {mean:.0f} households per worker, "
        + ("within" if achievable else "outside")
        + f" the band {target * (1 - band):.0f}–{target * (1 + band):.0f}; "
        + (
            "moves bring sectors towards it"
            if achievable
            else f"no assignment reaches it everywhere: {int(round(total_h / target))} "
            f"workers would (it has {total_w}); the proposal evens out the load"
        )
    )


def _describe(community: str, blocks: Blocks, found: Search, rows: list[dict], w) -> dict:
    """The proposal's notes: the community's load, what the moves achieve, and why."""
    settings = get_settings()
    target, band = settings.households_per_worker_target, settings.rebalance_band
    total_h, total_w = float(found.hh.sum()), int(w.sum())
    mean = total_h / total_w if total_w else None
    achievable = mean is not None and bool(within_band(mean, target, band))
    return {
        "community": community,
        "target": target,
        "band": band,
        "households": int(total_h),
        "workers": total_w,
        "community_households_per_worker": round(mean, 1) if mean else None,
        "achievable": achievable,
        "workers_needed_for_target": int(round(total_h / target)),
        "sectors_within_band_before": sum(bool(r["within_band_before"]) for r in rows),
        "sectors_within_band_after": sum(bool(r["within_band_after"]) for r in rows),
        "cost_before": round(found.cost_before, 1),
        "cost_after": round(_total_cost(found.hh, w, target, band), 1),
        "blocks": len(blocks.geoms),
        "courtyard_moves": found.moves,
        "sectors": rows,
        "explanation": _explanation(mean, achievable, total_h, total_w),
    }


def propose(conn: Connection, state: State, community: str) -> Proposal:
    """The rebalancing proposal for `community` on the state in force (no writes)."""
    if community not in state.communities.index:
        raise NotFound(f"no community {community}; GET /api/boundaries?level=community")
    settings = get_settings()
    target, band = settings.households_per_worker_target, settings.rebalance_band
    grids = state.grid2s.index[state.grid2s["community"] == community]
    sectors = state.sectors[state.sectors["grid2"].isin(grids)]
    codes = list(sectors.index)
    workers = dict(
        conn.execute(
            text(
                "SELECT serves_code, count(*) FROM resources WHERE kind = 'grid_worker' "
                "AND retired_at IS NULL AND serves_code = ANY(:codes) GROUP BY serves_code"
            ),
            {"codes": codes},
        ).all()
    )
    blocks = _cut_blocks(conn, state, sectors, codes)
    w = np.array([workers.get(c, 0) for c in codes])
    grid_of = np.array([list(grids).index(g) for g in sectors["grid2"]])
    found = _search(blocks, codes, w, grid_of, target, band)
    changed = {m["from"] for m in found.moves} | {m["to"] for m in found.moves}
    new_geoms = {
        code: as_multi(shapely.union_all(blocks.geoms[np.flatnonzero(found.assign == s)]))
        for s, code in enumerate(codes)
        if code in changed
    }
    rows = _sector_rows(blocks, found, codes, sectors, w, target, band)
    notes = _describe(community, blocks, found, rows, w)
    return Proposal(community, new_geoms, {"proposal": notes})


def rebalance(
    conn: Connection,
    community: str,
    actor: str,
    reason: str | None = None,
    apply: bool = False,
    expect: list[str] | None = None,
) -> dict:
    """The proposal for `community` as a preview (what moves, households per worker before
    and after, the map), or, with `apply` (a reason and the layer ETag in `expect`),
    committed as one boundary change."""
    state = load_state(conn, datetime.now(UTC))
    first = propose(conn, state, community)
    if not first.geoms:
        return {
            "change": None,
            "kind": "rebalance",
            "dry_run": not apply,
            "valid": True,
            "problems": [],
            "units": [],
            "moves": {},
            "map": {
                "before": {"type": "FeatureCollection", "features": []},
                "after": {"type": "FeatureCollection", "features": []},
            },
            "layer_etag": state.layer_etag(),
            **first.notes,
        }

    def build(locked: State) -> Plan:
        proposal = propose(conn, locked, community)
        plan = Plan.from_state(locked, "rebalance")
        for code, geom in proposal.geoms.items():
            geoms = plan.sectors.geometry.values.copy()
            geoms[plan.sectors.index.get_loc(code)] = geom
            plan.sectors = plan.sectors.set_geometry(
                plan.sectors.geometry.__class__(geoms, index=plan.sectors.index, crs=4326)
            )
        plan.strict = False
        plan.favour = set()
        plan.notes = proposal.notes
        return plan

    reason = reason or ("" if apply else "rebalancing proposal (preview)")
    targets = [LAYER] if apply else []
    return commit(
        conn,
        Edit("rebalance", reason, actor, build, targets, expect if apply else None, not apply),
    )

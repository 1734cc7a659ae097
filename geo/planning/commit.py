"""Commit a boundary change: lock, check the caller's ETags, build the plan on the current
state, resolve and validate it, then in one transaction write the versions, move workers
off retired units, re-attach the changed area, re-dispatch the open incidents that moved,
and report. A dry run does all of it inside a savepoint and rolls it back, so the preview
is exactly what applying would do.

    >>> report = commit(conn, Edit("move_border", reason, actor, build, [code], etags))
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import shapely
from sqlalchemy import text
from sqlalchemy.engine import Connection

from geo.cases.dispatch import redispatch_moved, snapshot_teams
from geo.core.errors import InvalidInput, NotFound, PreconditionFailed
from geo.core.settings import get_settings
from geo.core.terms import CLOSED_STATUSES, within_band
from geo.grid.attach import POINT_TABLES, attach_courtyards, without_jit
from geo.planning.balance import compactness
from geo.planning.checks import check_layer, derived
from geo.planning.codes import DIGITS, resolve_codes, seq_of
from geo.planning.geometry import area_m2, as_multi, collection, feature, hex_ewkb, same_shape
from geo.planning.layer import (
    IN_SUBDISTRICT,
    LAYER,
    Plan,
    State,
    current_layer_etag,
    load_state,
    lock_boundaries,
    unit_etag,
)
from geo.planning.reattach import MOVES_TABLE, changed_area, reattach
from geo.planning.tiling import Problem, resolve

#: the district is derived too: its outline is the frame edits must cover, but a border
#: meeting it at a new point adds that vertex to it, so it stays the exact union
LEVELS = ("district", "community", "grid2", "sector")


#: how messages name each kind of change
KIND_LABELS = {
    "move_border": "the border move",
    "reassign": "the reassignment",
    "split": "the split",
    "merge": "the merge",
    "rollback": "the rollback",
    "rollback_layer": "the layer rollback",
    "rebalance": "the rebalancing",
    "import_sector": "the sector import",
    "import_grid2": "the level-2 grid import",
    "import_community": "the community import",
    "import_courtyard": "the courtyard import",
}


@dataclass
class Edit:
    """A boundary change to commit. `build` makes the plan from the state in force;
    `targets` are the unit codes (or `LAYER`) whose ETags the caller must send in
    `expect` (None: no precondition, for the command line)."""

    kind: str
    reason: str
    actor: str
    build: Callable[[State], Plan]
    targets: list[str] = field(default_factory=list)
    expect: list[str] | None = None
    dry_run: bool = False


@dataclass
class UnitChange:
    code: str
    level: str
    action: str  # created, reopened, changed, renamed, noded, retired
    parent: str | None = None
    name_zh: str | None = None
    name_en: str | None = None
    geom: shapely.Geometry | None = None
    successor: str | None = None


def require_reason(reason: str | None) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput(
            "every boundary change needs a reason (field `reason`): say why, "
            "e.g. 新建小区划入 / a new courtyard joins the sector"
        )
    return reason


def current_info(state: State, code: str) -> dict:
    row = state.latest.loc[code]
    return {
        "code": code,
        "version": int(row["version"]),
        "etag": unit_etag(code, int(row["version"])),
        "current": bool(row["current"]),
        "successor": row["successor_code"],
    }


def check_preconditions(state: State, targets: list[str], expect: list[str] | None) -> None:
    """412 unless every target's current ETag is among `expect`; 404 for unknown codes."""
    if expect is None:
        return
    stale = []
    for code in targets:
        if code == LAYER:
            if state.layer_etag() not in expect:
                stale.append({"code": LAYER, "etag": state.layer_etag()})
            continue
        if code not in state.latest.index:
            raise NotFound(f"no unit with code {code}; GET /api/boundaries lists them")
        info = current_info(state, code)
        if info["etag"] not in expect:
            stale.append(info)
    if stale:
        names = ", ".join(f"{s['code']} (now {s['etag']})" for s in stale)
        raise PreconditionFailed(
            f"someone changed {names} since you read it; nothing was written. "
            "Reload it, redo the edit on the current version and send its ETag in If-Match",
            current=stale,
        )


def _new_units(
    plan: Plan, geoms: dict, district_code: str, state_names: tuple[str, str]
) -> dict[str, pd.DataFrame]:
    """code → parent, names, geometry for each level, sectors resolved, parents derived."""
    s = plan.sectors
    sectors = pd.DataFrame(
        {
            "parent": [plan.grid2s.at[g, "code"] for g in s["grid2"]],
            "name_zh": s["name_zh"].values,
            "name_en": s["name_en"].values,
            "geom": [geoms[k] for k in s.index],
        },
        index=pd.Index(s["code"].values, name="code"),
    )
    grid_geoms = derived(s["grid2"], geoms)
    g = plan.grid2s.loc[sorted(grid_geoms)]
    grids = pd.DataFrame(
        {
            "parent": [plan.communities.at[c, "code"] for c in g["community"]],
            "name_zh": g["name_zh"].values,
            "name_en": g["name_en"].values,
            "geom": [grid_geoms[k] for k in g.index],
        },
        index=pd.Index(g["code"].values, name="code"),
    )
    community_geoms = derived(g["community"], grid_geoms)
    c = plan.communities.loc[sorted(community_geoms)]
    communities = pd.DataFrame(
        {
            "parent": district_code,
            "name_zh": c["name_zh"].values,
            "name_en": c["name_en"].values,
            "geom": [community_geoms[k] for k in c.index],
        },
        index=pd.Index(c["code"].values, name="code"),
    )
    district = pd.DataFrame(
        {
            "parent": [None],
            "name_zh": [state_names[0]],
            "name_en": [state_names[1]],
            "geom": [as_multi(shapely.coverage_union_all(list(community_geoms.values())))],
        },
        index=pd.Index([district_code], name="code"),
    )
    return {"district": district, "community": communities, "grid2": grids, "sector": sectors}


def _current(state: State, level: str) -> pd.DataFrame:
    if level == "district":
        return pd.DataFrame(
            {
                "parent": [None],
                "name_zh": [state.district_names[0]],
                "name_en": [state.district_names[1]],
                "geom": [state.district],
            },
            index=pd.Index([state.district_code], name="code"),
        )
    frame = {"community": state.communities, "grid2": state.grid2s, "sector": state.sectors}[level]
    parent = {"community": None, "grid2": "community", "sector": "grid2"}[level]
    return pd.DataFrame(
        {
            "parent": frame[parent].values if parent else state.district_code,
            "name_zh": frame["name_zh"].values,
            "name_en": frame["name_en"].values,
            "geom": frame.geometry.values,
        },
        index=frame.index,
    )


def _successors(old: pd.DataFrame, new: pd.DataFrame, codes: list[str]) -> dict[str, str]:
    """For each retired code, the new unit covering most of its area."""
    if not codes or new.empty:
        return {}
    new_geoms = np.asarray(new["geom"].values, dtype=object)
    out = {}
    for code in codes:
        shares = shapely.area(shapely.intersection(old.at[code, "geom"], new_geoms))
        out[code] = new.index[int(np.argmax(shares))]
    return out


def _kind_of_change(old: dict, new: dict) -> str:
    """changed (its area moved), renamed, or noded (only vertices added on its border
    where a new border meets it: same area, same outline)."""
    moved = shapely.symmetric_difference(old["geom"], new["geom"])
    if moved.is_empty or area_m2([moved])[0] <= get_settings().coverage_tolerance_m2:
        if old["name_zh"] != new["name_zh"] or old["name_en"] != new["name_en"]:
            return "renamed"
        return "noded" if old["parent"] == new["parent"] else "changed"
    return "changed"


def _diff(state: State, new: dict[str, pd.DataFrame]) -> list[UnitChange]:
    changes = []
    for level in LEVELS:
        old_frame, proposed = _current(state, level), new[level]
        old = old_frame.to_dict("index")
        retired = [c for c in old if c not in proposed.index]
        successor = _successors(old_frame, proposed, retired)
        for code, row in proposed.to_dict("index").items():
            if code in old:
                o = old[code]
                same = (
                    o["name_zh"] == row["name_zh"]
                    and o["name_en"] == row["name_en"]
                    and o["parent"] == row["parent"]
                    and same_shape(o["geom"], row["geom"])
                )
                if same:
                    continue
                action = _kind_of_change(o, row)
            else:
                action = "reopened" if code in state.latest.index else "created"
            changes.append(
                UnitChange(
                    code, level, action, row["parent"], row["name_zh"], row["name_en"], row["geom"]
                )
            )
        changes += [UnitChange(c, level, "retired", successor=successor.get(c)) for c in retired]
    return changes


def _yard_diff(state: State, plan: Plan) -> list[dict]:
    if plan.courtyards is None:
        return []
    old, new = state.courtyards, plan.courtyards.set_index("code")
    out = []
    for code, row in new.iterrows():
        if code in old.index:
            o = old.loc[code]
            if (
                same_shape(o.geometry, row.geometry)
                and o["name_zh"] == row["name_zh"]
                and o["name_en"] == row["name_en"]
                and o["kind"] == row["kind"]
            ):
                continue
            out.append({"code": code, "action": "changed", "row": row})
        else:
            out.append({"code": code, "action": "created", "row": row})
    gone = [c for c in old.index if c not in new.index]
    successor = {}
    if gone and len(new):
        geoms = np.asarray(new.geometry.values, dtype=object)
        for code in gone:
            shares = shapely.area(shapely.intersection(old.at[code, "geometry"], geoms))
            successor[code] = new.index[int(np.argmax(shares))] if shares.max() > 0 else None
    out += [{"code": c, "action": "retired", "successor": successor.get(c)} for c in gone]
    return out


def _counts(conn: Connection, sql: str, subdistrict: str | None) -> dict[str, int]:
    # a sub-district's unit codes are those from its nine digits up to the next code's
    end = None if subdistrict is None else f"{int(subdistrict) + 1:0{len(subdistrict)}d}"
    rows = conn.execute(text(sql), {"sd": subdistrict, "sd_end": end}).all()
    return {k: v for k, v in rows if k is not None}


#: each query counts in the sub-district bound as :sd only (NULL: everywhere); households by
#: the range of its codes, which the code indexes answer alone (index-only)
HOUSEHOLDS_BY = (
    "SELECT {col}, count(*) FROM households WHERE (CAST(:sd AS text) IS NULL "
    "OR ({col} >= :sd AND {col} < :sd_end)) GROUP BY {col}"
)
WORKERS_BY_UNIT = (
    "SELECT serves_code, count(*) FROM resources WHERE kind = 'grid_worker' "
    "AND retired_at IS NULL AND (CAST(:sd AS text) IS NULL OR left(serves_code, 9) = :sd) "
    "GROUP BY serves_code"
)
#: (each unit's workers looked up by `serves_code`: a join of the two tables merged the whole
#: resources index, which under a tenant's row-level security it read to the end, 0.2 s)
WORKERS_BY_GRID = """
    SELECT s.parent_code, CAST(sum(w.n) AS bigint) FROM units s
    CROSS JOIN LATERAL (
        SELECT count(*) AS n FROM resources r WHERE r.serves_code = s.code
          AND r.kind = 'grid_worker' AND r.retired_at IS NULL) w
    WHERE s.valid_to IS NULL AND (CAST(:sd AS text) IS NULL OR s.subdistrict = :sd)
    GROUP BY s.parent_code HAVING sum(w.n) > 0
"""


def _load_snapshot(conn: Connection, subdistrict: str | None) -> dict:
    """Households and workers per sector and level-2 grid (of `subdistrict`, when given:
    a change confined to its layer moves nothing elsewhere)."""
    return {
        "households_sector": _counts(conn, HOUSEHOLDS_BY.format(col="sector_code"), subdistrict),
        "households_grid2": _counts(conn, HOUSEHOLDS_BY.format(col="grid2_code"), subdistrict),
        "workers_sector": _counts(conn, WORKERS_BY_UNIT, subdistrict),
        "workers_grid2": _counts(conn, WORKERS_BY_GRID, subdistrict),
    }


def _load_rows(codes: list[str], before: dict, after: dict, level: str, names: dict) -> list:
    settings = get_settings()
    target, band = settings.households_per_worker_target, settings.rebalance_band

    def per_worker(h, w):
        return round(h / w, 1) if w else None

    def within(value):
        return within_band(value, target, band)

    rows = []
    for code in codes:
        hb, ha = (
            before[f"households_{level}"].get(code, 0),
            after[f"households_{level}"].get(code, 0),
        )
        wb, wa = before[f"workers_{level}"].get(code, 0), after[f"workers_{level}"].get(code, 0)
        b, a = per_worker(hb, wb), per_worker(ha, wa)
        rows.append(
            {
                "code": code,
                "name_zh": names.get(code),
                "households_before": hb,
                "households_after": ha,
                "workers_before": wb,
                "workers_after": wa,
                "households_per_worker_before": b,
                "households_per_worker_after": a,
                "within_band_before": within(b),
                "within_band_after": within(a),
            }
        )
    return rows


def _write_units(conn: Connection, changes: list[UnitChange], at, edit: Edit, change_id: int):
    closing = [c for c in changes if c.action not in ("created", "reopened")]
    if closing:
        conn.execute(
            text(
                "UPDATE units SET valid_to = :at, successor_code = :successor "
                "WHERE code = :code AND valid_to IS NULL"
            ),
            [{"at": at, "code": c.code, "successor": c.successor} for c in closing],
        )
    opening = [c for c in changes if c.action != "retired"]
    if opening:
        conn.execute(
            text(
                """INSERT INTO units (code, level, parent_code, seq, name_zh, name_en, geom,
                       version, valid_from, reason, changed_by, change_id)
                   SELECT :code, :level, :parent, :seq, :name_zh, :name_en,
                       ST_Multi(ST_GeomFromEWKB(decode(:geom, 'hex'))),
                       coalesce(max(version), 0) + 1, :at, :reason, :actor, :change
                   FROM units WHERE code = :code"""
            ),
            [
                {
                    "code": c.code,
                    "level": c.level,
                    "parent": c.parent,
                    "seq": 1 if c.level == "district" else seq_of(c.code, c.level),
                    "name_zh": c.name_zh,
                    "name_en": c.name_en,
                    "geom": hex_ewkb(as_multi(c.geom)),
                    "at": at,
                    "reason": edit.reason,
                    "actor": edit.actor[:80],
                    "change": change_id,
                }
                for c in opening
            ],
        )
    # workers, officers, organisations and grid-worker tokens follow a retired unit's area
    moves = [(c.code, c.successor) for c in changes if c.action == "retired" and c.successor]
    if moves:
        params = [{"old": o, "new": n} for o, n in moves]
        conn.execute(
            text("UPDATE resources SET serves_code = :new WHERE serves_code = :old"), params
        )
        conn.execute(
            text(
                "UPDATE api_tokens SET scope_codes = array_replace(scope_codes, :old, :new) "
                "WHERE :old = ANY(scope_codes)"
            ),
            params,
        )


def _write_courtyards(conn: Connection, changes: list[dict], at, edit: Edit, change_id: int):
    closing = [c for c in changes if c["action"] in ("changed", "retired")]
    if closing:
        conn.execute(
            text(
                "UPDATE courtyards SET valid_to = :at, successor_code = :successor "
                "WHERE code = :code AND valid_to IS NULL"
            ),
            [{"at": at, "code": c["code"], "successor": c.get("successor")} for c in closing],
        )
    opening = [c for c in changes if c["action"] != "retired"]
    if opening:
        conn.execute(
            text(
                """INSERT INTO courtyards (code, name_zh, name_en, kind, property_company_id,
                       geom, version, valid_from, reason, changed_by, change_id)
                   SELECT :code, :name_zh, :name_en, :kind, :company,
                       ST_Multi(ST_GeomFromEWKB(decode(:geom, 'hex'))),
                       coalesce(max(version), 0) + 1, :at, :reason, :actor, :change
                   FROM courtyards WHERE code = :code"""
            ),
            [
                {
                    "code": c["code"],
                    "name_zh": c["row"]["name_zh"],
                    "name_en": c["row"]["name_en"],
                    "kind": c["row"]["kind"],
                    "company": c["row"].get("property_company_id"),
                    "geom": hex_ewkb(as_multi(c["row"].geometry)),
                    "at": at,
                    "reason": edit.reason,
                    "actor": edit.actor[:80],
                    "change": change_id,
                }
                for c in opening
            ],
        )


def _flows(conn: Connection) -> dict[str, list[dict]]:
    rows = conn.execute(
        text(
            f"SELECT kind, from_sector, to_sector, count(*) AS n FROM {MOVES_TABLE} "
            "WHERE from_sector IS DISTINCT FROM to_sector GROUP BY 1, 2, 3 ORDER BY 1, 4 DESC, 2, 3"
        )
    ).all()
    out: dict[str, list[dict]] = {t: [] for t in POINT_TABLES}
    for kind, a, b, n in rows:
        out[kind].append({"from": a, "to": b, "count": n})
    return out


def _courtyard_flows(conn: Connection) -> dict[str, list[dict]]:
    rows = conn.execute(
        text(
            f"SELECT kind, from_courtyard, to_courtyard, count(*) FROM {MOVES_TABLE} "
            "WHERE from_courtyard IS DISTINCT FROM to_courtyard GROUP BY 1, 2, 3 "
            "ORDER BY 1, 4 DESC, 2, 3"
        )
    ).all()
    out: dict[str, list[dict]] = {}
    for kind, a, b, n in rows:
        out.setdefault(kind, []).append({"from": a, "to": b, "count": n})
    return out


def _map(state: State, changes: list[UnitChange], new: dict, codes: set[str]) -> dict:
    """Old and new sectors around the change, as two GeoJSON collections."""
    action = {c.code: c.action for c in changes if c.level == "sector"}
    before = [
        feature(
            state.sectors.at[c, "geometry"],
            {
                "code": c,
                "name_zh": state.sectors.at[c, "name_zh"],
                "action": action.get(c, "unchanged"),
            },
            c,
        )
        for c in sorted(codes)
        if c in state.sectors.index
    ]
    sectors = new["sector"]
    after = [
        feature(
            sectors.at[c, "geom"],
            {"code": c, "name_zh": sectors.at[c, "name_zh"], "action": action.get(c, "unchanged")},
            c,
        )
        for c in sorted(codes)
        if c in sectors.index
    ]
    return {"before": collection(before), "after": collection(after)}


def _proposal_map(state: State, plan: Plan, geoms: dict | None) -> dict:
    """The submitted proposal next to the current sectors, for a refused dry run."""
    touched = set(plan.favour) | {k for k in plan.sectors.index if k not in state.sectors.index}
    touched |= {k for k in state.sectors.index if k not in plan.sectors.index}
    before = [
        feature(state.sectors.at[c, "geometry"], {"code": c}, c)
        for c in sorted(touched)
        if c in state.sectors.index
    ]
    after = [
        feature(plan.sectors.at[k, "geometry"], {"code": plan.label(k)}, plan.label(k))
        for k in sorted(touched)
        if k in plan.sectors.index
    ]
    return {"before": collection(before), "after": collection(after)}


def refuse(edit: Edit, state: State, plan: Plan, problems: list[Problem], geoms=None) -> dict:
    """A dry run reports the problems; a real edit raises them (422, nothing written)."""
    listed = [p.as_dict() for p in problems]
    if not edit.dry_run:
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        what = KIND_LABELS.get(edit.kind, edit.kind)
        raise InvalidInput(
            f"{what} is refused; nothing was written: {problems[0].detail}{more}", problems=listed
        )
    return {
        "change": None,
        "kind": edit.kind,
        "dry_run": True,
        "valid": False,
        "problems": listed,
        "map": _proposal_map(state, plan, geoms),
        **plan.notes,
    }


def commit(conn: Connection, edit: Edit) -> dict:
    """Commit (or, for a dry run, preview) `edit`; returns its report: the units written
    with their new versions and ETags, the points moved per kind and from which sector to
    which, households per worker before and after, incidents re-dispatched, and the map of
    old and new sectors. Raises InvalidInput (with `problems`), PreconditionFailed or
    NotFound; then nothing is written."""
    edit.reason = require_reason(edit.reason)
    settings = get_settings()
    at = lock_boundaries(conn)
    # every statement of an edit is small; JIT compiling the larger ones (the team and load
    # snapshots) took longer than running them (measured in a city: 1.4 s of a 2 s query)
    without_jit(conn)
    state = load_state(conn, at)
    check_preconditions(state, edit.targets, edit.expect)
    plan = edit.build(state)
    if plan.problems:
        return refuse(edit, state, plan, plan.problems)
    keys = list(plan.sectors.index)
    resolution = resolve(
        list(plan.sectors.geometry.values),
        keys,
        state.district,
        plan.favour,
        plan.strict,
        settings.coverage_tolerance_m2,
        homes=[
            plan.frames.get(plan.grid2s.at[g, "community"]) if g in plan.grid2s.index else None
            for g in plan.sectors["grid2"]
        ],
    )
    yards = plan.courtyards.set_index("code") if plan.courtyards is not None else state.courtyards
    problems = resolution.problems + check_layer(plan, resolution.geoms, yards, settings)
    if problems:
        return refuse(edit, state, plan, problems, resolution.geoms)
    resolve_codes(conn, plan, state.district_code)
    new = _new_units(plan, resolution.geoms, state.district_code, state.district_names)
    changes = _diff(state, new)
    yard_changes = _yard_diff(state, plan)
    if not changes and not yard_changes:
        raise InvalidInput("nothing would change: the proposal is the layer in force")
    savepoint = conn.begin_nested()
    try:
        report = _write(conn, state, plan, new, changes, yard_changes, edit, at)
    except Exception:
        savepoint.rollback()
        raise
    if edit.dry_run:
        savepoint.rollback()
        report["change"] = None
        report["layer_etag"] = state.layer_etag()  # what to send in If-Match to apply it
    else:
        savepoint.commit()
    return report


@dataclass(frozen=True)
class Reattached:
    """What re-attaching the points after a change did: the changed area (EPSG:4542, None
    when only codes changed) and the moved counts per point table."""

    area: object
    stats: dict


@dataclass(frozen=True)
class Written:
    """One written change, as the report needs it."""

    change_id: int
    area: object
    moves: dict
    redispatched: int
    before: dict
    after: dict


def _write(conn, state, plan, new, changes, yard_changes, edit, at) -> dict:
    """Write the change (units, courtyards, re-attached points, re-dispatched cases) and
    return its report."""
    # a state working for one sub-district (a city's) changes its layer only: every
    # snapshot and re-attach below is confined to it, so an edit costs the same in a city
    # as in a one-district database
    sd = state.subdistrict
    before = _load_snapshot(conn, sd)
    snapshot_teams(conn, sd)
    yards_before = _courtyard_sectors(conn, sd)
    change_id = _record_change(conn, edit, at)
    _write_units(conn, changes, at, edit, change_id)
    _write_courtyards(conn, yard_changes, at, edit, change_id)
    reattached = _reattach_points(conn, state, plan, new, changes)
    moves = _moves(conn, reattached.stats, yards_before, _courtyard_sectors(conn, sd))
    redispatched = _redispatch(conn, change_id, edit, at, sd)
    after = _load_snapshot(conn, sd)
    written = Written(change_id, reattached.area, moves, redispatched, before, after)
    units = _unit_entries(conn, changes)
    _store_summary(conn, written, units, yard_changes)
    return _report(conn, state, plan, new, changes, yard_changes, edit, at, written, units)


def _courtyard_sectors(conn: Connection, subdistrict: str | None) -> dict[str, str]:
    sql = f"SELECT code, sector_code FROM courtyards WHERE valid_to IS NULL AND {IN_SUBDISTRICT}"
    return dict(conn.execute(text(sql), {"sd": subdistrict}).all())


def _record_change(conn: Connection, edit: Edit, at) -> int:
    return conn.execute(
        text(
            "INSERT INTO boundary_changes (at, actor, kind, reason) "
            "VALUES (:at, :actor, :kind, :reason) RETURNING id"
        ),
        {"at": at, "actor": edit.actor, "kind": edit.kind, "reason": edit.reason},
    ).scalar_one()


def _reattach_points(conn: Connection, state: State, plan: Plan, new, changes) -> Reattached:
    """Incremental re-attach: only the changed area, and pure re-codes by code."""
    old_sectors = dict(zip(state.sectors.index, state.sectors.geometry, strict=True))
    new_sectors = dict(zip(new["sector"].index, new["sector"]["geom"], strict=True))
    recode = {
        c.code: c.successor
        for c in changes
        if c.level == "sector"
        and c.action == "retired"
        and c.successor
        and same_shape(old_sectors[c.code], new_sectors[c.successor])
    }
    old_yards = new_yards = None
    if plan.courtyards is not None:
        old_yards = dict(zip(state.courtyards.index, state.courtyards.geometry, strict=True))
        new_yards = dict(zip(plan.courtyards["code"], plan.courtyards.geometry, strict=True))
    area = changed_area(old_sectors, new_sectors, recode, old_yards, new_yards)
    stats = reattach(conn, area, recode)
    attach_courtyards(conn, state.subdistrict)
    return Reattached(area, stats)


def _redispatch(conn: Connection, change_id: int, edit: Edit, at, subdistrict) -> int:
    why = (
        f"边界调整#{change_id}改派 · re-dispatched by boundary change #{change_id} "
        f"({edit.kind}: {edit.reason})"
    )
    return redispatch_moved(
        conn,
        f"SELECT id, from_sector FROM {MOVES_TABLE} "
        "WHERE kind = 'incidents' AND from_sector IS DISTINCT FROM to_sector",
        at,
        edit.actor,
        why,
        subdistrict,
    )


def _moves(conn: Connection, stats: dict, yards_before: dict, yards_after: dict) -> dict:
    """Per point table (and courtyards): how many moved, and the flows between sectors."""
    flows = _flows(conn)
    moves = {t: {**stats[t], "flows": flows[t]} for t in POINT_TABLES}
    yard_flows = [
        {"code": c, "from": yards_before.get(c), "to": yards_after.get(c)}
        for c in sorted(set(yards_before) | set(yards_after))
        if yards_before.get(c) != yards_after.get(c)
    ]
    moves["courtyards"] = {"moved": len(yard_flows), "flows": yard_flows}
    for kind, yard_moves in _courtyard_flows(conn).items():
        moves[kind]["courtyard_flows"] = yard_moves
    return moves


def _touched_codes(changes, moves: dict) -> tuple[set[str], set[str]]:
    """The sectors and level-2 grids the change altered or moved anything between."""
    sector_codes = {c.code for c in changes if c.level == "sector"}
    for kind in (*POINT_TABLES, "courtyards"):
        for f in moves[kind]["flows"]:
            sector_codes |= {f["from"], f["to"]}
    sector_codes.discard(None)
    grid_codes = {c.code for c in changes if c.level == "grid2"}
    grid_codes |= {code[: -DIGITS["sector"]] for code in sector_codes}
    return sector_codes, grid_codes


def _unit_entries(conn: Connection, changes) -> list[dict]:
    """Each changed unit: action, new version and ETag, successor, area."""
    versions = dict(
        conn.execute(
            text("SELECT code, version FROM units WHERE code = ANY(:c) AND valid_to IS NULL"),
            {"c": [c.code for c in changes]},
        ).all()
    )
    units = []
    for c in changes:
        entry = {"code": c.code, "level": c.level, "action": c.action}
        if c.code in versions:
            entry |= {"version": versions[c.code], "etag": unit_etag(c.code, versions[c.code])}
        if c.successor:
            entry["successor"] = c.successor
        if c.geom is not None:
            entry["area_m2"] = round(float(area_m2([c.geom])[0]), 1)
        units.append(entry)
    return units


def _store_summary(conn: Connection, written: Written, units: list, yard_changes) -> None:
    summary = {
        "units": [{k: v for k, v in u.items() if k != "etag"} for u in units],
        "moved": {k: v["moved"] for k, v in written.moves.items()},
        "flows": {k: v["flows"] for k, v in written.moves.items()},  # the change page lists them
        "redispatched": written.redispatched,
        "courtyards": [{"code": c["code"], "action": c["action"]} for c in yard_changes],
    }
    conn.execute(
        text("UPDATE boundary_changes SET summary = CAST(:s AS jsonb) WHERE id = :id"),
        {"s": pd.Series(summary).to_json(force_ascii=False), "id": written.change_id},
    )


def _open_moved(conn: Connection) -> int:
    """How many open incidents the change moved to another sector."""
    return conn.execute(
        text(
            f"SELECT count(*) FROM {MOVES_TABLE} m JOIN incidents i ON i.id = m.id "
            "WHERE m.kind = 'incidents' AND m.from_sector IS DISTINCT FROM m.to_sector "
            "AND i.status <> ALL(:closed)"
        ),
        {"closed": sorted(CLOSED_STATUSES)},
    ).scalar_one()


def _report(conn, state, plan, new, changes, yard_changes, edit, at, written, units) -> dict:
    """The answer of a written (or dry-run) change."""
    sector_codes, grid_codes = _touched_codes(changes, written.moves)
    names = {
        **dict(zip(state.sectors.index, state.sectors["name_zh"], strict=True)),
        **dict(zip(state.grid2s.index, state.grid2s["name_zh"], strict=True)),
        **{c.code: c.name_zh for c in changes if c.name_zh},
    }
    settings = get_settings()
    area = written.area
    before, after = written.before, written.after
    return {
        "change": {
            "id": written.change_id,
            "kind": edit.kind,
            "reason": edit.reason,
            "actor": edit.actor,
            "at": at.isoformat(),
        },
        "kind": edit.kind,
        "dry_run": edit.dry_run,
        "valid": True,
        "problems": [],
        "units": units,
        "courtyards": [{"code": c["code"], "action": c["action"]} for c in yard_changes],
        "changed_area_m2": round(float(area_m2([area])[0]), 1) if area is not None else 0.0,
        "moves": written.moves,
        "load": {
            "target": settings.households_per_worker_target,
            "band": settings.rebalance_band,
            "sectors": _load_rows(sorted(sector_codes), before, after, "sector", names),
            "grids": _load_rows(sorted(grid_codes), before, after, "grid2", names),
        },
        "open_incidents_moved": _open_moved(conn),
        "redispatched": written.redispatched,
        "layer_etag": current_layer_etag(conn),
        "map": _map(state, changes, new, sector_codes),
        "compactness": compactness(new["sector"], {c.code for c in changes if c.level == "sector"}),
        **plan.notes,
    }

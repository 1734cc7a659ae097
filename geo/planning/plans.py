"""The planner's plans: a named sequence of boundary edits (and worker assignments) not yet
applied, each previewed on top of the plan so far; undo/redo; locks on sectors; rebase on
a layer that moved; applied as ONE boundary change (one transaction, one version step, one
reason) or discarded.

A plan is replayed with the real edit functions inside a savepoint that is rolled back
(`scratch`), so a preview is exactly what the edits do. Applying replays it once more in a
savepoint to read the layer it makes, rolls back, and commits that layer as one change of
kind `plan`, then moves the workers as the plan moved them.

    >>> plan = create_plan(conn, "东片调整", "planner:王规划")
    >>> add_edit(conn, plan["id"], "split", {"code": code, "line": line}, "planner:王规划")
    >>> apply_plan(conn, plan["id"], "新建小区划入", "planner:王规划")
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

import geopandas as gpd
from sqlalchemy import exc as sa_exc
from sqlalchemy import text
from sqlalchemy.engine import Connection

from geo.access.privacy import Exposure
from geo.core.errors import Conflict, GridmapError, InvalidInput, NotFound
from geo.planning import edits, rebalance
from geo.planning.asof import boundaries, parse_as_of
from geo.planning.commit import Edit, commit, require_reason
from geo.planning.geometry import from_geojson
from geo.planning.layer import Plan, State, current_layer_etag, load_state
from geo.planning.tiling import Problem

#: the edit kinds a plan holds: the single-edit routes' kinds, and worker assignment
EDIT_KINDS = (
    "move_border",
    "move_borders",
    "reassign",
    "split",
    "merge",
    "rollback",
    "rollback_layer",
    "rebalance",
    "assign_worker",
)
#: the SQLSTATE the `units` trigger raises for an edit of a sector another plan locked
LOCKED = "GM409"
STATUSES = ("open", "applied", "discarded")


def _geometry(body: dict, key: str):
    value = body.get(key)
    return from_geojson(value, key) if value is not None else None


def _move_borders(conn, body, actor, reason):
    features = body.get("features") or []
    geometries = {
        f["id"]: from_geojson(f.get("geometry"), f"features[{i}].geometry")
        for i, f in enumerate(features)
    }
    return edits.put_sectors(
        conn, geometries, reason, actor, None, body.get("on_conflict", "adjust")
    )


def _rollback_layer(conn, body, actor, reason):
    return edits.rollback_layer(conn, parse_as_of(body.get("as_of")), reason, actor)


#: kind → runner(conn, body, actor, reason): the real edit, with no ETag precondition (the
#: plan's base stands for it)
RUNNERS: dict[str, Callable[..., dict]] = {
    "move_border": lambda conn, b, actor, reason: edits.put_sector(
        conn,
        b.get("code"),
        _geometry(b, "geometry"),
        reason,
        actor,
        None,
        b.get("on_conflict", "adjust"),
        False,
        b.get("name_zh"),
        b.get("name_en"),
    ),
    "move_borders": _move_borders,
    "reassign": lambda conn, b, actor, reason: edits.reassign(
        conn,
        b.get("code"),
        b.get("grid2_code"),
        reason,
        actor,
        None,
        False,
        b.get("name_zh"),
        b.get("name_en"),
    ),
    "split": lambda conn, b, actor, reason: edits.split(
        conn,
        b.get("code"),
        _geometry(b, "line"),
        reason,
        actor,
        None,
        False,
        b.get("name_zh"),
        b.get("name_en"),
    ),
    "merge": lambda conn, b, actor, reason: edits.merge(
        conn, b.get("code"), b.get("other"), reason, actor
    ),
    "rollback": lambda conn, b, actor, reason: edits.rollback_unit(
        conn,
        b.get("code"),
        int(b.get("version") or 0),
        reason,
        actor,
        None,
        b.get("on_conflict", "adjust"),
    ),
    "rollback_layer": _rollback_layer,
    "rebalance": lambda conn, b, actor, reason: rebalance.rebalance(
        conn, b.get("code"), actor, reason, True, None
    ),
    "assign_worker": lambda conn, b, actor, reason: assign_worker(
        conn, b.get("worker"), b.get("sector")
    ),
}


def utcnow() -> datetime:
    return datetime.now(UTC)


@contextmanager
def locks_as_conflict() -> Iterator[None]:
    """The `units` trigger's refusal of a locked sector, as a Conflict naming sector and plan."""
    try:
        yield
    except sa_exc.DBAPIError as exc:
        if not is_lock_refusal(exc):
            raise
        raise Conflict(exc.orig.diag.message_primary) from None


def is_lock_refusal(exc: BaseException) -> bool:
    """Whether `exc` is the `units` trigger refusing a sector another plan locked."""
    orig = getattr(exc, "orig", None)
    return (getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)) == LOCKED


@contextmanager
def scratch(conn: Connection, plan_id: int) -> Iterator[None]:
    """A savepoint working for plan `plan_id` (its own locks let it through), always rolled
    back: nothing done inside is kept."""
    savepoint = conn.begin_nested()
    try:
        work_for(conn, plan_id)
        with locks_as_conflict():
            yield
    finally:
        savepoint.rollback()


def work_for(conn: Connection, plan_id: int | None) -> None:
    """Let this transaction edit the sectors plan `plan_id` locked (None: no plan's)."""
    conn.execute(
        text("SELECT set_config('gridmap.plan', :p, true)"),
        {"p": "" if plan_id is None else str(plan_id)},
    )


def _sector_households_workers(conn: Connection, codes: list[str]) -> dict[str, tuple[int, int]]:
    rows = conn.execute(
        text(
            "SELECT c, (SELECT count(*) FROM households WHERE sector_code = c), "
            "(SELECT count(*) FROM resources WHERE kind = 'grid_worker' AND retired_at IS NULL "
            "AND serves_code = c) FROM unnest(CAST(:codes AS text[])) AS c"
        ),
        {"codes": codes},
    ).all()
    return {c: (h, w) for c, h, w in rows}


def assign_worker(conn: Connection, worker: str | None, sector: str | None) -> dict:
    """Make grid worker `worker` serve sector `sector` (written; callers preview in a
    savepoint). Returns the move and households per worker of both sectors before/after."""
    row = conn.execute(
        text("SELECT kind, serves_code, retired_at FROM resources WHERE id = :w"), {"w": worker}
    ).first()
    if row is None or row.kind != "grid_worker":
        raise NotFound(f"worker: no grid worker {worker}; GET /api/resources?kind=grid_worker")
    if row.retired_at is not None:
        raise InvalidInput(f"worker: grid worker {worker} is retired")
    current = conn.execute(
        text("SELECT 1 FROM units WHERE code = :s AND level = 'sector' AND valid_to IS NULL"),
        {"s": sector},
    ).first()
    if current is None:
        raise NotFound(f"sector: no sector {sector} in force (in this plan so far)")
    if row.serves_code == sector:
        raise InvalidInput(f"sector: worker {worker} already serves sector {sector}")
    _refuse_locked(conn, [sector])
    codes = sorted({c for c in (row.serves_code, sector) if c})
    before = _sector_households_workers(conn, codes)
    conn.execute(
        text("UPDATE resources SET serves_code = :s WHERE id = :w"), {"s": sector, "w": worker}
    )
    after = _sector_households_workers(conn, codes)

    def per(h, w):
        return round(h / w, 1) if w else None

    sectors = [
        {
            "code": c,
            "households_before": before[c][0],
            "households_after": after[c][0],
            "workers_before": before[c][1],
            "workers_after": after[c][1],
            "households_per_worker_before": per(*before[c]),
            "households_per_worker_after": per(*after[c]),
        }
        for c in codes
    ]
    return {
        "kind": "assign_worker",
        "valid": True,
        "problems": [],
        "units": [],
        "workers": [{"id": worker, "from": row.serves_code, "to": sector}],
        "load": {"sectors": sectors, "grids": []},
    }


def _refuse_locked(conn: Connection, sectors: list[str]) -> None:
    """Conflict if another plan than the one this transaction works for locked a sector."""
    row = conn.execute(
        text(
            "SELECT l.sector_code, p.id, p.name FROM plan_locks l JOIN plans p ON p.id = l.plan_id "
            "WHERE l.sector_code = ANY(:s) AND p.id::text IS DISTINCT FROM "
            "nullif(current_setting('gridmap.plan', true), '') ORDER BY 1 LIMIT 1"
        ),
        {"s": sectors},
    ).first()
    if row:
        raise Conflict(
            f"sector {row.sector_code} is locked by plan #{row.id} ({row.name}); nothing was "
            "written. Apply or discard that plan, or ask its author to unlock it",
            sector=row.sector_code,
            plan=row.id,
        )


def run_edit(conn: Connection, kind: str, body: dict, actor: str, reason: str) -> dict:
    """Apply one plan edit for real (callers hold a savepoint); its report."""
    if kind not in RUNNERS:
        raise InvalidInput(f"kind: one of {', '.join(EDIT_KINDS)}, got {kind!r}")
    return RUNNERS[kind](conn, body, actor, body.get("reason") or reason)


def describe(seq: int, kind: str, body: dict) -> str:
    """How messages name an edit: `#2 split of 6209020030010101`."""
    target = body.get("code") or body.get("sector") or ""
    if kind == "move_borders":
        target = ", ".join(f.get("id", "?") for f in body.get("features") or [])
    if kind == "assign_worker":
        target = f"{body.get('worker')} → {body.get('sector')}"
    return f"#{seq} {kind}" + (f" of {target}" if target else "")


def replay(conn: Connection, plan: dict, rows: list[dict], actor: str) -> list[dict]:
    """Apply `rows` (seq, kind, body) in order, for real (inside a caller's savepoint).
    Conflict naming the first edit that no longer applies."""
    reports = []
    for row in rows:
        try:
            reports.append(run_edit(conn, row["kind"], row["body"], actor, _reason(plan)))
        except GridmapError as exc:
            label = describe(row["seq"], row["kind"], row["body"])
            raise Conflict(
                f"edit {label} no longer applies to the layer in force: {exc.detail}",
                edit=row["seq"],
                **exc.extra,
            ) from None
    return reports


@contextmanager
def replayed(conn: Connection, plan_id: int, actor: str) -> Iterator[dict]:
    """Inside: the layer as plan `plan_id`'s edits in force make it (a savepoint rolled back
    afterwards: nothing is kept). Yields the plan's row."""
    plan = plan_row(conn, plan_id, lock=False)
    with scratch(conn, plan_id):
        replay(conn, plan, edits_of(conn, plan_id, plan["cursor"]), actor)
        yield plan


def plan_boundaries(
    conn: Connection, plan_id: int, level: str, exposure: Exposure, actor: str
) -> dict:
    """The units of `level` as plan `plan_id` makes them, shaped like the layer in force
    (`asof.boundaries`): what the editor draws and edits while the plan is open. No
    `layer_etag`: a plan's layer is changed through its edits, not by ETag."""
    with replayed(conn, plan_id, actor):
        body = boundaries(conn, level, None, exposure, actor)
    body.pop("layer_etag", None)
    return {**body, "plan": plan_id}


def _reason(plan: dict) -> str:
    return f"方案 #{plan['id']} {plan['name']} · plan #{plan['id']}"


def plan_row(conn: Connection, plan_id: int, lock: bool = True) -> dict:
    row = conn.execute(
        text(
            "SELECT id, name, status, base_etag, cursor, created_by, created_at, updated_at, "
            "applied_change_id FROM plans WHERE id = :id" + (" FOR UPDATE" if lock else "")
        ),
        {"id": plan_id},
    ).first()
    if row is None:
        raise NotFound(f"no plan {plan_id}; GET /api/plans lists them")
    return dict(row._mapping)


def _open(conn: Connection, plan_id: int) -> dict:
    plan = plan_row(conn, plan_id)
    if plan["status"] != "open":
        raise Conflict(f"plan {plan_id} is {plan['status']}; only open plans change")
    return plan


def edits_of(conn: Connection, plan_id: int, upto: int | None = None) -> list[dict]:
    rows = conn.execute(
        text(
            "SELECT seq, kind, body, summary FROM plan_edits WHERE plan_id = :id "
            "AND (CAST(:upto AS integer) IS NULL OR seq <= :upto) ORDER BY seq"
        ),
        {"id": plan_id, "upto": upto},
    ).all()
    return [dict(r._mapping) for r in rows]


def _touch(conn: Connection, plan_id: int, **values) -> None:
    sets = ", ".join(f"{k} = :{k}" for k in values)
    conn.execute(
        text(f"UPDATE plans SET {sets}, updated_at = :now WHERE id = :id"),
        {**values, "now": utcnow(), "id": plan_id},
    )


def create_plan(
    conn: Connection, name: str | None, actor: str, locks: list[str] | None = None
) -> dict:
    """A new open plan on the layer in force, optionally locking `locks` (sector codes)."""
    name = (name or "").strip()
    if not name:
        raise InvalidInput("name: give the plan a name, e.g. 东片调整 / east side changes")
    if len(name) > 120:
        raise InvalidInput("name: at most 120 characters")
    plan_id = conn.execute(
        text(
            "INSERT INTO plans (name, base_etag, created_by, created_at, updated_at) "
            "VALUES (:name, :etag, :actor, :now, :now) RETURNING id"
        ),
        {"name": name, "etag": current_layer_etag(conn), "actor": actor[:120], "now": utcnow()},
    ).scalar_one()
    if locks:
        lock(conn, plan_id, locks)
    return get_plan(conn, plan_id)


def get_plan(conn: Connection, plan_id: int) -> dict:
    """The plan: its edits (`active` up to the cursor), locks, and whether its base moved."""
    plan = plan_row(conn, plan_id, lock=False)
    rows = edits_of(conn, plan_id)
    layer = current_layer_etag(conn)
    locks = conn.execute(
        text("SELECT sector_code FROM plan_locks WHERE plan_id = :id ORDER BY 1"), {"id": plan_id}
    ).scalars()
    return {
        **{k: v for k, v in plan.items() if k not in ("created_at", "updated_at")},
        "created_at": plan["created_at"].isoformat(),
        "updated_at": plan["updated_at"].isoformat(),
        "layer_etag": layer,
        "stale": plan["status"] == "open" and plan["base_etag"] != layer,
        "locks": list(locks),
        "edits": [
            {
                **r,
                "active": r["seq"] <= plan["cursor"],
                "label": describe(r["seq"], r["kind"], r["body"]),
            }
            for r in rows
        ],
        "can_undo": plan["status"] == "open" and plan["cursor"] > 0,
        "can_redo": plan["status"] == "open" and plan["cursor"] < len(rows),
    }


def list_plans(conn: Connection, status: str | None = "open") -> list[dict]:
    """Plans, newest first (`status`: open, applied, discarded, or None for all)."""
    if status is not None and status not in STATUSES:
        raise InvalidInput(f"status: one of {', '.join(STATUSES)} or all")
    layer = current_layer_etag(conn)
    rows = conn.execute(
        text(
            "SELECT p.id, p.name, p.status, p.cursor, p.created_by, p.updated_at, p.base_etag, "
            "(SELECT count(*) FROM plan_edits e WHERE e.plan_id = p.id) AS edits "
            "FROM plans p WHERE CAST(:status AS text) IS NULL OR p.status = :status "
            "ORDER BY p.id DESC"
        ),
        {"status": status},
    ).all()
    return [
        {
            **{k: v for k, v in r._mapping.items() if k not in ("updated_at", "base_etag")},
            "updated_at": r.updated_at.isoformat(),
            "stale": r.status == "open" and r.base_etag != layer,
        }
        for r in rows
    ]


def summary_of(report: dict) -> dict:
    """What the plan's edit list shows of an edit's preview."""
    units = [
        {"code": u["code"], "action": u["action"]}
        for u in report.get("units", [])
        if u.get("level") == "sector"
    ]
    return {
        "units": units,
        "created": [u["code"] for u in units if u["action"] in ("created", "reopened")],
        "households_moved": report.get("moves", {}).get("households", {}).get("moved", 0),
        "workers": report.get("workers", []),
    }


def add_edit(
    conn: Connection, plan_id: int, kind: str, body: dict, actor: str, dry_run: bool = False
) -> dict:
    """Preview edit `kind` (`body` as the single-edit route takes it, plus its `code`) on
    top of the plan so far and, if it applies, append it (dropping the undone edits after
    the cursor). InvalidInput/NotFound (nothing stored) if it does not apply; Conflict if
    it touches a sector another plan locked. Returns the plan and the edit's preview;
    `dry_run`: only the preview (the single-edit dry run's report), nothing stored."""
    plan = _open(conn, plan_id)
    if kind not in EDIT_KINDS:
        raise InvalidInput(f"kind: one of {', '.join(EDIT_KINDS)}, got {kind!r}")
    with scratch(conn, plan_id):
        replay(conn, plan, edits_of(conn, plan_id, plan["cursor"]), actor)
        report = run_edit(conn, kind, body, actor, _reason(plan))
    report = {**report, "change": None, "dry_run": True}
    if dry_run:
        return report
    seq = plan["cursor"] + 1
    conn.execute(
        text("DELETE FROM plan_edits WHERE plan_id = :id AND seq >= :seq"),
        {"id": plan_id, "seq": seq},
    )
    conn.execute(
        text(
            "INSERT INTO plan_edits (plan_id, seq, kind, body, summary, created_at) VALUES "
            "(:id, :seq, :kind, CAST(:body AS jsonb), CAST(:summary AS jsonb), :now)"
        ),
        {
            "id": plan_id,
            "seq": seq,
            "kind": kind,
            "body": _json(body),
            "summary": _json(summary_of(report)),
            "now": utcnow(),
        },
    )
    _touch(conn, plan_id, cursor=seq)
    return {"plan": get_plan(conn, plan_id), "edit": seq, "preview": report}


def _json(value) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)


def undo(conn: Connection, plan_id: int) -> dict:
    """Step the plan back one edit (kept for redo)."""
    plan = _open(conn, plan_id)
    if plan["cursor"] == 0:
        raise Conflict(f"plan {plan_id} has no edit to undo")
    _touch(conn, plan_id, cursor=plan["cursor"] - 1)
    return get_plan(conn, plan_id)


def redo(conn: Connection, plan_id: int, actor: str) -> dict:
    """Bring back the edit undone last (checked on top of the plan so far)."""
    plan = _open(conn, plan_id)
    rows = edits_of(conn, plan_id, plan["cursor"] + 1)
    if len(rows) <= plan["cursor"]:
        raise Conflict(f"plan {plan_id} has no undone edit to redo")
    with scratch(conn, plan_id):
        replay(conn, plan, rows, actor)
    _touch(conn, plan_id, cursor=plan["cursor"] + 1)
    return get_plan(conn, plan_id)


def lock(conn: Connection, plan_id: int, sectors: list[str]) -> dict:
    """Lock `sectors` for plan `plan_id`: other plans' and single edits of them are refused.
    InvalidInput for a code that is no sector in force; Conflict if another plan holds one."""
    _open(conn, plan_id)
    codes = sorted(set(sectors or []))
    if not codes:
        raise InvalidInput("sectors: name at least one sector to lock")
    known = set(
        conn.execute(
            text(
                "SELECT code FROM units WHERE code = ANY(:c) AND level = 'sector' "
                "AND valid_to IS NULL"
            ),
            {"c": codes},
        ).scalars()
    )
    missing = [c for c in codes if c not in known]
    if missing:
        raise InvalidInput(f"sectors: no sector {', '.join(missing)} in force")
    work_for(conn, plan_id)
    _refuse_locked(conn, codes)
    conn.execute(
        text(
            "INSERT INTO plan_locks (sector_code, plan_id, locked_at) VALUES (:c, :p, :now) "
            "ON CONFLICT (sector_code) DO NOTHING"
        ),
        [{"c": c, "p": plan_id, "now": utcnow()} for c in codes],
    )
    work_for(conn, None)
    return get_plan(conn, plan_id)


def unlock(conn: Connection, plan_id: int, sector: str) -> dict:
    """Release one sector plan `plan_id` locked."""
    plan_row(conn, plan_id)
    conn.execute(
        text("DELETE FROM plan_locks WHERE plan_id = :p AND sector_code = :c"),
        {"p": plan_id, "c": sector},
    )
    return get_plan(conn, plan_id)


def discard(conn: Connection, plan_id: int) -> dict:
    """Drop the plan: nothing of it is applied; its locks are released."""
    _open(conn, plan_id)
    conn.execute(text("DELETE FROM plan_locks WHERE plan_id = :id"), {"id": plan_id})
    _touch(conn, plan_id, status="discarded")
    return get_plan(conn, plan_id)


def rebase(conn: Connection, plan_id: int, actor: str) -> dict:
    """Replay the plan's edits on the layer in force and, if each still applies, make it
    the plan's base. Conflict naming the first edit that no longer applies."""
    plan = _open(conn, plan_id)
    with scratch(conn, plan_id):
        replay(conn, plan, edits_of(conn, plan_id, plan["cursor"]), actor)
    _touch(conn, plan_id, base_etag=current_layer_etag(conn))
    return get_plan(conn, plan_id)


def final_layer(conn: Connection, plan: dict, actor: str) -> tuple[State, dict, bool]:
    """The layer the plan makes (read in a scratch savepoint), every grid worker's sector
    then, and whether it changes the courtyards."""
    rows = edits_of(conn, plan["id"], plan["cursor"])
    with scratch(conn, plan["id"]):
        replay(conn, plan, rows, actor)
        final = load_state(conn, utcnow())
        workers = _workers(conn)
    return final, workers, any(r["kind"] == "rollback_layer" for r in rows)


def _composed(final: State, with_yards: bool) -> Callable[[State], Plan]:
    """The build of one change taking the layer in force to `final`."""

    def build(state: State) -> Plan:
        plan = Plan.from_state(final, "plan")
        plan.strict = False
        gone = sorted(set(final.grid2s.index) - set(state.grid2s.index))
        if gone:
            plan.problems = [
                Problem(
                    "plan",
                    f"the plan brings back level-2 grids {', '.join(gone)}; apply the layer "
                    "rollback on its own",
                    gone,
                )
            ]
        if with_yards:
            yards = final.courtyards.reset_index()
            plan.courtyards = gpd.GeoDataFrame(yards, geometry="geometry", crs=4326)
        return plan

    return build


def apply_plan(conn: Connection, plan_id: int, reason: str | None, actor: str) -> dict:
    """Apply the plan's edits in force as ONE boundary change (kind `plan`, one version
    step per unit, `reason`), then move the grid workers as the plan moved them. Conflict
    if the layer moved since the plan's base (rebase it first)."""
    reason = require_reason(reason)
    plan = _open(conn, plan_id)
    if plan["cursor"] == 0:
        raise InvalidInput(f"plan {plan_id} has no edit to apply")
    if plan["base_etag"] != current_layer_etag(conn):
        raise Conflict(
            f"the layer changed since plan {plan_id} was made (its base {plan['base_etag']}, "
            f"now {current_layer_etag(conn)}); nothing was written. Rebase it "
            f"(POST /api/plans/{plan_id}/rebase) or discard it",
            base=plan["base_etag"],
        )
    final, workers, with_yards = final_layer(conn, plan, actor)
    work_for(conn, plan_id)
    with locks_as_conflict():
        report = _commit_plan(conn, final, with_yards, reason, actor)
    moved = _move_workers(conn, workers)
    work_for(conn, None)
    conn.execute(text("DELETE FROM plan_locks WHERE plan_id = :id"), {"id": plan_id})
    _touch(conn, plan_id, status="applied", applied_change_id=report["change"]["id"])
    return {**report, "workers": moved, "plan": get_plan(conn, plan_id)}


def _commit_plan(conn, final: State, with_yards: bool, reason: str, actor: str) -> dict:
    try:
        return commit(conn, Edit("plan", reason, actor, _composed(final, with_yards)))
    except InvalidInput as exc:
        if "nothing would change" not in exc.detail:
            raise
    # only workers move: still one recorded change, with no unit versions
    change_id = conn.execute(
        text(
            "INSERT INTO boundary_changes (at, actor, kind, reason, summary) VALUES "
            "(clock_timestamp(), :actor, 'plan', :reason, CAST('{}' AS jsonb)) RETURNING id"
        ),
        {"actor": actor, "reason": reason},
    ).scalar_one()
    return {"change": {"id": change_id, "kind": "plan", "reason": reason}, "units": []}


def _workers(conn: Connection) -> dict[str, str | None]:
    """Every grid worker's sector."""
    rows = conn.execute(text("SELECT id, serves_code FROM resources WHERE kind = 'grid_worker'"))
    return {w: code for w, code in rows}


def _move_workers(conn: Connection, final: dict[str, str | None]) -> list[dict]:
    now = _workers(conn)
    moves = [
        {"id": w, "from": now[w], "to": code}
        for w, code in sorted(final.items())
        if w in now and now[w] != code
    ]
    if moves:
        conn.execute(
            text("UPDATE resources SET serves_code = :to WHERE id = :id"),
            [{"id": m["id"], "to": m["to"]} for m in moves],
        )
    return moves

"""The case loop: the states of an incident, who may move it from one to the next, and its
append-only history.

    reported → dispatched → in_progress → resolved → verified (closed)
    reported | dispatched → rejected | duplicate (closed, a duplicate linked to its original)
    resolved → in_progress (verification failed: sent back)

`TRANSITIONS` is the one table of legal moves and the roles that may make each; anything
else is a conflict (409). Within a role, grid workers act on the cases of their own grids
(or assigned to a worker of their grids), patrols on the reports they filed, and supervisors
of the governance centre (综治中心: dispatch, verify, send back, reject) on their area's.

Every change appends one event (`EventKind`); the database refuses to edit one.

    >>> transition(conn, worker, "I0000025001", "in_progress", note="到场")   # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from sqlalchemy import text
from sqlalchemy.engine import Connection

from geo.access.roles import (
    Permission,
    Principal,
    Role,
    any_of,
    incident_visibility,
    own_cases,
    supervised_area,
)
from geo.cases.dispatch import dispatch_reported
from geo.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from geo.core.settings import get_settings
from geo.core.terms import BEIJING, CLOSED_STATUSES, IncidentStatus, label
from geo.notify.events import on_case_event

#: the actor of what the service does by itself (automatic dispatch)
SYSTEM = "system"


class EventKind(StrEnum):
    """The vocabulary of `incident_events.kind` (the seeded history uses the same words)."""

    REPORT = "report"  # intake: (none) → reported; actor: the reporter
    DISPATCH = "dispatch"  # reported → dispatched to the sector's team; actor: system or admin
    TRANSITION = "transition"  # every other change of state; actor: who made it
    NOTE = "note"  # a remark, no change (from_status = to_status = the state at the time)
    REDISPATCH = "redispatch"  # a boundary change moved an open case to another grid's team
    # the case desk (`geo.cases.desk`); the names are fixed (the evaluation counts them)
    ASSIGN = "assign"  # one named owner set or changed (reported → dispatched, or same state)
    EXTENSION_REQUEST = "extension_request"  # a worker asks for more working days (延期)
    EXTENSION_APPROVED = "extension_approved"  # ... granted: the deadline moved
    EXTENSION_REFUSED = "extension_refused"
    RETURN_REQUEST = "return_request"  # a worker asks to hand the case back (回退)
    RETURN_APPROVED = "return_approved"  # ... granted: back to reported, no team, no owner
    RETURN_REFUSED = "return_refused"


S = IncidentStatus
_DUPLICATE_MARKERS = frozenset({Role.ADMIN, Role.SUPERVISOR, Role.GRID_WORKER, Role.PATROL})
#: the command centre: who dispatches, verifies, sends back and rejects
_DESK = frozenset({Role.ADMIN, Role.SUPERVISOR})


@dataclass(frozen=True)
class Move:
    """A legal change of state: who may make it, its name, whether it needs a reason."""

    roles: frozenset[Role]
    name_zh: str
    name_en: str
    needs_note: bool = False


#: the one table of legal moves: (from, to) → who may make it
TRANSITIONS: dict[tuple[IncidentStatus, IncidentStatus], Move] = {
    (S.REPORTED, S.DISPATCHED): Move(_DESK, "派遣", "dispatch"),
    (S.REPORTED, S.REJECTED): Move(_DESK, "不予受理", "reject", True),
    (S.REPORTED, S.DUPLICATE): Move(_DUPLICATE_MARKERS, "标记重复", "mark duplicate"),
    (S.DISPATCHED, S.IN_PROGRESS): Move(
        frozenset({Role.ADMIN, Role.GRID_WORKER}), "接单处置", "accept"
    ),
    (S.DISPATCHED, S.REJECTED): Move(_DESK, "不予受理", "reject", True),
    (S.DISPATCHED, S.DUPLICATE): Move(_DUPLICATE_MARKERS, "标记重复", "mark duplicate"),
    (S.IN_PROGRESS, S.RESOLVED): Move(
        frozenset({Role.ADMIN, Role.GRID_WORKER}), "办结反馈", "resolve"
    ),
    (S.RESOLVED, S.VERIFIED): Move(_DESK, "核查结案", "verify and close"),
    (S.RESOLVED, S.IN_PROGRESS): Move(_DESK, "退回重办", "send back", True),
}
#: who may add a note (any state, any case they may read)
NOTE_ROLES = frozenset({Role.ADMIN, Role.SUPERVISOR, Role.GRID_WORKER, Role.PATROL})


def next_states(status: str) -> list[str]:
    """The states a case in `status` may move to, in loop order."""
    return [to.value for (frm, to) in TRANSITIONS if frm == status]


def moves_for(principal: Principal, status: str, own: bool) -> list[str]:
    """The states this caller may move a case in `status` to (`own`: one of theirs)."""
    if not principal.can(Permission.UPDATE_INCIDENTS) or not own:
        return []
    return [
        to.value
        for (frm, to), m in TRANSITIONS.items()
        if frm == status and principal.has(*m.roles)
    ]


def ownership(principal: Principal, alias: str = "i") -> tuple[str, dict]:
    """SQL (and parameters) over incidents `alias`: is this a case the caller acts on?
    Admins: every case. Grid workers: cases in their grids or assigned to a worker serving
    them. Patrols: the reports they filed — by identity (`Principal.id`), never by name.
    Supervisors: the cases of their area. Everyone else: none."""
    if principal.has(Role.ADMIN):
        return "TRUE", {}
    clauses, params = [], {}
    if principal.has(Role.SUPERVISOR):
        clauses.append(supervised_area(principal, alias))
    if principal.has(Role.GRID_WORKER):
        clauses.append(own_cases(principal, alias))
    if principal.has(Role.PATROL):
        clauses.append(
            (
                f"EXISTS (SELECT 1 FROM incident_events e WHERE e.incident_id = {alias}.id "
                f"AND e.kind = 'report' AND e.actor_id = :own_actor_id)",
                {"own_actor_id": principal.id},
            )
        )
    for _, clause_params in clauses:
        params.update(clause_params)
    return any_of([sql for sql, _ in clauses]), params


def as_utc(at: datetime) -> datetime:
    """An aware UTC time; a time without an offset is read as Beijing time."""
    if at.tzinfo is None:
        at = at.replace(tzinfo=BEIJING)
    return at.astimezone(UTC)


def event_time(at: datetime | None, now: datetime, field: str = "at") -> datetime:
    """`at` (default `now`) as an aware UTC time; a time without an offset is Beijing time.
    A time ahead of the server clock (beyond the allowed skew) is refused."""
    if at is None:
        return now
    at = as_utc(at)
    skew = timedelta(seconds=get_settings().clock_skew_seconds)
    if at > now + skew:
        raise InvalidInput(
            f"{field} {at.isoformat()} is in the future (server time {now.isoformat()}); "
            "send the time it happened, with its UTC offset",
            field=field,
        )
    return min(at, now)


def history(conn: Connection, incident_id: str) -> list[dict]:
    """The case's events, oldest first, with the Chinese and English names of the states."""
    rows = conn.execute(
        text(
            "SELECT at, actor, kind, from_status, to_status, note FROM incident_events "
            "WHERE incident_id = :id ORDER BY at, id"
        ),
        {"id": incident_id},
    ).mappings()
    return [dict(r) for r in rows]


def record_event(
    conn: Connection,
    incident_id: str,
    at: datetime,
    actor: str,
    kind: EventKind,
    from_status: str | None,
    to_status: str | None,
    note: str | None,
    actor_id: str | None = None,
) -> None:
    """Append one event to a case's history; `actor_id` is the actor's stable identity
    (`Principal.id`), which ownership compares. The workers concerned are notified in the
    same transaction (`geo.notify.events`)."""
    conn.execute(
        text(
            # the case's sub-district, also when unscoped work (the CLI) writes it
            "INSERT INTO incident_events (incident_id, at, actor, kind, from_status, to_status, "
            "note, actor_id, subdistrict) SELECT :id, :at, :actor, :kind, :frm, :to, :note, "
            ":actor_id, subdistrict FROM incidents WHERE id = :id"
        ),
        {
            "actor_id": actor_id,
            "id": incident_id,
            "at": at,
            "actor": actor,
            "kind": kind.value,
            "frm": from_status,
            "to": to_status,
            "note": note,
        },
    )
    # the same transaction: a notification exists exactly when its event does
    on_case_event(conn, incident_id, kind, from_status, to_status)


def dispatch(
    conn: Connection, incident_id: str, at: datetime, actor: str = SYSTEM, note: str | None = None
) -> list[str]:
    """Dispatch a reported case to its sector's team (the rule of `geo.cases.dispatch`: the
    sector's workers, else its level-2 grid's) and record it; returns the workers, or []
    when nobody serves the sector or its grid (the case then stays reported)."""
    one = {"incident_id": incident_id}
    if not dispatch_reported(conn, "i.id = :incident_id", one, at, actor, note):
        return []
    on_case_event(conn, incident_id, EventKind.DISPATCH, "reported", "dispatched")
    workers = conn.execute(
        text("SELECT assigned_to FROM incidents WHERE id = :incident_id"), one
    ).scalar_one()
    return list(workers)


def _load_for_change(conn: Connection, principal: Principal, incident_id: str) -> dict:
    """The case (locked), whether it is the caller's own, and its last event time; 404 if
    it does not exist or the caller may not see it."""
    visible, params = incident_visibility(principal)
    own, own_params = ownership(principal)
    row = (
        conn.execute(
            text(
                f"SELECT i.id, i.status, i.category, {own} AS own, "
                "(SELECT max(e.at) FROM incident_events e WHERE e.incident_id = i.id) AS last_at "
                f"FROM incidents i WHERE i.id = :id AND {visible} FOR UPDATE OF i"
            ),
            {"id": incident_id, **params, **own_params},
        )
        .mappings()
        .first()
    )
    if row is None:
        raise NotFound(f"no incident {incident_id!r} you may see")
    return dict(row)


def _check_order(case: dict, at: datetime) -> None:
    if case["last_at"] is not None and at < case["last_at"]:
        raise InvalidInput(
            f"at {at.isoformat()} is before the case's last event "
            f"({case['last_at'].isoformat()}); the history runs forward",
            field="at",
        )


def _original(conn: Connection, principal: Principal, incident_id: str, target: str) -> str:
    """The original a duplicate links to: `target`, or the case `target` duplicates."""
    visible, params = incident_visibility(principal)
    row = conn.execute(
        text(
            f"SELECT i.id, i.status, coalesce(i.duplicate_of, i.id) AS original "
            f"FROM incidents i WHERE i.id = :target AND {visible}"
        ),
        {"target": target, **params},
    ).first()
    if row is None:
        raise InvalidInput(
            f"duplicate_of {target!r}: no such incident you may see", field="duplicate_of"
        )
    if row.original == incident_id:
        raise InvalidInput(
            f"an incident cannot be a duplicate of itself ({target} → {incident_id})",
            field="duplicate_of",
        )
    return row.original


def _allowed_move(
    principal: Principal, incident_id: str, case: dict, status: IncidentStatus, target
) -> Move:
    """The move from `status` to `target`, if it is legal and this caller's to make."""
    move = TRANSITIONS.get((status, target))
    if move is None:
        legal = next_states(status)
        where = f"it may become: {', '.join(legal)}" if legal else "it is closed"
        raise Conflict(
            f"incident {incident_id} is {status.value} ({label(status)}) and cannot become "
            f"{target.value}; {where}",
            current_state=status.value,
            allowed_states=legal,
        )
    if not principal.has(*move.roles):
        who = ", ".join(sorted(r.value for r in move.roles))
        raise Forbidden(
            f"the role {principal.role.value!r} may not {move.name_en} a case "
            f"({status.value} → {target.value}); allowed: {who}"
        )
    if not case["own"]:
        raise Forbidden(
            f"incident {incident_id} is not yours to {move.name_en}: grid workers act on the "
            "cases of their own grids, patrols on the reports they filed"
        )
    return move


def transition(
    conn: Connection,
    principal: Principal,
    incident_id: str,
    to: str,
    note: str | None = None,
    at: datetime | None = None,
    duplicate_of: str | None = None,
    now: datetime | None = None,
) -> None:
    """Move a case to state `to` at time `at` (default now), as `principal`, with a note.

    Raises NotFound (no such case the caller may see), Conflict (not a legal move from the
    case's state: the message lists the legal ones), Forbidden (a role or person not allowed
    to make this move on this case) or InvalidInput (missing reason, bad time, bad link)."""
    now = now or datetime.now(UTC)
    try:
        target = IncidentStatus(to)
    except ValueError:
        states = ", ".join(s.value for s in IncidentStatus)
        raise InvalidInput(f"unknown state {to!r}; one of: {states}", field="to") from None
    case = _load_for_change(conn, principal, incident_id)
    status = IncidentStatus(case["status"])
    move = _allowed_move(principal, incident_id, case, status, target)
    at = event_time(at, now)
    _check_order(case, at)
    note = (note or "").strip() or None
    if move.needs_note and not note:
        raise InvalidInput(
            f"to {move.name_en} a case ({status.value} → {target.value}) give the reason in note",
            field="note",
        )
    if target == S.DUPLICATE:
        if not duplicate_of:
            raise InvalidInput(
                "marking a duplicate needs duplicate_of: the id of the original incident",
                field="duplicate_of",
            )
        duplicate_of = _original(conn, principal, incident_id, duplicate_of)
        note = f"重复上报: {duplicate_of}" + (f" · {note}" if note else "")
    elif duplicate_of:
        raise InvalidInput("duplicate_of only goes with to = duplicate", field="duplicate_of")
    if target == S.DISPATCHED:
        if not dispatch(conn, incident_id, at, principal.actor, note):
            raise Conflict(
                f"incident {incident_id}: no grid worker serves its sector or its level-2 "
                "grid; assign a grid worker there (resources), then dispatch again"
            )
        return
    conn.execute(
        text(
            "UPDATE incidents SET status = :to, updated_at = now(), "
            "resolved_at = CASE WHEN :to = 'resolved' THEN CAST(:at AS timestamptz) "
            "                   WHEN :to = 'in_progress' THEN NULL ELSE resolved_at END, "
            "closed_at = CASE WHEN :closes THEN CAST(:at AS timestamptz) ELSE closed_at END, "
            "duplicate_of = CAST(:original AS varchar) WHERE id = :id"
        ),
        {
            "id": incident_id,
            "to": target.value,
            "at": at,
            "closes": target in CLOSED_STATUSES,
            "original": duplicate_of,
        },
    )
    record_event(
        conn,
        incident_id,
        at,
        principal.actor,
        EventKind.TRANSITION,
        status,
        target,
        note,
        principal.id,
    )


def add_note(
    conn: Connection,
    principal: Principal,
    incident_id: str,
    note: str,
    at: datetime | None = None,
    now: datetime | None = None,
) -> None:
    """Append a note to a case the caller may see (patrols, grid workers, admins); the
    state does not change."""
    if not principal.has(*NOTE_ROLES):
        raise Forbidden(f"the role {principal.role.value!r} may not add notes to incidents")
    note = (note or "").strip()
    if not note:
        raise InvalidInput("a note needs some text", field="note")
    case = _load_for_change(conn, principal, incident_id)
    at = event_time(at, now or datetime.now(UTC))
    _check_order(case, at)
    record_event(
        conn,
        incident_id,
        at,
        principal.actor,
        EventKind.NOTE,
        case["status"],
        case["status"],
        note,
        principal.id,
    )

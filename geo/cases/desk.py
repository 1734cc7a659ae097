"""The case desk: one named owner per case, the case lists of a worker and of the command
centre, extension (延期) and return (回退) requests and their decisions, and one case with
exactly the actions its caller may take.

    >>> assign_owner(conn, supervisor, "I0000025001", "W012")          # doctest: +SKIP
    >>> case_list(conn, worker, assigned="me", state="open")           # doctest: +SKIP
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from enum import StrEnum

import numpy as np
from sqlalchemy import text
from sqlalchemy.engine import Connection

from geo.access.roles import Permission, Principal, Role, incident_visibility, supervised_area
from geo.cases import flow as caseflow
from geo.cases import photos
from geo.cases.categories import category_row
from geo.cases.deadlines import DEADLINE_FLAGS, due_at
from geo.cases.flow import EventKind
from geo.cases.incidents import incident_view, to_wgs84
from geo.cases.workcalendar import load_calendar
from geo.core.errors import Conflict, Forbidden, InvalidInput
from geo.core.settings import get_settings
from geo.core.terms import CLOSED_STATUSES, IncidentStatus, label, longitude_degrees

S = IncidentStatus
#: states in which a worker may ask for more time or to hand the case back
REQUESTABLE = frozenset({S.DISPATCHED, S.IN_PROGRESS})
#: who may ask (on cases that are theirs)
REQUESTERS = frozenset({Role.GRID_WORKER, Role.ADMIN})
MAX_EXTENSION_DAYS = 30


class RequestKind(StrEnum):
    EXTENSION = "extension"  # 延期: more working days
    RETURN = "return"  # 回退: not ours to handle, back to the desk to dispatch again


#: the event kinds of each request and its decisions (fixed names, counted by evaluation)
REQUEST_EVENTS = {
    RequestKind.EXTENSION: (
        EventKind.EXTENSION_REQUEST,
        EventKind.EXTENSION_APPROVED,
        EventKind.EXTENSION_REFUSED,
    ),
    RequestKind.RETURN: (
        EventKind.RETURN_REQUEST,
        EventKind.RETURN_APPROVED,
        EventKind.RETURN_REFUSED,
    ),
}


def _supervisor(principal: Principal, what: str) -> None:
    if not principal.can(Permission.SUPERVISE_CASES):
        raise Forbidden(
            f"the role {principal.role.value!r} may not {what}; supervisors and admins may"
        )


def _open_case(conn: Connection, principal: Principal, incident_id: str) -> dict:
    """The case locked for a change, 404 if not visible, 403 if not the caller's, 409 if
    closed."""
    case = caseflow._load_for_change(conn, principal, incident_id)
    if not case["own"]:
        raise Forbidden(f"incident {incident_id} is not in your area or grids")
    if case["status"] in CLOSED_STATUSES:
        raise Conflict(
            f"incident {incident_id} is {case['status']} ({label(case['status'])}): closed",
            current_state=case["status"],
        )
    return case


def assign_owner(
    conn: Connection,
    principal: Principal,
    incident_id: str,
    worker_id: str,
    note: str | None = None,
    now: datetime | None = None,
) -> None:
    """Make grid worker `worker_id` the one owner of an open case (dispatching it when it
    is still reported); the sector's team keeps seeing it. InvalidInput (422) when the
    worker does not serve the case's grid: its sector, its level-2 grid or a sector of it."""
    _supervisor(principal, "assign cases")
    now = now or datetime.now(UTC)
    case = _open_case(conn, principal, incident_id)
    row = conn.execute(
        text(
            "SELECT r.id, r.serves_code, i.owner_id, i.sector_code, i.grid2_code, "
            "(r.serves_code = i.sector_code OR r.serves_code = i.grid2_code OR EXISTS ("
            " SELECT 1 FROM units u WHERE u.code = r.serves_code AND u.valid_to IS NULL"
            " AND u.parent_code = i.grid2_code)) AS serves "
            "FROM incidents i LEFT JOIN resources r ON r.id = :worker AND r.kind = 'grid_worker' "
            "WHERE i.id = :id"
        ),
        {"id": incident_id, "worker": worker_id},
    ).one()
    if row.id is None:
        raise InvalidInput(f"no grid worker with id {worker_id!r}", field="worker")
    if not row.serves:
        raise InvalidInput(
            f"grid worker {worker_id} serves {row.serves_code}, not the grid of incident "
            f"{incident_id} (sector {row.sector_code}, level-2 grid {row.grid2_code})",
            field="worker",
        )
    if row.owner_id == worker_id:
        raise Conflict(f"incident {incident_id} is already owned by {worker_id}")
    at = caseflow.event_time(None, now)
    status = case["status"]
    to = S.DISPATCHED.value if status == S.REPORTED else status
    conn.execute(
        text(
            "UPDATE incidents SET owner_id = :worker, status = :to, updated_at = now(), "
            "dispatched_at = coalesce(dispatched_at, CAST(:at AS timestamptz)), "
            "assigned_to = CASE WHEN :worker = ANY(coalesce(assigned_to, '{}')) THEN assigned_to "
            "  ELSE array_append(coalesce(assigned_to, '{}'), CAST(:worker AS varchar)) END "
            "WHERE id = :id"
        ),
        {"id": incident_id, "worker": worker_id, "to": to, "at": at},
    )
    message = f"指派给 {worker_id}" + (f" (原: {row.owner_id})" if row.owner_id else "")
    if note and note.strip():
        message += f" · {note.strip()}"
    caseflow.record_event(
        conn, incident_id, at, principal.actor, EventKind.ASSIGN, status, to, message
    )


def request_change(
    conn: Connection,
    principal: Principal,
    incident_id: str,
    kind: str,
    reason: str,
    working_days: int | None = None,
    now: datetime | None = None,
) -> None:
    """A worker asks for `working_days` more (`extension`) or to hand the case back
    (`return`), with a reason; one pending request per case (409 otherwise)."""
    try:
        kind = RequestKind(kind)
    except ValueError:
        raise InvalidInput(
            f"kind must be extension or return, not {kind!r}", field="kind"
        ) from None
    if not principal.has(*REQUESTERS):
        raise Forbidden(f"the role {principal.role.value!r} may not ask for {kind.value}s")
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput("give the reason", field="reason")
    if kind == RequestKind.EXTENSION:
        if working_days is None or not 1 <= working_days <= MAX_EXTENSION_DAYS:
            raise InvalidInput(
                f"working_days: 1 to {MAX_EXTENSION_DAYS} more working days", field="working_days"
            )
    else:
        working_days = None
    now = now or datetime.now(UTC)
    case = _open_case(conn, principal, incident_id)
    if case["status"] not in REQUESTABLE:
        raise Conflict(
            f"incident {incident_id} is {case['status']}: only dispatched or in-progress "
            "cases take extension or return requests",
            current_state=case["status"],
        )
    pending = conn.execute(
        text("SELECT kind FROM case_requests WHERE incident_id = :id AND status = 'pending'"),
        {"id": incident_id},
    ).scalar()
    if pending:
        raise Conflict(f"incident {incident_id} already has a pending {pending} request")
    at = caseflow.event_time(None, now)
    conn.execute(
        text(
            "INSERT INTO case_requests (incident_id, kind, working_days, reason, requested_by, "
            "requested_at) VALUES (:id, :kind, :days, :reason, :actor, :at)"
        ),
        {
            "id": incident_id,
            "kind": kind.value,
            "days": working_days,
            "reason": reason,
            "actor": principal.actor,
            "at": at,
        },
    )
    note = (f"申请延期 {working_days} 个工作日: " if working_days else "申请回退: ") + reason
    event = REQUEST_EVENTS[kind][0]
    caseflow.record_event(
        conn, incident_id, at, principal.actor, event, case["status"], case["status"], note
    )


def decide_request(
    conn: Connection,
    principal: Principal,
    incident_id: str,
    approve: bool,
    note: str | None = None,
    now: datetime | None = None,
) -> None:
    """Approve or refuse the case's pending request. An approved extension moves `due_at`
    by its working days (China's calendar); an approved return sends the case back to
    `reported`, with no team and no owner, for the desk to dispatch again."""
    _supervisor(principal, "decide extension and return requests")
    now = now or datetime.now(UTC)
    case = _open_case(conn, principal, incident_id)
    request = conn.execute(
        text(
            "SELECT r.id, r.kind, r.working_days, i.due_at FROM case_requests r "
            "JOIN incidents i ON i.id = r.incident_id "
            "WHERE r.incident_id = :id AND r.status = 'pending'"
        ),
        {"id": incident_id},
    ).first()
    if request is None:
        raise Conflict(f"incident {incident_id} has no pending request to decide")
    note = (note or "").strip() or None
    if not approve and not note:
        raise InvalidInput("to refuse a request give the reason in note", field="note")
    at = caseflow.event_time(None, now)
    kind = RequestKind(request.kind)
    _, approved, refused = REQUEST_EVENTS[kind]
    status, to = case["status"], case["status"]
    message = note or ""
    if approve and kind == RequestKind.EXTENSION:
        old = request.due_at
        new = extended_due(conn, old, request.working_days)
        conn.execute(
            text("UPDATE incidents SET due_at = :due, updated_at = now() WHERE id = :id"),
            {"due": new, "id": incident_id},
        )
        message = f"期限 {old.isoformat()} → {new.isoformat()}" + (f" · {note}" if note else "")
    elif approve:
        to = S.REPORTED.value
        conn.execute(
            text(
                "UPDATE incidents SET status = 'reported', assigned_to = '{}', owner_id = NULL, "
                "updated_at = now() WHERE id = :id"
            ),
            {"id": incident_id},
        )
    conn.execute(
        text(
            "UPDATE case_requests SET status = :status, decided_by = :actor, decided_at = :at, "
            "decision_note = :note WHERE id = :rid"
        ),
        {
            "status": "approved" if approve else "refused",
            "actor": principal.actor,
            "at": at,
            "note": note,
            "rid": request.id,
        },
    )
    caseflow.record_event(
        conn,
        incident_id,
        at,
        principal.actor,
        approved if approve else refused,
        status,
        to,
        message or None,
    )


def extended_due(conn: Connection, due: datetime, working_days: int) -> datetime:
    """`due` moved by `working_days` working days, keeping its Beijing time of day."""
    moved = due_at(
        np.array([due.astimezone(UTC).replace(tzinfo=None)], "datetime64[s]"),
        np.array([np.nan]),
        np.array([float(working_days)]),
        load_calendar(conn),
    )
    return moved[0].astype(datetime).replace(tzinfo=UTC)


# -- lists ------------------------------------------------------------------------------------

STATE_FILTERS = ("open", "closed", "all", *(s.value for s in IncidentStatus))
SORTS = ("due", "reported")


def case_list(
    conn: Connection,
    principal: Principal,
    assigned: str | None = None,
    area: str | None = None,
    state: str = "open",
    overdue: bool | None = None,
    sort: str = "due",
    limit: int = 200,
    now: datetime | None = None,
    offset: int = 0,
) -> dict:
    """The cases the caller may see, filtered: `assigned=me` (the cases owned by me or
    dispatched to my grids; a patrol's: those they reported), `area=me` (a supervisor's
    area), `state` (open, closed, all or one state), `overdue`; sorted by `due` (overdue
    first, then least time left) or `reported` (newest first). With counts by state. One
    page: `limit` cases from `offset`; `next_offset` is where the next page starts (None on
    the last)."""
    if state not in STATE_FILTERS:
        raise InvalidInput(f"state must be one of {', '.join(STATE_FILTERS)}", field="state")
    if sort not in SORTS:
        raise InvalidInput(f"sort must be one of {', '.join(SORTS)}", field="sort")
    for name, value in (("assigned", assigned), ("area", area)):
        if value not in (None, "me"):
            raise InvalidInput(f"{name} takes only 'me'", field=name)
    now = now or datetime.now(UTC)
    scope, params = _list_scope(principal, assigned, area)
    filters: list[str] = []
    order = _list_filter(filters, state, overdue, sort)
    # one row beyond the page says whether there is a next one
    params.update(
        {"closed": sorted(CLOSED_STATUSES), "state": state, "now": now, "limit": limit + 1}
    )
    params["offset"] = max(0, offset)
    one_pass = assigned == "me" and state == "open" and sort == "due"
    result = conn.execute(text(_page_sql(scope, filters, order, one_pass)), params)
    keys, cases, counted = list(result.keys()), [], None
    for row in result.all():  # (plain rows: a mapping view per row costs more)
        case = dict(zip(keys, row, strict=True))
        if "by_state" in case:  # the same on every row of a one-pass list
            counted = (case.pop("by_state"), case.pop("pending"))
        status = case["status"]
        case["status_zh"], case["status_en"] = label(status), label(status, "en")
        case["closed"] = status in CLOSED_STATUSES
        case["due_in_minutes"] = (
            None if case["closed"] else math.floor((case["due_at"] - now).total_seconds() / 60)
        )
        cases.append(case)
    if counted is None:  # (also a one-pass list whose page came back empty)
        counted = conn.execute(
            text(f"SELECT {_counts_sql(_OPEN_IN_SCOPE.format(scope=scope), scope)}"), params
        ).one()
    by_state, pending = counted[0] or {}, counted[1]
    more = len(cases) > limit
    return {
        "cases": cases[:limit],
        "offset": params["offset"],
        "next_offset": params["offset"] + limit if more else None,
        "counts": {
            "open": sum(n for n, _ in by_state.values()),
            "overdue": sum(late for _, late in by_state.values()),
            "by_state": {s: n for s, (n, _) in by_state.items()},
            "pending_requests": pending,
        },
        "as_of": now,
    }


def _page_sql(scope: str, filters: list[str], order: str, one_pass: bool) -> str:
    """The statement of a list's page: the cases in `scope` that pass the state and overdue
    `filters`, in `order`. `one_pass`, for a person's own open cases by due time: they are
    tens of the sub-district's thousands, so one pass over the open cases' index finds them,
    and the page and the counts (`by_state`, `pending` on every row) are both taken from
    them, where two statements would each filter every open case of the sub-district.
    Otherwise the page's ids come first, from the open cases' index alone when it lists open
    cases, and it stops after a page."""
    if one_pass:
        rest = [f for f in filters if f != OPEN] or ["TRUE"]  # (open_cases are all open)
        found = f"""
            open_cases AS MATERIALIZED (  -- the index's columns only: no table reads
                SELECT i.id, i.status, i.due_at FROM {_OPEN_IN_SCOPE.format(scope=scope)}
            ), page AS (
                SELECT i.id FROM open_cases i WHERE {" AND ".join(rest)}
                ORDER BY {order} LIMIT :limit OFFSET :offset
            )"""
        counts = f", {_counts_sql('open_cases i', scope)}"
    else:
        found = f"""
            page AS (
                SELECT i.id FROM incidents i WHERE {" AND ".join([scope, *filters])}
                ORDER BY {order} LIMIT :limit OFFSET :offset
            )"""
        counts = ""
    return f"""
        WITH {found}
        SELECT {_CASE_COLUMNS}{counts}
        FROM page JOIN incidents i ON i.id = page.id
        JOIN categories_in_force c ON c.code = i.category
        ORDER BY {order}
        """


#: a case of the list, as the page and the API show it
_CASE_COLUMNS = f"""
    i.id, i.category, c.name_zh AS category_zh, c.name_en AS category_en,
    c.close_minutes, c.close_working_days, i.status, i.description,
    i.sector_code, i.owner_id, i.assigned_to,
    i.reported_at, i.due_at, ST_X(i.geom) AS lon, ST_Y(i.geom) AS lat,
    {DEADLINE_FLAGS.format(a="i")},
    (SELECT json_build_object('id', r.id, 'kind', r.kind, 'working_days',
            r.working_days, 'reason', r.reason, 'requested_by', r.requested_by)
     FROM case_requests r WHERE r.incident_id = i.id AND r.status = 'pending')
    AS pending_request"""

#: an open case (`i`), by the `:closed` statuses
OPEN = "i.status <> ALL(CAST(:closed AS text[]))"
#: the open cases in a list's scope (`{scope}`: its conditions over incidents `i`)
_OPEN_IN_SCOPE = "incidents i WHERE {scope} AND " + OPEN


def _counts_sql(open_cases: str, scope: str) -> str:
    """Two columns: `by_state` ({state: [open, overdue]}) of the open cases read from
    `open_cases` (a FROM clause naming them `i`), and `pending` (requests awaiting a decision
    in `scope`). Each is computed once per statement."""
    return f"""
    (SELECT json_object_agg(s.status, json_build_array(s.n, s.overdue)) FROM (
        SELECT i.status, count(*) AS n, count(*) FILTER (WHERE i.due_at < :now) AS overdue
        FROM {open_cases} GROUP BY i.status) s) AS by_state,
    (SELECT count(*) FROM case_requests r JOIN incidents i ON i.id = r.incident_id
     WHERE r.status = 'pending' AND {scope}) AS pending"""


OPEN_OVERDUE = f"({OPEN} AND i.due_at < :now)"


def _list_filter(where: list[str], state: str, overdue: bool | None, sort: str) -> str:
    """Add the state and overdue conditions to `where`; the list's ORDER BY."""
    if state == "open":
        where.append(OPEN)
    elif state == "closed":
        where.append("i.status = ANY(CAST(:closed AS text[]))")
    elif state != "all":
        where.append("i.status = :state")
    if overdue is not None:
        where.append(OPEN_OVERDUE if overdue else f"NOT {OPEN_OVERDUE}")
    if sort == "due" and state == "open":
        # the same order (an open case is overdue exactly when its due time has passed), in
        # a form the open cases' index on (subdistrict, due_at, id) serves: a page reads a
        # page (0016d, 0020o)
        return "i.due_at, i.id"
    return f"{OPEN_OVERDUE} DESC, i.due_at, i.id" if sort == "due" else "i.reported_at DESC, i.id"


def _list_scope(principal: Principal, assigned: str | None, area: str | None):
    """The condition (SQL over `i`, and its parameters) of the cases a list may show."""
    visible, params = incident_visibility(principal, "i")
    where = [visible]
    if assigned == "me":
        mine, own_params = caseflow.ownership(principal, "i")
        params.update(own_params)
        if principal.worker_id:
            mine = f"(i.owner_id = :me OR {mine})"
            params["me"] = principal.worker_id
        where.append(mine)
    if area == "me":
        if not principal.can(Permission.SUPERVISE_CASES):
            raise Forbidden("area=me is the command centre's list (supervisors, admins)")
        mine, area_params = supervised_area(principal, "i")
        params.update(area_params)
        where.append(mine)
    return " AND ".join(where), params


# -- one case with its actions ----------------------------------------------------------------


def case_view(
    conn: Connection, principal: Principal, incident_id: str, now: datetime | None = None
) -> dict:
    """`incident_view` with the owner, photos, requests and `actions`: exactly what the
    caller may do now (`next` states, `assign`, `request_extension`, `request_return`,
    `decide_request`, `note`, `photo`)."""
    view = incident_view(conn, principal, incident_id, now)
    extra = conn.execute(
        text(
            "SELECT i.owner_id, ("
            " SELECT json_agg(json_build_object('id', r.id, 'kind', r.kind, 'status', r.status,"
            "   'working_days', r.working_days, 'reason', r.reason, 'requested_by',"
            "   r.requested_by, 'requested_at', r.requested_at, 'decided_by', r.decided_by,"
            "   'decided_at', r.decided_at, 'decision_note', r.decision_note) ORDER BY r.id)"
            " FROM case_requests r WHERE r.incident_id = i.id) AS requests "
            "FROM incidents i WHERE i.id = :id"
        ),
        {"id": incident_id},
    ).one()
    view["owner_id"] = extra.owner_id
    view["requests"] = extra.requests or []
    view["photos"] = photos.list_photos(conn, incident_id)
    pending = next((r for r in view["requests"] if r["status"] == "pending"), None)
    own, own_params = caseflow.ownership(principal, "i")
    is_own = conn.execute(
        text(f"SELECT {own} FROM incidents i WHERE i.id = :id"), {"id": incident_id, **own_params}
    ).scalar()
    open_case = not view["closed"]
    supervises = principal.can(Permission.SUPERVISE_CASES) and bool(is_own)
    view["actions"] = {
        "next": view["next"],
        "assign": supervises and open_case,
        "request_extension": bool(
            is_own
            and principal.has(*REQUESTERS)
            and view["status"] in REQUESTABLE
            and pending is None
        ),
        "request_return": bool(
            is_own
            and principal.has(*REQUESTERS)
            and view["status"] in REQUESTABLE
            and pending is None
        ),
        "decide_request": supervises and open_case and pending is not None,
        "note": principal.has(*caseflow.NOTE_ROLES),
        "photo": photos.may_add(principal, bool(is_own)) and open_case,
    }
    if view["actions"]["assign"]:
        view["workers"] = eligible_workers(conn, incident_id)
    return view


def eligible_workers(conn: Connection, incident_id: str) -> list[dict]:
    """The grid workers an open case may be assigned to (its sector's first)."""
    rows = conn.execute(
        text(
            "SELECT r.id, r.serves_code, r.serves_code = i.sector_code AS sector_team "
            "FROM incidents i JOIN resources r ON r.kind = 'grid_worker' AND ("
            " r.serves_code = i.sector_code OR r.serves_code = i.grid2_code OR EXISTS ("
            "  SELECT 1 FROM units u WHERE u.code = r.serves_code AND u.valid_to IS NULL"
            "  AND u.parent_code = i.grid2_code)) "
            "WHERE i.id = :id ORDER BY sector_team DESC, r.id"
        ),
        {"id": incident_id},
    ).mappings()
    return [dict(r) for r in rows]


def workers_by_case(conn: Connection, incident_ids: list[str]) -> dict[str, list[str]]:
    """For each open case, the ids of the grid workers it may be assigned to (one query)."""
    rows = conn.execute(
        text(
            "SELECT i.id, array_agg(r.id ORDER BY r.serves_code <> i.sector_code, r.id) AS ids "
            "FROM incidents i JOIN resources r ON r.kind = 'grid_worker' AND ("
            " r.serves_code = i.sector_code OR r.serves_code = i.grid2_code OR EXISTS ("
            "  SELECT 1 FROM units u WHERE u.code = r.serves_code AND u.valid_to IS NULL"
            "  AND u.parent_code = i.grid2_code)) "
            "WHERE i.id = ANY(:ids) GROUP BY i.id"
        ),
        {"ids": incident_ids},
    ).all()
    return {r.id: list(r.ids) for r in rows}


def nearby_open(
    conn: Connection,
    principal: Principal,
    lon: float,
    lat: float,
    category: str,
    now: datetime | None = None,
) -> list[dict]:
    """Before filing: the open cases of `category` the caller may see within the duplicate
    radius of (lon, lat) (WGS 84) reported in the duplicate window, nearest first."""
    settings = get_settings()
    now = now or datetime.now(UTC)
    lon, lat = to_wgs84(lon, lat)
    category_row(conn, category)
    visible, params = incident_visibility(principal, "i")
    rows = conn.execute(
        text(
            f"""
            WITH here AS (SELECT ST_SetSRID(ST_MakePoint(:lon, :lat), 4326) AS g)
            SELECT i.id, i.status, i.description, i.observed_at,
                   round(ST_Distance(ST_Transform(i.geom, 4542),
                                     ST_Transform(here.g, 4542))::numeric, 1) AS distance_m
            FROM incidents i, here
            WHERE i.category = :category AND i.status <> ALL(CAST(:closed AS text[]))
              AND ST_DWithin(i.geom, here.g, :degrees)
              AND i.observed_at >= :since AND {visible}
              AND ST_Distance(ST_Transform(i.geom, 4542), ST_Transform(here.g, 4542)) <= :radius
            ORDER BY distance_m LIMIT 10
            """
        ),
        {
            "lon": lon,
            "lat": lat,
            "category": category,
            "closed": sorted(CLOSED_STATUSES),
            "degrees": 1.1 * longitude_degrees(settings.duplicate_radius_m),
            "radius": settings.duplicate_radius_m,
            "since": now - timedelta(hours=settings.duplicate_window_hours),
            **params,
        },
    ).mappings()
    return [
        {**r, "distance_m": float(r["distance_m"]), "status_zh": label(r["status"])} for r in rows
    ]

"""Incident intake, and one incident as a caller may see it.

`report_incident` takes a report from the field and, in the caller's one transaction,
checks it, attaches it (courtyard, sector, level-2 grid, community: `geo.grid.attach`), sets its
deadlines from its category's running limits (`geo.cases.deadlines`), stores it, opens it
through the one intake (`geo.cases.intake`: history, dispatch to its sector's team) and
returns it with the open incidents of the same category nearby, so the reporter can mark it
a duplicate.

`read_incident` returns one incident with its deadline flags (computed at the time of the
read, never stored), assigned workers and append-only history; key-population cases only
for those `geo.access.roles.incident_visibility` lets see them, personal fields masked for all
but admins (`geo.access.privacy`), and every unmasked read audited.

    >>> view, replayed = report_incident(conn, patrol, IncidentReport(   # doctest: +SKIP
    ...     lon=98.47, lat=39.76, category="sanitation", observed_at=datetime.now(UTC)))
    >>> view["status"], view["assigned_to"][0]["id"]                     # doctest: +SKIP
    ('dispatched', 'W012')
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np
from sqlalchemy import text
from sqlalchemy.engine import Connection

from geo.access import audit
from geo.access.privacy import exposure, mask_records
from geo.access.roles import Principal, incident_visibility
from geo.cases import flow as caseflow
from geo.cases.categories import category_row
from geo.cases.deadlines import DEADLINE_FLAGS, deadlines
from geo.cases.intake import open_cases
from geo.cases.workcalendar import load_calendar
from geo.core import coords
from geo.core.errors import InvalidInput, NotFound, SetupError
from geo.core.settings import get_settings
from geo.core.terms import CLOSED_STATUSES, label, longitude_degrees
from geo.grid.attach import hold_boundaries, locate_point

_KEY = re.compile(r"^[\x21-\x7e]{1,64}$")


@dataclass(frozen=True)
class IncidentReport:
    """What a reporter sends: where (in `crs`), what, when, and optionally how to reach them."""

    lon: float
    lat: float
    category: str
    observed_at: datetime
    description: str | None = None
    reporter_contact: str | None = None
    crs: str = "wgs84"


def to_wgs84(lon: float, lat: float, crs: str = "wgs84") -> tuple[float, float]:
    """The WGS 84 (lon, lat) of a point given in `crs` (any system the import accepts:
    wgs84, cgcs2000, gcj02, bd09; `geo.core.coords`), refusing what is not a lon/lat pair."""
    converted = coords.to_wgs84([lon], [lat], crs)
    problem = coords.lonlat_problems(converted.lon, converted.lat)[0]
    if problem or not (np.isfinite(converted.lon[0]) and np.isfinite(converted.lat[0])):
        raise InvalidInput(
            f"({lon}, {lat}) is not a longitude/latitude pair: {problem}", field="lon/lat"
        )
    return float(converted.lon[0]), float(converted.lat[0])


def _scoped_key(principal: Principal, key: str | None) -> str | None:
    """The stored form of an Idempotency-Key: per token, so two clients never collide."""
    if key is None:
        return None
    if not _KEY.match(key):
        raise InvalidInput(
            "Idempotency-Key must be 1 to 64 visible ASCII characters (e.g. a UUID)",
            field="Idempotency-Key",
        )
    return f"{principal.id}:{key}"


def _outside(conn: Connection, lon: float, lat: float, metres: float | None) -> Exception:
    if metres is None:
        return SetupError("the district's boundaries are not loaded; run `gridmap seed`")
    hint = ""
    if -90 <= lon <= 90 and locate_point(conn, lat, lon).inside:
        hint = " Did you swap lon and lat?"
    return InvalidInput(
        f"the point ({lon:.6f}, {lat:.6f}) lies {metres:,.0f} m outside 西北街街道 (Xibeijie "
        f"sub-district); only incidents inside the district can be reported.{hint}",
        field="lon/lat",
        distance_m=round(metres, 1),
    )


def report_incident(
    conn: Connection,
    principal: Principal,
    report: IncidentReport,
    idempotency_key: str | None = None,
    now: datetime | None = None,
) -> tuple[dict, bool]:
    """File a report, attach and dispatch it; returns (the incident as the reporter sees it,
    with `duplicates_nearby`; whether this was a replay of an earlier identical submission
    with the same idempotency key, which changes nothing).

    Raises InvalidInput for an unknown category or crs, a point outside the district (with
    `distance_m`), an observed time in the future, or a reused key with a different report."""
    now = now or datetime.now(UTC)
    key = _scoped_key(principal, idempotency_key)
    lon, lat = to_wgs84(report.lon, report.lat, report.crs)
    observed = caseflow.event_time(report.observed_at, now, field="observed_at")
    description = (report.description or "").strip() or None
    contact = (report.reporter_contact or "").strip() or None
    if key is not None:
        earlier = _replay(conn, principal, key, report.category, lon, lat, observed, description)
        if earlier is not None:
            return earlier, True
    category = category_row(conn, report.category)
    hold_boundaries(conn)
    place = locate_point(conn, lon, lat)
    if not place.inside:
        raise _outside(conn, lon, lat, place.outside_m)
    dispatch_due, due = deadlines(now, category, load_calendar(conn))
    row = conn.execute(
        text(
            "INSERT INTO incidents (category, status, description, observed_at, reported_at, "
            "reporter_contact, dispatch_due_at, due_at, idempotency_key, source, geom, "
            "courtyard_code, sector_code, grid2_code, community_code) VALUES (:category, "
            "'reported', :description, :observed, :now, :contact, :dispatch_due, :due, :key, "
            "'api', ST_SetSRID(ST_MakePoint(:lon, :lat), 4326), :courtyard, :sector, :grid2, "
            ":community) ON CONFLICT (idempotency_key) DO NOTHING RETURNING id"
        ),
        {
            "category": category["code"],
            "description": description,
            "observed": observed,
            "now": now,
            "contact": contact,
            "dispatch_due": dispatch_due,
            "due": due,
            "key": key,
            "lon": lon,
            "lat": lat,
            "courtyard": place.courtyard_code,
            "sector": place.sector_code,
            "grid2": place.grid2_code,
            "community": place.community_code,
        },
    ).first()
    if row is None:  # the same key committed by a concurrent request a moment ago
        earlier = _replay(conn, principal, key, report.category, lon, lat, observed, description)
        return earlier, True
    incident_id = row.id
    open_cases(conn, [incident_id], now, principal.actor, principal.id)
    return _as_reported(conn, principal, incident_id, now), False


def _as_reported(conn: Connection, principal: Principal, incident_id: str, now: datetime) -> dict:
    """The POST answer: the incident (even a restricted one, to its reporter) and the hint."""
    view = incident_view(conn, principal, incident_id, now, check_visibility=False)
    view["duplicates_nearby"] = duplicates_nearby(conn, principal, incident_id)
    return view


def _replay(
    conn: Connection,
    principal: Principal,
    key: str,
    category: str,
    lon: float,
    lat: float,
    observed: datetime,
    description: str | None,
) -> dict | None:
    """The incident an earlier submission with `key` created, or None; InvalidInput when
    the key was used for a different report."""
    row = conn.execute(
        text(
            "SELECT id, category, observed_at, description, ST_X(geom) AS lon, ST_Y(geom) AS lat "
            "FROM incidents WHERE idempotency_key = :key"
        ),
        {"key": key},
    ).first()
    if row is None:
        return None
    same = (
        row.category == category
        # the first submission may have been clamped to the server clock (allowed skew)
        and abs(row.observed_at - observed) <= timedelta(seconds=get_settings().clock_skew_seconds)
        and row.description == description
        and math.isclose(row.lon, lon, abs_tol=1e-9)
        and math.isclose(row.lat, lat, abs_tol=1e-9)
    )
    if not same:
        raise InvalidInput(
            f"this Idempotency-Key was already used for a different report ({row.id}); "
            "use a new key for a new report",
            field="Idempotency-Key",
            incident=row.id,
        )
    return _as_reported(conn, principal, row.id, datetime.now(UTC))


def duplicates_nearby(conn: Connection, principal: Principal, incident_id: str) -> list[dict]:
    """Open incidents of the same category as `incident_id` within the duplicate radius
    (metres, EPSG:4542) and time window (hours either side of its observed time) of
    `GRIDMAP_DUPLICATE_*`, nearest first, among those the caller may see."""
    settings = get_settings()
    visible, params = incident_visibility(principal, "i")
    closed = ", ".join(f"'{s}'" for s in sorted(CLOSED_STATUSES))
    rows = conn.execute(
        text(
            f"""
            SELECT i.id, i.category, i.status, i.observed_at, i.reported_at, i.description,
                   i.sector_code, round(ST_Distance(ST_Transform(i.geom, 4542),
                                                    ST_Transform(n.geom, 4542))::numeric, 1)
                   AS distance_m
            FROM incidents n
            JOIN incidents i ON i.id <> n.id AND i.category = n.category
             AND i.status NOT IN ({closed})
             AND ST_DWithin(i.geom, n.geom, :degrees)  -- index prefilter, wider than radius
             AND i.observed_at BETWEEN n.observed_at - :window AND n.observed_at + :window
            WHERE n.id = :id AND {visible}
              AND ST_Distance(ST_Transform(i.geom, 4542), ST_Transform(n.geom, 4542)) <= :radius
            ORDER BY distance_m, i.observed_at DESC
            LIMIT 20
            """
        ),
        {
            "id": incident_id,
            "radius": settings.duplicate_radius_m,
            # metres → degrees of longitude at the district's latitude, with slack
            "degrees": 1.1 * longitude_degrees(settings.duplicate_radius_m),
            "window": timedelta(hours=settings.duplicate_window_hours),
            **params,
        },
    ).mappings()
    return [{**r, "distance_m": float(r["distance_m"])} for r in rows]


def incident_view(
    conn: Connection,
    principal: Principal,
    incident_id: str,
    now: datetime | None = None,
    check_visibility: bool = True,
) -> dict:
    """One incident as `principal` may see it at `now` (default: the current time): its
    place, state (with Chinese and English names), deadlines and flags (`overdue`,
    `dispatch_overdue`, `closed_late`, `due_in_minutes`), assigned workers, the states the
    caller may move it to (`next`), and its history. NotFound if there is no such incident
    or (with `check_visibility`) the caller may not see it."""
    now = now or datetime.now(UTC)
    visible, params = incident_visibility(principal, "i")
    own, own_params = caseflow.ownership(principal, "i")
    row = (
        conn.execute(
            text(
                f"""
                SELECT i.id, i.category, c.name_zh AS category_zh, c.name_en AS category_en,
                       c.sensitive, i.status, i.description, i.observed_at, i.reported_at,
                       i.reporter_contact, ST_X(i.geom) AS lon, ST_Y(i.geom) AS lat,
                       i.courtyard_code, i.sector_code, i.grid2_code, i.community_code,
                       i.assigned_to, i.dispatched_at, i.dispatch_due_at, i.due_at,
                       i.resolved_at, i.closed_at, i.duplicate_of, i.source,
                       {DEADLINE_FLAGS.format(a="i")},
                       {visible} AS visible, {own} AS own
                FROM incidents i JOIN categories_in_force c ON c.code = i.category
                WHERE i.id = :id
                """
            ),
            {"id": incident_id, "now": now, **params, **own_params},
        )
        .mappings()
        .first()
    )
    if row is None or (check_visibility and not row["visible"]):
        raise NotFound(f"no incident {incident_id!r} you may see")
    view = dict(row)
    visible_now, own = view.pop("visible"), view.pop("own")
    view["status_zh"], view["status_en"] = label(row["status"]), label(row["status"], "en")
    view["closed"] = row["status"] in CLOSED_STATUSES
    view["due_in_minutes"] = (
        None if view["closed"] else math.floor((row["due_at"] - now).total_seconds() / 60)
    )
    workers = conn.execute(
        text(
            "SELECT id, kind, name_zh, serves_code FROM resources WHERE id = ANY(:ids) ORDER BY id"
        ),
        {"ids": list(row["assigned_to"] or [])},
    ).mappings()
    level = exposure(principal)
    view["assigned_to"] = mask_records("resources", workers, level)
    [view] = mask_records("incidents", [view], level)
    view["next"] = caseflow.moves_for(principal, row["status"], own) if visible_now else []
    events = caseflow.history(conn, incident_id)
    view["history"] = mask_records("events", events, level, own=principal.actor)
    personal = [f for f in ("reporter_contact",) if view[f]] + (
        ["assigned_to.name_zh"] if view["assigned_to"] else []
    )
    if principal.sees_personal_data and personal:
        audit.record(
            conn,
            principal,
            "personal_read",
            target=f"incidents/{incident_id}",
            detail={"fields": personal},
        )
    return view


def read_incident(
    conn: Connection, principal: Principal, incident_id: str, now: datetime | None = None
) -> dict:
    """`GET /api/incidents/{id}`: the incident with its history, if the caller may see it."""
    return incident_view(conn, principal, incident_id, now)


def change_status(
    conn: Connection,
    principal: Principal,
    incident_id: str,
    to: str,
    note: str | None = None,
    at: datetime | None = None,
    duplicate_of: str | None = None,
    now: datetime | None = None,
) -> dict:
    """Make one move of the case loop (`geo.cases.flow.transition`); returns the incident."""
    caseflow.transition(conn, principal, incident_id, to, note, at, duplicate_of, now)
    return incident_view(conn, principal, incident_id, now)


def note_incident(
    conn: Connection,
    principal: Principal,
    incident_id: str,
    note: str,
    at: datetime | None = None,
    now: datetime | None = None,
) -> dict:
    """Add a note to the case's history (`geo.cases.flow.add_note`); returns the incident."""
    caseflow.add_note(conn, principal, incident_id, note, at, now)
    return incident_view(conn, principal, incident_id, now)

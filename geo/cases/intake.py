"""Case intake: what happens to newly stored reports, one or many at once, whoever filed them.

The HTTP report (`geo.cases.incidents.report_incident`) and the file import
(`geo.imports.kinds.Incidents`) store their rows (attached to courtyard, sector, level-2
grid and community, with their deadlines from `geo.cases.deadlines`) in status `reported`,
then hand the new ids to `open_cases`, which in the caller's transaction and set-based:
writes each case's `report` event, dispatches those whose sector (or level-2 grid) has a
team (`geo.cases.dispatch.dispatch_reported`: status `dispatched` and a `dispatch` event),
and leaves the rest `reported` with a `note` saying nobody serves the sector yet.

    >>> filed = open_cases(conn, ["I0000025001"], now, "patrol:p1")   # doctest: +SKIP
    >>> filed.dispatched, filed.waiting                               # doctest: +SKIP
    ({'I0000025001': ['W012']}, [])
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import text
from sqlalchemy.engine import Connection

from geo.cases.dispatch import dispatch_reported
from geo.cases.flow import SYSTEM, EventKind

#: the note of a case nobody can be dispatched to (the sector's code is put before it)
NOBODY_SERVES = (
    " 及其二级网格无网格员, 待人工派遣 · no grid worker serves this sector or its level-2 "
    "grid; waiting for an admin to dispatch"
)


@dataclass(frozen=True)
class Filed:
    """The outcome of intake: who each dispatched case went to, and the cases left waiting."""

    dispatched: dict[str, list[str]]
    waiting: list[str]


def open_cases(
    conn: Connection,
    ids: list[str],
    at: datetime,
    actor: str,
    actor_id: str | None = None,
    report_note: str | None = None,
) -> Filed:
    """Open the stored, `reported` cases `ids`: a `report` event each (at its `reported_at`,
    by `actor`; the note is `report_note`, or 上报 with the case's description), then
    dispatch at `at` or a note that nobody serves the case's sector. Returns a `Filed`."""
    if not ids:
        return Filed({}, [])
    conn.execute(
        text(
            "INSERT INTO incident_events (incident_id, at, actor, kind, from_status, to_status, "
            "note, actor_id) SELECT i.id, i.reported_at, :actor, :kind, NULL, 'reported', "
            "coalesce(CAST(:note AS text), '上报' || coalesce(': ' || i.description, '')), "
            ":actor_id FROM incidents i WHERE i.id = ANY(CAST(:ids AS text[])) ORDER BY i.id"
        ),
        {
            "ids": ids,
            "actor": actor,
            "actor_id": actor_id,
            "note": report_note,
            "kind": EventKind.REPORT.value,
        },
    )
    dispatched = dispatch_reported(conn, ids, at, SYSTEM)
    waiting = [i for i in ids if i not in dispatched]
    conn.execute(
        text(
            "INSERT INTO incident_events (incident_id, at, actor, kind, from_status, to_status, "
            "note) SELECT i.id, :at, :actor, :kind, 'reported', 'reported', "
            "'片区 ' || coalesce(i.sector_code, '-') || :nobody FROM incidents i "
            "WHERE i.id = ANY(CAST(:ids AS text[])) ORDER BY i.id"
        ),
        {
            "ids": waiting,
            "at": at,
            "actor": SYSTEM,
            "kind": EventKind.NOTE.value,
            "nobody": NOBODY_SERVES,
        },
    )
    return Filed(dispatched, waiting)

"""Case intake: what happens to newly stored reports, one or many at once, whoever filed them.

The HTTP report (`geo.cases.incidents.report_incident`) and the file import
(`geo.imports.kinds.Incidents`) store their rows (attached to courtyard, sector, level-2
grid and community, with their deadlines from `geo.cases.deadlines`) in status `reported`
(or, inserting many at once, already in the state the team rule gives them:
`geo.cases.dispatch.DISPATCH_ON_INSERT`) and stage their ids (`stage` / `STAGE_SQL`);
`open_staged` then, in the caller's transaction and set-based: writes each case's `report`
event, dispatches those whose sector (or level-2 grid) has a team
(`geo.cases.dispatch.dispatch_reported`: status `dispatched` and a `dispatch` event), and
leaves the rest `reported` with a `note` saying nobody serves the sector yet. `open_cases`
does both for a list of ids.

    >>> open_cases(conn, ["I0000025001"], now, "patrol:p1")   # doctest: +SKIP
    Filed(dispatched=1, waiting=0)
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import text
from sqlalchemy.engine import Connection

from geo.cases.dispatch import dispatch_events, dispatch_reported
from geo.cases.flow import SYSTEM, EventKind
from geo.notify.events import on_case_event

#: the note of a case nobody can be dispatched to (the sector's code is put before it)
NOBODY_SERVES = (
    " 及其二级网格无网格员, 待人工派遣 · no grid worker serves this sector or its level-2 "
    "grid; waiting for an admin to dispatch"
)
#: the start of an INSERT that stages new case ids (follow it with a SELECT of one `id` column)
STAGE_SQL = "INSERT INTO pg_temp.intake_cases (id) "
_STAGED = "i.id IN (SELECT id FROM pg_temp.intake_cases)"


@dataclass(frozen=True)
class Filed:
    """The outcome of intake: how many cases were dispatched, how many wait for an admin."""

    dispatched: int
    waiting: int


def stage(conn: Connection, ids: list[str] | None = None) -> None:
    """Start an intake in this transaction: an empty list of staged cases (then `ids`)."""
    conn.execute(text("DROP TABLE IF EXISTS pg_temp.intake_cases"))
    conn.execute(text("CREATE TEMP TABLE intake_cases (id text PRIMARY KEY) ON COMMIT DROP"))
    if ids:
        conn.execute(text(STAGE_SQL + "SELECT unnest(CAST(:ids AS text[]))"), {"ids": ids})


def open_staged(
    conn: Connection,
    at: datetime,
    actor: str,
    actor_id: str | None = None,
    report_note: str | None = None,
    decided: bool = False,
) -> Filed:
    """Open the staged, `reported` cases: a `report` event each (at its `reported_at`, by
    `actor`; the note is `report_note`, or 上报 with the case's description), then dispatch
    at `at`, or a note that nobody serves the case's sector. `decided`: the cases were
    stored by `DISPATCH_ON_INSERT` (dispatched, or reported because nobody serves them), so
    only their events are written. Returns a `Filed`."""
    conn.execute(
        text(
            "INSERT INTO incident_events (incident_id, at, actor, kind, from_status, to_status, "
            "note, actor_id, subdistrict) SELECT i.id, i.reported_at, :actor, :kind, NULL, "
            "'reported', "
            "coalesce(CAST(:note AS text), '上报' || coalesce(': ' || i.description, '')), "
            f":actor_id, i.subdistrict FROM incidents i WHERE {_STAGED} ORDER BY i.id"
        ),
        {"actor": actor, "actor_id": actor_id, "note": report_note, "kind": EventKind.REPORT.value},
    )
    # cases a set-based insert stored dispatched already (`DISPATCH_ON_INSERT`), then the rest
    dispatched = dispatch_events(conn, _STAGED, {}, at, SYSTEM)
    if not decided:  # (a million imported cases: a 7-14 s look for nothing)
        dispatched += dispatch_reported(conn, _STAGED, {}, at, SYSTEM)
    waiting = conn.execute(
        text(
            "INSERT INTO incident_events (incident_id, at, actor, kind, from_status, to_status, "
            "note, subdistrict) SELECT i.id, :at, :actor, :kind, 'reported', 'reported', "
            "'片区 ' || coalesce(i.sector_code, '-') || :nobody, i.subdistrict FROM incidents i "
            f"WHERE {_STAGED} AND i.status = 'reported' ORDER BY i.id"
        ),
        {"at": at, "actor": SYSTEM, "kind": EventKind.NOTE.value, "nobody": NOBODY_SERVES},
    ).rowcount
    return Filed(dispatched, waiting)


def open_cases(
    conn: Connection,
    ids: list[str],
    at: datetime,
    actor: str,
    actor_id: str | None = None,
    report_note: str | None = None,
) -> Filed:
    """`open_staged` of the stored, `reported` cases `ids`, and the workers of each case
    dispatched told of it (`geo.notify`; a file import of many cases tells nobody, as the
    import did before there was one intake)."""
    stage(conn, ids)
    filed = open_staged(conn, at, actor, actor_id, report_note)
    dispatched = conn.execute(
        text("SELECT id FROM incidents WHERE id = ANY(:ids) AND status = 'dispatched'"),
        {"ids": ids},
    ).scalars()
    for incident_id in dispatched:
        on_case_event(conn, incident_id, EventKind.DISPATCH, "reported", "dispatched")
    return filed

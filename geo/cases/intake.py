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

from geo.cases.dispatch import DISPATCH_NOTE, dispatch_reported
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


#: a case's `report` event (over `i`, the stored case): at its `reported_at`, by :actor
#: (:actor_id), saying :note or 上报 with the case's description
_REPORT = (
    "i.reported_at, CAST(:actor AS text), CAST(:report AS text), CAST(NULL AS text), 'reported', "
    "coalesce(CAST(:note AS text), '上报' || coalesce(': ' || i.description, '')), "
    "CAST(:actor_id AS text)"
)
#: the note of a staged case `i` nobody can be dispatched to (binds :nobody)
_NOBODY_NOTE = "'片区 ' || coalesce(i.sector_code, '-') || :nobody"
_EVENTS = (
    "INSERT INTO incident_events (incident_id, at, actor, kind, from_status, to_status, "
    "note, actor_id, subdistrict) "
)


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
    both events of each are written in one pass. Returns a `Filed`."""
    params = {
        "actor": actor,
        "actor_id": actor_id,
        "note": report_note,
        "at": at,
        "system": SYSTEM,
        "nobody": NOBODY_SERVES,
        "report": EventKind.REPORT.value,
        "dispatch": EventKind.DISPATCH.value,
        "note_kind": EventKind.NOTE.value,
    }
    if decided:  # a million imported cases: one scan instead of three
        sql = f"""
            WITH written AS (
                {_EVENTS}
                SELECT i.id, e.at, e.actor, e.kind, e.from_status, e.to_status, e.note,
                       e.actor_id, i.subdistrict
                FROM incidents i CROSS JOIN LATERAL (VALUES
                    (0, {_REPORT}),
                    (1, CAST(:at AS timestamptz), CAST(:system AS text),
                     CASE WHEN i.status = 'dispatched' THEN :dispatch ELSE :note_kind END,
                     'reported', i.status,
                     CASE WHEN i.status = 'dispatched' THEN {DISPATCH_NOTE.format(c="i")}
                          ELSE {_NOBODY_NOTE} END,
                     CAST(NULL AS text))
                ) e (n, at, actor, kind, from_status, to_status, note, actor_id)
                WHERE {_STAGED}
                ORDER BY i.id, e.n
                RETURNING kind
            )
            SELECT count(*) FILTER (WHERE kind = :dispatch),
                   count(*) FILTER (WHERE kind = :note_kind)
            FROM written
        """
        dispatched, waiting = conn.execute(text(sql), params).one()
        return Filed(dispatched, waiting)
    conn.execute(
        text(
            f"{_EVENTS} SELECT i.id, {_REPORT}, i.subdistrict FROM incidents i "
            f"WHERE {_STAGED} ORDER BY i.id"
        ),
        params,
    )
    dispatched = dispatch_reported(conn, _STAGED, {}, at, SYSTEM)
    waiting = conn.execute(
        text(
            f"{_EVENTS} SELECT i.id, :at, :system, :note_kind, 'reported', 'reported', "
            f"{_NOBODY_NOTE}, NULL, i.subdistrict FROM incidents i "
            f"WHERE {_STAGED} AND i.status = 'reported' ORDER BY i.id"
        ),
        params,
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

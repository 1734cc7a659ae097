"""Which case events tell whom: called by `geo.cases.flow.record_event` for every event it
appends, in the same transaction, so a notification or a webhook message exists exactly
when its event does.

| event (`incident_events.kind`) | notification | to | webhook |
|---|---|---|---|
| `dispatch` (and `redispatch` written one by one) | `dispatch` | the team | yes |
| `assign` (first owner / a new one) | `assign` / `reassign` | the owner | yes |
| `transition` resolved → in_progress | `sent_back` | the owner, else the team | yes |
"""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.engine import Connection

from geo.notify import webhooks
from geo.notify.inbox import NoticeKind, notify_case


def notice_for(
    conn: Connection, incident_id: str, kind: str, from_status: str | None, to_status: str | None
) -> NoticeKind | None:
    """The notification an event of `kind` (from → to) causes, or None."""
    if kind in ("dispatch", "redispatch"):
        return NoticeKind.DISPATCH
    if kind == "assign":
        owners = conn.execute(
            text(
                "SELECT count(*) FROM incident_events WHERE incident_id = :id AND kind = 'assign'"
            ),
            {"id": incident_id},
        ).scalar_one()
        return NoticeKind.REASSIGN if owners > 1 else NoticeKind.ASSIGN
    if kind == "transition" and (from_status, to_status) == ("resolved", "in_progress"):
        return NoticeKind.SENT_BACK
    return None


def on_case_event(
    conn: Connection, incident_id: str, kind: str, from_status: str | None, to_status: str | None
) -> None:
    """Notify the workers concerned and queue the webhook messages of one case event."""
    notice = notice_for(conn, incident_id, str(kind), from_status, to_status)
    if notice is None:
        return
    notify_case(conn, incident_id, notice, team=notice == NoticeKind.DISPATCH)
    webhooks.enqueue(conn, incident_id, notice.value)

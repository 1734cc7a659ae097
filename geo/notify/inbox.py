"""Notifications per user: created in the transaction of the case event that causes them
(a new dispatch, an assignment or reassignment, a case sent back) or by the deadline sweep
(due within the hour, overdue: once per case and kind), listed and marked read per user.

The users told are the accounts linked to the workers concerned (`users.worker_id`): the
case's owner when it has one, else its team (`incidents.assigned_to`).

    >>> unread_count(conn, principal)                                  # doctest: +SKIP
    3
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from enum import StrEnum

from sqlalchemy import text
from sqlalchemy.engine import Connection

from geo.access.roles import Principal
from geo.core.errors import NotFound
from geo.core.settings import get_settings
from geo.core.terms import BEIJING, CLOSED_SQL


class NoticeKind(StrEnum):
    """What a notification tells (`notifications.kind`)."""

    DISPATCH = "dispatch"  # a new case for my team
    ASSIGN = "assign"  # I am made the case's owner
    REASSIGN = "reassign"  # the case's owner changed (to me)
    SENT_BACK = "sent_back"  # verification failed: back to in progress
    DUE_SOON = "due_soon"  # its deadline is within the hour (sweep)
    OVERDUE = "overdue"  # past its deadline (sweep)


#: the wording of each kind, Chinese first; {id}, {category}, {sector}, {due} filled in
WORDING: dict[NoticeKind, tuple[str, str]] = {
    NoticeKind.DISPATCH: (
        "新派遣事件 {id} · {category_zh} · 片区 {sector}",
        "New case {id} · {category_en} · sector {sector}",
    ),
    NoticeKind.ASSIGN: (
        "事件 {id} 已指派给您 · {category_zh}",
        "Case {id} assigned to you · {category_en}",
    ),
    NoticeKind.REASSIGN: (
        "事件 {id} 改派给您 · {category_zh}",
        "Case {id} reassigned to you · {category_en}",
    ),
    NoticeKind.SENT_BACK: (
        "事件 {id} 被退回重办 · {category_zh}",
        "Case {id} sent back · {category_en}",
    ),
    NoticeKind.DUE_SOON: ("事件 {id} 将于 {due} 到期", "Case {id} is due at {due}"),
    NoticeKind.OVERDUE: ("事件 {id} 已超期 (期限 {due})", "Case {id} is overdue (due {due})"),
}

#: the facts of a case a notification or a webhook message may carry (no personal data)
CASE_FACTS = (
    "SELECT i.id, i.category, c.name_zh AS category_zh, c.name_en AS category_en, "
    "i.sector_code, i.grid2_code, i.community_code, i.due_at, i.status, i.owner_id, "
    "i.assigned_to FROM incidents i JOIN categories_in_force c ON c.code = i.category "
    "WHERE i.id = :id"
)

_RECIPIENTS = (
    "SELECT u.id FROM users u JOIN incidents i ON i.id = :id "
    "WHERE u.disabled_at IS NULL AND u.worker_id IS NOT NULL AND u.worker_id = ANY("
    "  CASE WHEN :team OR i.owner_id IS NULL THEN coalesce(i.assigned_to, '{}') "
    "  ELSE ARRAY[i.owner_id] END)"
)


def case_facts(conn: Connection, incident_id: str) -> dict | None:
    row = conn.execute(text(CASE_FACTS), {"id": incident_id}).mappings().first()
    return dict(row) if row else None


def beijing_minute(at: datetime) -> str:
    """`2026-12-01 20:30` in Beijing time (UTC+8, no daylight saving)."""
    return at.astimezone(BEIJING).strftime("%Y-%m-%d %H:%M")


def wording(kind: NoticeKind, case: dict) -> tuple[str, str]:
    """The Chinese and English text of a notification of `kind` about `case`."""
    values = {
        "id": case["id"],
        "category_zh": case["category_zh"],
        "category_en": case["category_en"],
        "sector": case["sector_code"] or "–",
        "due": beijing_minute(case["due_at"]) if case["due_at"] else "–",
    }
    zh, en = WORDING[kind]
    return zh.format(**values), en.format(**values)


def notify_case(conn: Connection, incident_id: str, kind: NoticeKind, team: bool = False) -> int:
    """Tell the users of the workers concerned (the owner, or the whole team when `team` or
    when there is no owner) of `kind` on the case; returns how many were told. The
    sweep's kinds are written at most once per user, case and kind."""
    case = case_facts(conn, incident_id)
    if case is None:
        return 0
    zh, en = wording(kind, case)
    rows = conn.execute(
        text(
            # the case's sub-district, also when the (unscoped) deadline sweep writes it
            "INSERT INTO notifications (user_id, incident_id, kind, message_zh, message_en, "
            "subdistrict) SELECT r.id, :id, :kind, :zh, :en, "
            f"(SELECT subdistrict FROM incidents WHERE id = :id) FROM ({_RECIPIENTS}) r "
            "ON CONFLICT DO NOTHING RETURNING id"
        ),
        {"id": incident_id, "kind": kind.value, "zh": zh, "en": en, "team": team},
    ).all()
    return len(rows)


def _mine(principal: Principal) -> int:
    """The caller's user id; a program's token (nobody's) has -1, which no row carries."""
    return principal.user_id if principal.user_id is not None else -1


def unread_count(conn: Connection, principal: Principal) -> int:
    """How many notifications the caller has not read (0 for a program's token)."""
    if principal.user_id is None:
        return 0
    return conn.execute(
        text("SELECT count(*) FROM notifications WHERE user_id = :u AND read_at IS NULL"),
        {"u": principal.user_id},
    ).scalar_one()


def notifications(
    conn: Connection,
    principal: Principal,
    unread: bool = False,
    after_id: int = 0,
    limit: int = 50,
) -> dict:
    """The caller's notifications, newest first (`after_id`: only newer ones), with the
    unread count: `{"unread": N, "items": [{id, kind, incident_id, message_zh, message_en,
    created_at, read_at, url}]}`."""
    user = _mine(principal)
    rows = conn.execute(
        text(
            "SELECT id, kind, incident_id, message_zh, message_en, created_at, read_at "
            "FROM notifications WHERE user_id = :u AND id > :after "
            "AND (NOT :unread OR read_at IS NULL) ORDER BY id DESC LIMIT :limit"
        ),
        {"u": user, "after": after_id, "unread": unread, "limit": limit},
    ).mappings()
    items = [{**r, "url": f"/cases/{r['incident_id']}" if r["incident_id"] else None} for r in rows]
    return {"unread": unread_count(conn, principal), "items": items}


def latest_id(conn: Connection, principal: Principal) -> int:
    """The id of the caller's newest notification (0 when none)."""
    return conn.execute(
        text("SELECT coalesce(max(id), 0) FROM notifications WHERE user_id = :u"),
        {"u": _mine(principal)},
    ).scalar_one()


def mark_read(conn: Connection, principal: Principal, notification_id: int | None) -> dict:
    """Mark one of the caller's notifications read (None: all of them); NotFound for
    another user's. Returns the unread count after."""
    user = _mine(principal)
    if notification_id is None:
        conn.execute(
            text("UPDATE notifications SET read_at = now() WHERE user_id = :u AND read_at IS NULL"),
            {"u": user},
        )
    else:
        found = conn.execute(
            text(
                "UPDATE notifications SET read_at = coalesce(read_at, now()) "
                "WHERE id = :n AND user_id = :u RETURNING id"
            ),
            {"n": notification_id, "u": user},
        ).first()
        if found is None:
            raise NotFound(f"no notification {notification_id} of yours")
    return {"unread": unread_count(conn, principal)}


def sweep_deadlines(conn: Connection, now: datetime | None = None) -> dict[str, int]:
    """The periodic sweep: tell the workers of every open case due within
    `GRIDMAP_NOTIFY_DUE_SOON_MINUTES` (due soon) or past due (overdue), once per case and
    kind (running it again changes nothing); overdue cases (of the last day) also go to the
    webhooks, once. A case swept is written down (`deadline_sweeps`, 0020d) whether anyone
    was told or not: one without a worker's account is not taken up again every sweep, and
    of two processes sweeping at once only one tells.
    Returns how many cases of each kind this sweep took up."""
    from geo.notify import webhooks  # the webhook outbox sits beside the inbox

    now = now or datetime.now(UTC)
    soon = timedelta(minutes=get_settings().notify_due_soon_minutes)
    swept = {}
    for kind, window in (
        (NoticeKind.DUE_SOON, "i.due_at > :now AND i.due_at <= :now + :soon"),
        # a day back at most: the seeded history's long-overdue cases are not news
        (NoticeKind.OVERDUE, "i.due_at <= :now AND i.due_at > :now - interval '1 day'"),
    ):
        ids = (
            conn.execute(
                text(
                    "INSERT INTO deadline_sweeps (incident_id, kind, subdistrict) "
                    "SELECT i.id, :kind, i.subdistrict FROM incidents i "
                    f"WHERE i.status NOT IN {CLOSED_SQL} AND i.status <> 'reported' AND {window} "
                    "AND NOT EXISTS (SELECT 1 FROM deadline_sweeps s "
                    " WHERE s.incident_id = i.id AND s.kind = :kind) "
                    "ORDER BY i.due_at LIMIT 500 ON CONFLICT DO NOTHING RETURNING incident_id"
                ),
                {"now": now, "soon": soon, "kind": kind.value},
            )
            .scalars()
            .all()
        )
        swept[kind.value] = len(ids)
        for incident_id in ids:
            notify_case(conn, incident_id, kind)
            if kind == NoticeKind.OVERDUE:
                webhooks.enqueue(conn, incident_id, kind.value, once=True)
    return swept

"""The audit log: who did what, when, from where. Append-only (the database refuses edits)."""

from __future__ import annotations

import json
from datetime import datetime

from sqlalchemy import text
from sqlalchemy.engine import Connection

from geo.access.roles import Principal


def record(
    conn: Connection,
    actor: Principal | str,
    action: str,
    target: str | None = None,
    status: int | None = None,
    remote_addr: str | None = None,
    detail: dict | None = None,
) -> None:
    """Append one entry, in the caller's transaction."""
    name, role = (actor.actor, actor.role.value) if isinstance(actor, Principal) else (actor, None)
    conn.execute(
        text(
            "INSERT INTO audit_log (actor, role, action, target, status, remote_addr, detail) "
            "VALUES (:actor, :role, :action, :target, :status, :remote, CAST(:detail AS jsonb))"
        ),
        {
            "actor": name,
            "role": role,
            "action": action,
            "target": target,
            "status": status,
            "remote": remote_addr,
            "detail": json.dumps(detail, ensure_ascii=False, default=str)
            if detail is not None
            else None,
        },
    )


def entries(
    conn: Connection,
    since: datetime | None = None,
    action: str | None = None,
    actor: str | None = None,
    limit: int = 100,
    offset: int = 0,
) -> list[dict]:
    """Entries newest first, filtered by time, action prefix and actor substring."""
    rows = conn.execute(
        text(
            "SELECT id, at, actor, role, action, target, status, remote_addr, detail "
            "FROM audit_log WHERE (CAST(:since AS timestamptz) IS NULL OR at >= :since) "
            "AND (CAST(:action AS text) IS NULL OR action LIKE :action || '%') "
            "AND (CAST(:actor AS text) IS NULL OR actor LIKE '%' || :actor || '%') "
            "ORDER BY id DESC LIMIT :limit OFFSET :offset"
        ),
        {"since": since, "action": action, "actor": actor, "limit": limit, "offset": offset},
    ).mappings()
    return [dict(r) for r in rows]

"""Sign-in sessions: a random cookie value, stored only as its SHA-256, with idle and
absolute timeouts (settings `session_idle_minutes`, `session_max_hours`).

The cookie value is not a token: `access.authenticate` never finds it. Each session has a
CSRF token derived from the cookie value (a different hash), which the pages send back
with every write.

    >>> cookie = start(conn, user_id=7)            # doctest: +SKIP
    >>> resolve(conn, cookie).id                   # doctest: +SKIP
    'user:7'
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from sqlalchemy import text
from sqlalchemy.engine import Connection

from geo.access.accounts import get_user
from geo.access.roles import Principal
from geo.core.settings import get_settings


def _hash(cookie: str) -> str:
    return hashlib.sha256(cookie.encode()).hexdigest()


def csrf_token(cookie: str) -> str:
    """The session's CSRF token: from the cookie value, but not the cookie's stored hash."""
    return hashlib.sha256(b"gridmap-csrf:" + cookie.encode()).hexdigest()


def csrf_matches(cookie: str, sent: str | None) -> bool:
    return bool(sent) and hmac.compare_digest(csrf_token(cookie), sent)


def start(conn: Connection, user_id: int) -> str:
    """A new session for the user; the cookie value, returned once."""
    cookie = secrets.token_urlsafe(32)
    conn.execute(
        # the session belongs to the user's sub-district (signing in is not scoped yet)
        text(
            "INSERT INTO user_sessions (session_hash, user_id, subdistrict) "
            "SELECT :h, id, subdistrict FROM users WHERE id = :u"
        ),
        {"h": _hash(cookie), "u": user_id},
    )
    return cookie


def resolve(conn: Connection, cookie: str) -> Principal | None:
    """The signed-in user of a live session (enabled, within both timeouts), or None.
    Notes the activity (once a minute), which moves the idle timeout."""
    settings = get_settings()
    row = conn.execute(
        text(
            "SELECT s.id, s.user_id, s.last_seen_at > now() - interval '1 minute' AS recent "
            "FROM user_sessions s JOIN users u ON u.id = s.user_id "
            "WHERE s.session_hash = :h AND s.ended_at IS NULL AND u.disabled_at IS NULL "
            "AND s.last_seen_at > now() - make_interval(mins => :idle) "
            "AND s.created_at > now() - make_interval(hours => :max)"
        ),
        {
            "h": _hash(cookie),
            "idle": settings.session_idle_minutes,
            "max": settings.session_max_hours,
        },
    ).first()
    if row is None:
        return None
    if not row.recent:
        conn.execute(
            text("UPDATE user_sessions SET last_seen_at = now() WHERE id = :id"), {"id": row.id}
        )
    return get_user(conn, row.user_id).principal(session_id=row.id)


def end(conn: Connection, cookie: str) -> None:
    """Sign out: the session ends at once (the cookie is refused from now on)."""
    conn.execute(
        text("UPDATE user_sessions SET ended_at = now() WHERE session_hash = :h"),
        {"h": _hash(cookie)},
    )


def end_others(conn: Connection, user_id: int, keep_session_id: int | None) -> None:
    """After a password change: every other session of the user ends."""
    conn.execute(
        text(
            "UPDATE user_sessions SET ended_at = now() WHERE user_id = :u AND ended_at IS NULL "
            "AND id IS DISTINCT FROM :keep"
        ),
        {"u": user_id, "keep": keep_session_id},
    )

"""Throttling of guesses: failed sign-ins per account and per address, bad tokens per address.

Failures are rows of `auth_failures`, so every server process counts the same ones. Over
the limit within the window (settings `throttle_window_seconds`, `login_failures_per_*`,
`token_failures_per_address`) the next attempt is refused before any password is checked:

    >>> check(conn, LOGIN, account="13800000000", address="10.0.0.9")   # doctest: +SKIP
    TooManyRequests: ... retry after 840 s
"""

from __future__ import annotations

import math

from sqlalchemy import text
from sqlalchemy.engine import Connection

from geo.core.errors import TooManyRequests
from geo.core.settings import get_settings

LOGIN = "login"
TOKEN = "token"


def _wait(conn: Connection, kind: str, column: str, value: str | None, limit: int) -> int:
    """Seconds until fewer than `limit` failures of `value` remain in the window (0: now)."""
    if value is None:
        return 0
    window = get_settings().throttle_window_seconds
    row = conn.execute(
        text(
            f"SELECT count(*) AS n, EXTRACT(EPOCH FROM (min(at) + make_interval(secs => :w) "
            f"- now())) AS left FROM (SELECT at FROM auth_failures WHERE kind = :kind "
            f"AND {column} = :value AND at > now() - make_interval(secs => :w) "
            f"ORDER BY at DESC LIMIT :limit) recent"
        ),
        {"kind": kind, "value": value, "w": window, "limit": limit},
    ).first()
    if row.n < limit:
        return 0
    return max(1, math.ceil(row.left or 1))


def check(conn: Connection, kind: str, account: str | None, address: str | None) -> None:
    """Refuse (TooManyRequests, with the seconds to wait) an attempt over the limits."""
    settings = get_settings()
    if kind == LOGIN:
        waits = [
            _wait(conn, kind, "account", account, settings.login_failures_per_account),
            _wait(conn, kind, "address", address, settings.login_failures_per_address),
        ]
    else:
        waits = [_wait(conn, kind, "address", address, settings.token_failures_per_address)]
    wait = max(waits)
    if wait:
        raise TooManyRequests(f"too many failed attempts; retry after {wait} s", retry_after=wait)


def record_failure(conn: Connection, kind: str, account: str | None, address: str | None) -> None:
    """Count one failure (in the caller's transaction; commit it even when refusing)."""
    conn.execute(
        text("INSERT INTO auth_failures (kind, account, address) VALUES (:k, :acc, :addr)"),
        {"k": kind, "acc": (account or "")[:64] or None, "addr": (address or "")[:64] or None},
    )


def forget_account(conn: Connection, account: str) -> None:
    """A successful sign-in clears the account's failures (not its address's)."""
    conn.execute(
        text("DELETE FROM auth_failures WHERE kind = :k AND account = :acc"),
        {"k": LOGIN, "acc": account[:64]},
    )

"""Is the database answering? A watcher thread pings it on its own connection, so the
service can answer 503 at once while it is down or frozen, and recover by itself.

    >>> watch = DatabaseWatch(engine, interval=2.0, timeout=5.0).start()   # doctest: +SKIP
    >>> watch.reachable
    True

A frozen server (SIGSTOP, a hung host) accepts TCP connections but never answers, and
libpq has no client-side timeout for a query on an open connection: the ping would hang
with everything else. So reachability is judged by the age of the last good answer, not by
the ping's own outcome alone: a ping still waiting after `timeout` seconds counts as down.
"""

from __future__ import annotations

import threading
import time

from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine


class DatabaseWatch:
    """Pings `engine`'s database every `interval` seconds; `reachable` is False while a ping
    has waited more than `timeout` seconds for its answer, or after one failed."""

    def __init__(self, engine: Engine, interval: float, timeout: float) -> None:
        self.engine, self.interval, self.timeout = engine, interval, timeout
        self._ping_started: float | None = None  # monotonic time of the ping in flight
        self._failed = False
        #: why the last ping failed, for people (the URL's password masked)
        self.last_error = ""
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="gridmap-dbwatch", daemon=True)
        self._conn: Connection | None = None

    def start(self) -> DatabaseWatch:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()

    def reason(self) -> str:
        """Where the database is (password masked) and why it is not answering."""
        from geo.ops.database import masked

        url = masked(self.engine.url.render_as_string(hide_password=False))
        why = self.last_error if self._failed else f"no answer within {self.timeout:g} s"
        return f"cannot reach the database at {url}: {why}"

    @property
    def reachable(self) -> bool:
        started = self._ping_started
        hanging = started is not None and time.monotonic() - started > self.timeout
        return not hanging and not self._failed

    def _run(self) -> None:
        while not self._stop.is_set():
            self._ping_started = time.monotonic()
            try:
                try:
                    self._ping()
                except Exception:  # a connection gone stale: judge by a fresh one
                    self._drop()
                    self._ping()
                self._failed = False
            except Exception as exc:  # down, refused, reset: a new connection next time
                reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()
                self.last_error = reason[0] if reason else exc.__class__.__name__
                self._failed = True
                self._drop()
            self._ping_started = None
            self._stop.wait(self.interval)
        self._drop()

    def _ping(self) -> None:
        if self._conn is None:
            self._conn = self.engine.connect()
        self._conn.execute(text("SELECT 1")).scalar()
        self._conn.rollback()

    def _drop(self) -> None:
        if self._conn is not None:
            try:
                self._conn.invalidate()
                self._conn.close()
            except Exception:
                pass
            self._conn = None

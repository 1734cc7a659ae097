"""Which database answers a read: the read replica, unless it lacks the caller's own writes
or is down; then the primary.

Read-your-own-writes by the data version (`geo.core.dataversion`, the count of committed
changes): from the moment a caller's write is answered their reads are held on the primary
(`hold`), and once the request is over the primary's data version is remembered for them
(`note_write`; a route commits before it answers, `api.deps.CONN`); their reads
go to the primary until the replica's data version has reached it, and to the replica from
then on. Callers who wrote nothing lately read from the replica
without any check. The replica's version is cached for a moment: it only grows, so a cached
value can only send a read to the primary needlessly, never to a replica that lacks it.

A replica that refuses or fails a connection is left alone for `retry_s` seconds: reads go
to the primary meanwhile, and the service keeps answering.

    >>> reads = ReadRouter(primary, replica, retry_s=10)      # doctest: +SKIP
    >>> with reads.begin("user:7") as (conn, source):
    ...     source
    'replica'
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError

from geo.core.dataversion import data_version

PRIMARY = "primary"
#: longest a write just answered (its data version not yet noted) holds reads on the primary
HOLD_S = 5.0
REPLICA = "replica"


class ReadRouter:
    """Sends reads to `replica` (None: none configured) or `primary`, per caller."""

    def __init__(
        self,
        primary: Engine,
        replica: Engine | None,
        retry_s: float = 10.0,
        version_ttl_s: float = 0.5,
        marks_kept: int = 10_000,
    ) -> None:
        self.primary, self.replica = primary, replica
        self.retry_s, self.version_ttl_s, self.marks_kept = retry_s, version_ttl_s, marks_kept
        #: caller id → the primary's data version just after their last write
        self._marks: OrderedDict[str, int] = OrderedDict()
        #: caller id → until when their write in progress keeps their reads on the primary
        self._held: dict[str, float] = {}
        self._lock = threading.Lock()
        self._down_until = 0.0
        self._replica_version: tuple[float, int] | None = None  # (monotonic time, version)
        #: why the replica last failed (no URL, no password), for /api/health
        self.last_error = ""

    @property
    def configured(self) -> bool:
        return self.replica is not None

    def hold(self, who: str) -> None:
        """`who` has written (their answer is on its way): their reads stay on the primary
        until `note_write`, at most `HOLD_S` seconds."""
        if self.replica is not None:
            with self._lock:
                self._held[who] = time.monotonic() + HOLD_S

    def note_write(self, who: str) -> None:
        """`who` has just committed a write: their reads stay on the primary until the
        replica has replayed it."""
        if self.replica is None:
            return
        with self.primary.connect() as conn:
            version = data_version(conn).version
        with self._lock:
            self._marks[who] = max(version, self._marks.pop(who, 0))
            self._held.pop(who, None)
            while len(self._marks) > self.marks_kept:
                self._marks.popitem(last=False)

    def _holding(self, who: str) -> bool:
        with self._lock:
            until = self._held.get(who)
            if until is not None and until < time.monotonic():
                del self._held[who]
                return False
            return until is not None

    def mark_of(self, who: str) -> int | None:
        with self._lock:
            return self._marks.get(who)

    def _failed(self, exc: Exception) -> None:
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()
        self.last_error = reason[0] if reason else exc.__class__.__name__
        self._down_until = time.monotonic() + self.retry_s
        self._replica_version = None

    def replica_usable(self) -> bool:
        """Configured, and not in its back-off after a failure."""
        return self.replica is not None and time.monotonic() >= self._down_until

    def _caught_up(self, mark: int) -> bool:
        cached = self._replica_version
        if cached is not None and cached[1] >= mark:
            return True
        if cached is not None and time.monotonic() - cached[0] < self.version_ttl_s:
            return False
        try:
            with self.replica.connect() as conn:
                version = data_version(conn).version
        except DBAPIError as exc:
            self._failed(exc)
            return False
        self._replica_version = (time.monotonic(), version)
        return version >= mark

    def choose(self, who: str | None) -> str:
        """`replica` when it is usable and has everything `who` wrote, else `primary`."""
        if not self.replica_usable():
            return PRIMARY
        if who and self._holding(who):
            return PRIMARY
        mark = self.mark_of(who) if who else None
        if mark is None:
            return REPLICA
        if not self._caught_up(mark):
            return PRIMARY
        with self._lock:  # caught up once is caught up for good: no more checks for them
            if self._marks.get(who) == mark:
                del self._marks[who]
        return REPLICA

    def _connect(self, who: str | None) -> tuple[Connection, str]:
        if self.choose(who) == REPLICA:
            try:
                return self.replica.connect(), REPLICA
            except DBAPIError as exc:
                self._failed(exc)
        return self.primary.connect(), PRIMARY

    @contextmanager
    def begin(self, who: str | None) -> Iterator[tuple[Connection, str]]:
        """A connection in one transaction for a read by `who`, and which database it is on
        (`replica` or `primary`); committed at the end like any other, rolled back on an
        error (on the replica, a write fails: only read-only work may come here)."""
        conn, source = self._connect(who)
        with conn, conn.begin():
            yield conn, source

    def health(self) -> dict:
        """For /api/health: is a replica configured, reachable, and how far behind."""
        from geo.ops.replica import replay_lag

        if self.replica is None:
            return {"configured": False}
        try:
            with self.replica.connect() as conn:
                lag = replay_lag(conn)
                version = data_version(conn).version
        except DBAPIError as exc:
            self._failed(exc)
            return {"configured": True, "reachable": False, "reason": self.last_error}
        return {
            "configured": True,
            "reachable": True,
            "in_recovery": lag["in_recovery"],
            "lag_s": lag["lag_s"],
            "data_version": version,
            "reads_to_primary_for_s": max(0.0, round(self._down_until - time.monotonic(), 1)),
        }

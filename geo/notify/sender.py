"""The service's background sender: a thread that posts the webhook outbox every
`GRIDMAP_WEBHOOK_POLL_S` and runs the deadline sweep every `GRIDMAP_NOTIFY_INTERVAL_S`.
Started and stopped by the service's lifespan; each process runs one (deliveries are
claimed with a lease, the sweep is idempotent, so several processes never double up).

    >>> sender = NotifySender(engine).start()                          # doctest: +SKIP
    >>> sender.stop()                                                  # doctest: +SKIP
"""

from __future__ import annotations

import logging
import threading
import time

from sqlalchemy.engine import Engine

from geo.core.settings import get_settings
from geo.notify import webhooks
from geo.notify.inbox import sweep_deadlines

log = logging.getLogger("gridmap.notify")


class NotifySender:
    def __init__(self, engine: Engine) -> None:
        settings = get_settings()
        self.engine = engine
        self.poll, self.interval = settings.webhook_poll_s, settings.notify_interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="gridmap-notify", daemon=True)
        self._next_sweep = 0.0

    def start(self) -> NotifySender:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                if time.monotonic() >= self._next_sweep:
                    self._next_sweep = time.monotonic() + self.interval
                    with self.engine.begin() as conn:
                        sweep_deadlines(conn)
                webhooks.send_due(self.engine)
            except Exception as exc:  # the database away, a bug: log, keep going
                log.warning("notification sender: %s", str(exc).splitlines()[0][:300])
            self._stop.wait(self.poll)

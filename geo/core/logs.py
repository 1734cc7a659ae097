"""Structured logs: one JSON object per line on stderr, level from `GRIDMAP_LOG_LEVEL`.

Only what an operator needs and nothing personal: the request line's route template (not
its query string, not its body), the caller as role and token id (never a name), status,
duration and the request id that is also in the answer's `X-Request-ID` header.

    >>> configure("INFO")                                       # doctest: +SKIP
    >>> logging.getLogger("gridmap.http").info("request", extra={"fields": {"status": 200}})
    {"ts": "2026-12-01T16:20:00.123Z", "level": "info", "logger": "gridmap.http", ...}
"""

from __future__ import annotations

import json
import logging
import sys
import traceback
from datetime import UTC, datetime

#: the loggers the service writes to (uvicorn's own are routed through the same formatter)
LOGGERS = ("gridmap", "uvicorn", "uvicorn.error")


class JsonFormatter(logging.Formatter):
    """A log record as one line of JSON: ts, level, logger, msg, then the record's `fields`."""

    def format(self, record: logging.LogRecord) -> str:
        line = {
            "ts": datetime.fromtimestamp(record.created, UTC)
            .isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        line.update(getattr(record, "fields", None) or {})
        if record.exc_info:
            # the exception's type and where it was raised, on the same line (no multi-line
            # traceback, and no exception message: it can quote the input)
            exc_type, _, tb = record.exc_info
            frames = traceback.extract_tb(tb)[-5:]
            line["error"] = exc_type.__name__ if exc_type else None
            line["where"] = [f"{f.filename.rsplit('/', 2)[-1]}:{f.lineno} {f.name}" for f in frames]
        return json.dumps(line, ensure_ascii=False, default=str)


def handler() -> logging.Handler:
    out = logging.StreamHandler(sys.stderr)
    out.setFormatter(JsonFormatter())
    return out


def configure(level: str = "INFO") -> None:
    """JSON lines on stderr for the service's loggers at `level` (idempotent)."""
    level = level.upper()
    for name in LOGGERS:
        logger = logging.getLogger(name)
        logger.handlers = [handler()]
        logger.setLevel(level)
        logger.propagate = False


def uvicorn_log_config(level: str = "INFO") -> dict:
    """uvicorn's `log_config`: its lines as JSON too; its access log is off (ours has more)."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": JsonFormatter}},
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "formatter": "json",
                "stream": "ext://sys.stderr",
            }
        },
        "loggers": {
            name: {"handlers": ["stderr"], "level": level.upper(), "propagate": False}
            for name in LOGGERS
        },
    }

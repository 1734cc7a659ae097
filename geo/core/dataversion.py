"""The data version: a number that grows with every committed change, for cache keys."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import text
from sqlalchemy.engine import Connection


@dataclass(frozen=True)
class DataVersion:
    version: int
    changed_at: datetime | None


def data_version(conn: Connection) -> DataVersion:
    """Count and time of the committed data changes (rows of `data_changes`)."""
    version, changed_at = conn.execute(text("SELECT count(*), max(at) FROM data_changes")).one()
    return DataVersion(version=version, changed_at=changed_at)

"""The district at a glance for the home page: units, people, shops, open and overdue cases.

    >>> s = district_summary(conn, principal)                          # doctest: +SKIP
    >>> s.units["sector"], s.households, s.incidents_open, s.data_version
    (22, 14268, 431, 7)

Counts of cases follow the caller's visibility (`geo.access.roles.incident_visibility`): roles
that may not see key-population cases do not count them. A grid worker also gets their
own grids (`own`): each unit they serve with its households, and the open and overdue
cases that are theirs (`geo.access.roles.own_cases`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import Connection

from geo.access.roles import Principal, incident_visibility, own_cases
from geo.cases.deadlines import DEADLINE_FLAGS
from geo.core.dataversion import data_version
from geo.core.terms import CLOSED_STATUSES

SQL_DIR = Path(__file__).parent / "sql"
_CLOSED = sorted(s.value for s in CLOSED_STATUSES)


@dataclass(frozen=True)
class OwnGrids:
    """A grid worker's grids: `units` are dicts (code, level, name_zh, name_en, households)."""

    units: list[dict]
    incidents_open: int
    incidents_overdue: int


@dataclass(frozen=True)
class DistrictSummary:
    """Counts at `as_of`; `units` maps a level (`community`, `grid2`, `sector`, ...) to the
    number of its current units; the data version is `geo.core.dataversion`'s."""

    units: dict[str, int]
    courtyards: int
    households: int
    residents: int
    shops: int
    incidents_open: int
    incidents_overdue: int
    data_version: int
    data_changed_at: datetime | None
    as_of: datetime
    own: OwnGrids | None = field(default=None)


def _sql(name: str) -> str:
    return (SQL_DIR / name).read_text()


def _open_cases(rule: str) -> str:
    """SQL of one row: the open and overdue cases among incidents `i` that satisfy `rule`."""
    return _sql("open_cases.sql").format(rule=rule, deadline_flags=DEADLINE_FLAGS.format(a="i"))


def district_summary(
    conn: Connection, principal: Principal, now: datetime | None = None
) -> DistrictSummary:
    """The summary as `principal` may see it, with cases open and overdue at `now`
    (default: the current time)."""
    now = now or datetime.now(UTC)
    visible, params = incident_visibility(principal)
    row = (
        conn.execute(
            text(_sql("district_summary.sql").format(open_cases=_open_cases(visible))),
            {"now": now, "closed": _CLOSED, **params},
        )
        .mappings()
        .one()
    )
    version = data_version(conn)
    return DistrictSummary(
        units=dict(row["units"]),
        courtyards=row["courtyards"],
        households=row["households"],
        residents=row["residents"],
        shops=row["shops"],
        incidents_open=row["incidents_open"],
        incidents_overdue=row["incidents_overdue"],
        data_version=version.version,
        data_changed_at=version.changed_at,
        as_of=now,
        own=_own_grids(conn, principal, now) if principal.scope_codes else None,
    )


def _own_grids(conn: Connection, principal: Principal, now: datetime) -> OwnGrids:
    own, params = own_cases(principal)
    row = (
        conn.execute(
            text(_sql("own_grids_summary.sql").format(open_cases=_open_cases(own))),
            {"codes": list(principal.scope_codes), "now": now, "closed": _CLOSED, **params},
        )
        .mappings()
        .one()
    )
    return OwnGrids(row["units"], row["incidents_open"], row["incidents_overdue"])

"""Which incidents a page, map or analysis shows: category, status, time window and grid,
checked, and the SQL that selects them for a caller (key-population cases only where they
may see them).

    >>> f = incident_filter(conn, category=["dispute"], since="2026-10-01")   # doctest: +SKIP
    >>> where, params = selection(principal, f)                              # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from urllib.parse import urlencode

from sqlalchemy import text
from sqlalchemy.engine import Connection

from geo.access.roles import Permission, Principal, incident_visibility
from geo.core.errors import InvalidInput
from geo.core.terms import BEIJING, LABELS, IncidentStatus

#: the district's clock (China Standard Time): dates without a time are local dates
LOCAL = BEIJING


@dataclass(frozen=True)
class IncidentFilter:
    """A checked selection of incidents. `until` is exclusive; empty tuples mean all."""

    categories: tuple[str, ...] = ()
    statuses: tuple[str, ...] = ()
    since: datetime | None = None
    until: datetime | None = None
    grid: str | None = None
    #: the chosen grid's name, for the page heading
    grid_name: str | None = field(default=None, compare=False)

    def key(self) -> dict:
        """A stable, JSON-able form (cache keys)."""
        return {
            "category": sorted(self.categories),
            "status": sorted(self.statuses),
            "since": self.since.isoformat() if self.since else None,
            "until": self.until.isoformat() if self.until else None,
            "grid": self.grid,
        }

    def query(self) -> str:
        """The query string that selects the same incidents (page links)."""
        pairs = [("category", c) for c in self.categories]
        pairs += [("status", s) for s in self.statuses]
        if self.since:
            pairs.append(("since", self.since.isoformat()))
        if self.until:
            pairs.append(("until", self.until.isoformat()))
        if self.grid:
            pairs.append(("grid", self.grid))
        return urlencode(pairs)


def _values(values: list[str] | str | None) -> list[str]:
    """Repeated and comma-separated parameters alike: `a,b` or `a&a`."""
    if values is None:
        return []
    if isinstance(values, str):
        values = [values]
    return [v.strip() for item in values for v in item.split(",") if v.strip()]


def parse_time(value: str | None, name: str, end: bool = False) -> datetime | None:
    """An ISO date or date-time; dates and times without an offset are local (UTC+8).
    A date as the end of a window (`end=True`) includes that whole day."""
    if value is None or not str(value).strip():
        return None
    value = str(value).strip()
    try:
        if len(value) == 10:
            day = date.fromisoformat(value)
            moment = datetime.combine(day, time(0), LOCAL)
            return moment + timedelta(days=1) if end else moment
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidInput(
            f"{name}={value!r} is not a date (2026-10-01) or date-time (2026-10-01T08:00+08:00)",
            field=name,
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=LOCAL)


def category_codes(conn: Connection) -> dict[str, dict]:
    """The running incident categories: code → {name_zh, name_en, sensitive}, in order."""
    rows = conn.execute(
        text("SELECT code, name_zh, name_en, sensitive FROM categories_in_force ORDER BY sort")
    ).mappings()
    return {r["code"]: dict(r) for r in rows}


def incident_filter(
    conn: Connection,
    category: list[str] | str | None = None,
    status: list[str] | str | None = None,
    since: str | None = None,
    until: str | None = None,
    grid: str | None = None,
) -> IncidentFilter:
    """A checked filter; unknown values, a reversed window or an unknown grid are
    `InvalidInput` naming the field and the allowed values."""
    known = category_codes(conn)
    categories = _values(category)
    unknown = [c for c in categories if c not in known]
    if unknown:
        raise InvalidInput(
            f"unknown incident category {', '.join(map(repr, unknown))}; "
            f"one of: {', '.join(known)}",
            field="category",
            allowed=list(known),
        )
    statuses = _values(status)
    allowed = [s.value for s in IncidentStatus]
    unknown = [s for s in statuses if s not in allowed]
    if unknown:
        raise InvalidInput(
            f"unknown incident status {', '.join(map(repr, unknown))}; "
            f"one of: {', '.join(allowed)}",
            field="status",
            allowed=allowed,
        )
    start, end = parse_time(since, "since"), parse_time(until, "until", end=True)
    if start and end and start >= end:
        raise InvalidInput(
            f"since ({start.isoformat()}) is not before until ({end.isoformat()}); "
            "swap them or widen the window",
            field="since",
        )
    grid = (grid or "").strip() or None
    grid_name = None
    if grid:
        row = conn.execute(
            text(
                "SELECT name_zh FROM units WHERE code = :code AND valid_to IS NULL "
                "AND level IN ('community', 'grid2', 'sector')"
            ),
            {"code": grid},
        ).first()
        if row is None:
            raise InvalidInput(
                f"no community, level-2 grid or sector with code {grid!r}; "
                "the grid list on the map page shows them",
                field="grid",
            )
        grid_name = row.name_zh
    return IncidentFilter(
        tuple(dict.fromkeys(categories)),
        tuple(dict.fromkeys(statuses)),
        start,
        end,
        grid,
        grid_name,
    )


def selection(principal: Principal, f: IncidentFilter, alias: str = "i") -> tuple[str, dict]:
    """A WHERE clause over incidents `alias` for what `f` selects and `principal` may see."""
    visible, params = incident_visibility(principal, alias)
    clauses = [visible]
    if f.categories:
        clauses.append(f"{alias}.category = ANY(:categories)")
        params["categories"] = list(f.categories)
    if f.statuses:
        clauses.append(f"{alias}.status = ANY(:statuses)")
        params["statuses"] = list(f.statuses)
    if f.since:
        clauses.append(f"{alias}.observed_at >= :since")
        params["since"] = f.since
    if f.until:
        clauses.append(f"{alias}.observed_at < :until")
        params["until"] = f.until
    if f.grid:
        clauses.append(f"{alias}.sector_code LIKE :grid || '%'")
        params["grid"] = f.grid
    return " AND ".join(clauses), params


def visibility_class(principal: Principal) -> str:
    """What of the incidents' content depends on who asks (cache keys): everything,
    sensitive cases in some grids only, or no sensitive cases."""
    if principal.can(Permission.SENSITIVE_INCIDENTS):
        return "all"
    if principal.scope_codes:
        return "scope:" + ",".join(sorted(principal.scope_codes))
    return "public"


def hides_sensitive(principal: Principal) -> bool:
    return not principal.can(Permission.SENSITIVE_INCIDENTS)


def describe(f: IncidentFilter, categories: dict[str, dict]) -> str:
    """One line saying what is shown, in Chinese and English."""
    parts = []
    if f.categories:
        parts.append("、".join(categories[c]["name_zh"] for c in f.categories))
    else:
        parts.append("全部类别 all categories")
    if f.statuses:
        parts.append("、".join(LABELS[IncidentStatus(s)][0] for s in f.statuses))
    if f.since or f.until:
        start = f.since.astimezone(LOCAL).strftime("%Y-%m-%d %H:%M") if f.since else "…"
        end = f.until.astimezone(LOCAL).strftime("%Y-%m-%d %H:%M") if f.until else "…"
        parts.append(f"{start} – {end}")
    if f.grid:
        parts.append(f"{f.grid_name or ''} {f.grid}".strip())
    return " · ".join(parts)


def data_end(conn: Connection, principal: Principal) -> datetime | None:
    """When the latest incident the principal may see was observed."""
    where, params = selection(principal, IncidentFilter())
    return conn.execute(text(f"SELECT max(i.observed_at) FROM incidents i WHERE {where}"), params)\
        .scalar()  # fmt: skip

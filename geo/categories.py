"""The incident categories named in the case, with their default time limits.

This is the one source of the defaults: `gridmap migrate` writes any missing category to the
`incident_categories` table, where an admin may change the limits; the table is what runs.

Time limits follow local practice (assumptions where the case is silent): urgent safety
cases are dispatched within 30 minutes and verified within 2 hours; ordinary cases are
dispatched within 2 hours and closed within 1 working day; disputes, which need mediation,
within 3 working days. Working days are China's (`geo.workcalendar`): weekends and public
holidays off, make-up working days (调休) on.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.engine import Connection

from geo.errors import InvalidInput, NotFound


@dataclass(frozen=True)
class Category:
    code: str
    name_zh: str
    name_en: str
    urgent: bool
    sensitive: bool
    dispatch_minutes: int
    #: the limit to verified-and-closed: minutes on the clock, or whole working days
    close_minutes: int | None
    close_working_days: int | None


CATEGORIES: tuple[Category, ...] = (
    Category("public_security", "社会治安", "public security", True, False, 30, 120, None),
    Category("dispute", "矛盾纠纷", "disputes and conflicts", False, False, 120, None, 3),
    Category(
        "key_population", "重点人群管理", "key population management", False, True, 120, None, 1
    ),
    Category("work_safety", "安全生产", "work safety", True, False, 30, 120, None),
    Category("safety_hazard", "安全隐患", "safety hazards", True, False, 30, 120, None),
    Category("environment", "环境保护", "environmental protection", False, False, 120, None, 2),
    Category("sanitation", "环境卫生", "sanitation", False, False, 120, None, 1),
    Category("public_service", "为民服务", "public service requests", False, False, 120, None, 1),
    Category("epidemic", "疫情防控", "epidemic control", True, False, 30, None, 1),
    Category("traffic", "交通劝导", "traffic persuasion", True, False, 30, 120, None),
)

BY_CODE: dict[str, Category] = {c.code: c for c in CATEGORIES}


# -- the running table: read by everyone, configured by admins --------------------------------

#: the columns an admin may change, with their allowed range
LIMIT_RANGES: dict[str, tuple[int, int]] = {
    "dispatch_minutes": (1, 7 * 24 * 60),
    "close_minutes": (1, 30 * 24 * 60),
    "close_working_days": (1, 60),
}
EDITABLE = frozenset({*LIMIT_RANGES, "urgent", "name_zh", "name_en"})
_COLUMNS = (
    "code, name_zh, name_en, urgent, sensitive, dispatch_minutes, close_minutes, "
    "close_working_days, sort"
)


def describe_limit(row: Mapping) -> str:
    """The time limits in words: `dispatch within 30 min; close within 2 h` (English)."""

    def span(minutes: int) -> str:
        return f"{minutes // 60} h" if minutes % 60 == 0 else f"{minutes} min"

    close = (
        span(row["close_minutes"])
        if row["close_minutes"] is not None
        else f"{row['close_working_days']} working day"
        + ("s" if row["close_working_days"] != 1 else "")
    )
    return f"dispatch within {span(row['dispatch_minutes'])}; close within {close}"


def category_table(conn: Connection) -> list[dict]:
    """Every category as it runs now (the table, not the defaults above), in display order,
    each with `limit` in words."""
    rows = conn.execute(text(f"SELECT {_COLUMNS} FROM incident_categories ORDER BY sort, code"))
    return [{**r, "limit": describe_limit(r)} for r in rows.mappings()]


def category_row(conn: Connection, code: str) -> dict:
    """One category's running row; InvalidInput naming the known codes when there is none."""
    row = (
        conn.execute(
            text(f"SELECT {_COLUMNS} FROM incident_categories WHERE code = :code"), {"code": code}
        )
        .mappings()
        .first()
    )
    if row is None:
        known = conn.execute(
            text("SELECT string_agg(code, ', ' ORDER BY sort) FROM incident_categories")
        ).scalar()
        raise InvalidInput(f"unknown incident category {code!r}; one of: {known}", field="category")
    return {**row, "limit": describe_limit(row)}


def configure_category(conn: Connection, code: str, changes: Mapping) -> dict:
    """Change a category's time limits (or names, or urgency); returns the new row.

    Setting `close_minutes` switches the category to a limit on the clock and clears
    `close_working_days`, and the other way round; giving both is an error. The new limits
    apply to incidents reported from now on: a case keeps the deadline it was filed with.
    """
    unknown = sorted(set(changes) - EDITABLE)
    if unknown:
        raise InvalidInput(
            f"cannot change {', '.join(unknown)}; editable: {', '.join(sorted(EDITABLE))}",
            fields=unknown,
        )
    if changes.get("close_minutes") is not None and changes.get("close_working_days") is not None:
        raise InvalidInput(
            "give either close_minutes (a limit on the clock) or close_working_days, not both",
            fields=["close_minutes", "close_working_days"],
        )
    for name, (low, high) in LIMIT_RANGES.items():
        value = changes.get(name)
        if value is not None and not low <= value <= high:
            raise InvalidInput(f"{name} must be between {low} and {high}, got {value}", field=name)
    for name in ("name_zh", "name_en", "urgent", "dispatch_minutes"):
        if name in changes and (changes[name] is None or changes[name] == ""):
            raise InvalidInput(f"{name} cannot be empty", field=name)
    try:
        row = category_row(conn, code)
    except InvalidInput:
        raise NotFound(f"no incident category {code!r}; GET /api/categories lists them") from None
    new = {**row, **changes}
    if changes.get("close_minutes") is not None:
        new["close_working_days"] = None
    elif changes.get("close_working_days") is not None:
        new["close_minutes"] = None
    if new["close_minutes"] is None and new["close_working_days"] is None:
        raise InvalidInput(
            "a category needs a closing limit: close_minutes or close_working_days",
            fields=["close_minutes", "close_working_days"],
        )
    if new["close_minutes"] is not None and new["dispatch_minutes"] > new["close_minutes"]:
        raise InvalidInput(
            f"dispatch_minutes ({new['dispatch_minutes']}) cannot exceed close_minutes "
            f"({new['close_minutes']})",
            field="dispatch_minutes",
        )
    conn.execute(
        text(
            "UPDATE incident_categories SET name_zh = :name_zh, name_en = :name_en, "
            "urgent = :urgent, dispatch_minutes = :dispatch_minutes, "
            "close_minutes = :close_minutes, close_working_days = :close_working_days "
            "WHERE code = :code"
        ),
        new,
    )
    return category_row(conn, code)

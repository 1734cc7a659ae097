"""The incident categories named in the case, with their default time limits.

This is the one source of the defaults: `gridmap migrate` writes any missing category to the
`incident_categories` table, the city-wide catalogue. A sub-district may override a
category's names, urgency and limits, or switch it off, for itself (`category_overrides`,
`geo.cases.overrides`). What runs is the view `categories_in_force`: the catalogue as the
transaction's sub-district sees it. Every reader of category names and limits reads it.

Time limits follow local practice (assumptions where the case is silent): urgent safety
cases are dispatched within 30 minutes and verified within 2 hours; ordinary cases are
dispatched within 2 hours and closed within 1 working day; disputes, which need mediation,
within 3 working days. Working days are China's (`geo.cases.workcalendar`): weekends and public
holidays off, make-up working days (调休) on.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.engine import Connection

from geo.access import audit
from geo.access.roles import Principal, Role
from geo.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from geo.core.terms import CLOSED_STATUSES


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
    "close_working_days, sort, retired_at, enabled, overridden"
)
#: the categories in force for the transaction's sub-district (0018c): defaults ⊕ override
IN_FORCE = "categories_in_force"


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


def category_table(conn: Connection, retired: bool = False) -> list[dict]:
    """Every category that can be reported now in the transaction's sub-district (in force,
    not the defaults above), in display order, each with `limit` in words; with `retired`,
    the retired and the switched-off ones too."""
    where = "" if retired else "WHERE retired_at IS NULL AND enabled "
    rows = conn.execute(text(f"SELECT {_COLUMNS} FROM {IN_FORCE} {where}ORDER BY sort, code"))
    return [{**r, "limit": describe_limit(r)} for r in rows.mappings()]


def _lookup(conn: Connection, code: str) -> dict | None:
    row = (
        conn.execute(text(f"SELECT {_COLUMNS} FROM {IN_FORCE} WHERE code = :code"), {"code": code})
        .mappings()
        .first()
    )
    return None if row is None else {**row, "limit": describe_limit(row)}


def category_row(conn: Connection, code: str) -> dict:
    """One category that can be reported, as it runs in the transaction's sub-district;
    InvalidInput naming the field `category` and the reportable codes when there is none,
    when it is retired, or when this sub-district switched it off."""
    row = _lookup(conn, code)
    if row is None or row["retired_at"] is not None or not row["enabled"]:
        known = conn.execute(
            text(
                f"SELECT string_agg(code, ', ' ORDER BY sort) FROM {IN_FORCE} "
                "WHERE retired_at IS NULL AND enabled"
            )
        ).scalar()
        if row is None:
            why = "unknown incident category"
        elif row["retired_at"] is not None:
            why = "retired incident category"
        else:
            why = "this sub-district does not take reports of incident category"
        raise InvalidInput(
            f"{why} {code!r}; one of: {known}",
            field="category",
        )
    return row


def _existing(conn: Connection, code: str) -> dict:
    """One category, retired or not, for the admin; NotFound when there is none."""
    row = _lookup(conn, code)
    if row is None:
        raise NotFound(f"no incident category {code!r}; GET /api/admin/categories lists them")
    return row


def _check_limits(values: Mapping) -> None:
    for name, (low, high) in LIMIT_RANGES.items():
        value = values.get(name)
        if value is not None and not low <= value <= high:
            raise InvalidInput(f"{name} must be between {low} and {high}, got {value}", field=name)


def checked_changes(changes: Mapping, editable: frozenset[str] = EDITABLE) -> dict:
    """The changes an admin asked for, checked on their own (names, ranges, one closing
    limit) and stripped; InvalidInput naming the field otherwise."""
    unknown = sorted(set(changes) - editable)
    if unknown:
        raise InvalidInput(
            f"cannot change {', '.join(unknown)}; editable: {', '.join(sorted(editable))}",
            fields=unknown,
        )
    if changes.get("close_minutes") is not None and changes.get("close_working_days") is not None:
        raise InvalidInput(
            "give either close_minutes (a limit on the clock) or close_working_days, not both",
            fields=["close_minutes", "close_working_days"],
        )
    _check_limits(changes)
    changes = {k: v.strip() if isinstance(v, str) else v for k, v in changes.items()}
    for name in ("name_zh", "name_en", "urgent", "dispatch_minutes", "enabled"):
        if name in changes and (changes[name] is None or changes[name] == ""):
            raise InvalidInput(f"{name} cannot be empty", field=name)
    return changes


def merged(row: Mapping, changes: Mapping) -> dict:
    """`row` with `changes` applied: setting `close_minutes` clears `close_working_days`
    and the other way round; the result must still make sense (InvalidInput otherwise)."""
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
    return new


_DEFAULT_COLUMNS = (
    "code, name_zh, name_en, urgent, sensitive, dispatch_minutes, close_minutes, "
    "close_working_days, sort, retired_at"
)


def default_row(conn: Connection, code: str) -> dict:
    """One category as the city-wide catalogue holds it (no sub-district's override), with
    `limit` in words; NotFound when there is none."""
    row = (
        conn.execute(
            text(f"SELECT {_DEFAULT_COLUMNS} FROM incident_categories WHERE code = :code"),
            {"code": code},
        )
        .mappings()
        .first()
    )
    if row is None:
        raise NotFound(f"no incident category {code!r}; GET /api/admin/categories lists them")
    return {**row, "limit": describe_limit(row)}


def configure_category(
    conn: Connection, code: str, changes: Mapping, actor: Principal | str | None = None
) -> dict:
    """Change a category's city-wide default time limits (or names, or urgency); returns
    the new default row. (A sub-district's admin changes its own override instead:
    `geo.cases.overrides`.)

    Setting `close_minutes` switches the category to a limit on the clock and clears
    `close_working_days`, and the other way round; giving both is an error. The new limits
    apply to incidents reported from now on: a case keeps the deadline it was filed with.
    """
    changes = checked_changes(changes)
    row = default_row(conn, code)
    if row["retired_at"] is not None:
        raise Conflict(f"incident category {code!r} is retired; it cannot be changed")
    new = merged(row, changes)
    conn.execute(
        text(
            "UPDATE incident_categories SET name_zh = :name_zh, name_en = :name_en, "
            "urgent = :urgent, dispatch_minutes = :dispatch_minutes, "
            "close_minutes = :close_minutes, close_working_days = :close_working_days "
            "WHERE code = :code"
        ),
        new,
    )
    if actor is not None:
        changed = sorted(k for k in changes if changes[k] != row[k])
        audit.record(
            conn,
            actor,
            "category_change",
            target=code,
            detail={k: {"from": row[k], "to": new[k]} for k in changed},
        )
    return default_row(conn, code)


def speaks_for_city(conn: Connection, principal: Principal | str | None) -> bool:
    """May this caller change the city-wide catalogue and defaults? A city official's
    account with the admin's rights, the command line (no principal), or the admin of the
    only sub-district the database holds (no other sub-district a change could reach)."""
    if not isinstance(principal, Principal) or principal.has(Role.CITY):
        return True
    return conn.execute(text("SELECT gridmap_subdistrict_count()")).scalar_one() <= 1


def _city_only(conn: Connection, principal: Principal | str | None, what: str) -> None:
    if not speaks_for_city(conn, principal):
        raise Forbidden(
            f"{what} changes the catalogue of every sub-district: a city administrator's "
            "account (roles admin and city) or `gridmap` on the server does it"
        )


# -- the admin's screen: add and retire ----------------------------------------------------

_CODE = re.compile(r"^[a-z][a-z0-9_]{1,31}$")


def _check_new_limits(new: Mapping) -> None:
    if new.get("close_minutes") is not None and new.get("close_working_days") is not None:
        raise InvalidInput(
            "give either close_minutes (a limit on the clock) or close_working_days, not both",
            fields=["close_minutes", "close_working_days"],
        )
    if new.get("close_minutes") is None and new.get("close_working_days") is None:
        raise InvalidInput(
            "a category needs a closing limit: close_minutes or close_working_days",
            fields=["close_minutes", "close_working_days"],
        )
    if new.get("dispatch_minutes") is None:
        raise InvalidInput("dispatch_minutes is required", field="dispatch_minutes")
    _check_limits(new)
    if new["close_minutes"] is not None and new["dispatch_minutes"] > new["close_minutes"]:
        raise InvalidInput(
            f"dispatch_minutes ({new['dispatch_minutes']}) cannot exceed close_minutes "
            f"({new['close_minutes']})",
            field="dispatch_minutes",
        )


def add_category(conn: Connection, actor: Principal | str, values: Mapping) -> dict:
    """Add an incident category; returns its row. `values`: `code` (lower-case letters,
    digits and _), `name_zh`, `name_en`, `dispatch_minutes`, one of `close_minutes` or
    `close_working_days`, and optionally `urgent` and `sensitive` (default false; a
    sensitive category is seen only by admins and the grid's own workers). A taken code
    or Chinese name, a blank name, limits out of range: InvalidInput naming the field."""
    _city_only(conn, actor, "adding a category")
    new = {k: v.strip() if isinstance(v, str) else v for k, v in values.items()}
    code = new.get("code") or ""
    if not _CODE.match(code):
        raise InvalidInput(
            f"code {code!r}: 2 to 32 lower-case letters, digits and _, starting with a letter",
            field="code",
        )
    for name, limit in (("name_zh", 40), ("name_en", 80)):
        if not new.get(name):
            raise InvalidInput(f"{name} is required and cannot be blank", field=name)
        if len(new[name]) > limit:
            raise InvalidInput(f"{name} is longer than {limit} characters", field=name)
    taken = _lookup(conn, code)
    if taken is not None:
        state = " (retired; codes are never reused)" if taken["retired_at"] else ""
        raise InvalidInput(f"code {code!r} is taken by {taken['name_en']}{state}", field="code")
    same_name = conn.execute(
        text("SELECT code FROM incident_categories WHERE name_zh = :name AND retired_at IS NULL"),
        {"name": new["name_zh"]},
    ).scalar()
    if same_name:
        raise InvalidInput(
            f"category {same_name!r} already has the name {new['name_zh']!r}", field="name_zh"
        )
    new.setdefault("close_minutes", None)
    new.setdefault("close_working_days", None)
    _check_new_limits(new)
    conn.execute(
        text(
            "INSERT INTO incident_categories (code, name_zh, name_en, urgent, sensitive, "
            "dispatch_minutes, close_minutes, close_working_days, sort) VALUES (:code, "
            ":name_zh, :name_en, :urgent, :sensitive, :dispatch_minutes, :close_minutes, "
            ":close_working_days, (SELECT coalesce(max(sort), -1) + 1 FROM incident_categories))"
        ),
        {
            "code": code,
            "name_zh": new["name_zh"],
            "name_en": new["name_en"],
            "urgent": bool(new.get("urgent")),
            "sensitive": bool(new.get("sensitive")),
            "dispatch_minutes": new["dispatch_minutes"],
            "close_minutes": new["close_minutes"],
            "close_working_days": new["close_working_days"],
        },
    )
    row = _existing(conn, code)
    audit.record(
        conn,
        actor,
        "category_add",
        target=code,
        detail={k: row[k] for k in ("name_zh", "name_en", "urgent", "sensitive", "limit")},
    )
    return row


def retire_category(conn: Connection, actor: Principal | str, code: str) -> dict:
    """Retire a category: it can no longer be reported (HTTP, page, file import) and leaves
    the report form, while the cases filed under it keep it. Refused (InvalidInput naming
    the field `code`, with `open_cases`) while open cases still use it."""
    _city_only(conn, actor, "retiring a category")
    row = _existing(conn, code)
    if row["retired_at"] is not None:
        raise Conflict(f"incident category {code!r} is already retired")
    open_cases = conn.execute(
        text(
            "SELECT count(*) FROM incidents WHERE category = :code "
            "AND status <> ALL(CAST(:closed AS text[]))"
        ),
        {"code": code, "closed": sorted(CLOSED_STATUSES)},
    ).scalar_one()
    if open_cases:
        raise InvalidInput(
            f"category {code!r} is still used by {open_cases} open case(s); close or "
            "re-categorise them first",
            field="code",
            open_cases=open_cases,
        )
    conn.execute(
        text("UPDATE incident_categories SET retired_at = now() WHERE code = :code"),
        {"code": code},
    )
    audit.record(conn, actor, "category_retire", target=code)
    return _existing(conn, code)

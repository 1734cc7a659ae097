"""A sub-district's own incident categories: overrides of the city-wide catalogue.

The catalogue (`incident_categories`) holds the city's categories and their default names,
urgency and time limits; only the city changes it (`categories.speaks_for_city`). A
sub-district's admin changes a category for their sub-district only: names, urgency, limits,
or switches it off (no reports of it there). Each change is one row of `category_overrides`
holding only what differs from the default (NULL: the default), under row-level security
(0018c): a sub-district reads and writes its own, the city reads all. What runs for a
transaction is the view `categories_in_force` (`geo.cases.categories`).

    >>> configure(conn, admin_of_a, "sanitation", {"close_working_days": 2})  # doctest: +SKIP
    {'code': 'sanitation', 'close_working_days': 2, 'overridden': True, ...}
"""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import text
from sqlalchemy.engine import Connection

from geo.access import audit
from geo.access.roles import Principal, Role
from geo.cases import categories
from geo.core.errors import Conflict, InvalidInput, NotFound

#: what a sub-district may override (besides `enabled`, its switch)
OVERRIDABLE = ("name_zh", "name_en", "urgent", "dispatch_minutes")
CLOSE = ("close_minutes", "close_working_days")
#: the values the admin's page shows beside their default when they differ
COMPARED = (*OVERRIDABLE, *CLOSE)


def configure(conn: Connection, principal: Principal, code: str, changes: Mapping) -> dict:
    """`PATCH /api/categories/{code}`: a city administrator changes the city-wide default;
    anyone else with the right changes their own sub-district's override."""
    if principal.has(Role.CITY):
        if "enabled" in changes:
            raise InvalidInput(
                "a category is switched off per sub-district; to withdraw it from every "
                "sub-district, retire it",
                field="enabled",
            )
        return categories.configure_category(conn, code, changes, actor=principal)
    return set_override(conn, principal, code, changes)


def _override_values(new: Mapping, default: Mapping, enabled: bool) -> dict:
    """The override's columns: each value that differs from the default, else NULL."""
    values = {k: (new[k] if new[k] != default[k] else None) for k in OVERRIDABLE}
    same_close = all(new[k] == default[k] for k in CLOSE)
    values.update({k: None if same_close else new[k] for k in CLOSE})
    values["enabled"] = enabled
    return values


def set_override(conn: Connection, actor: Principal | str, code: str, changes: Mapping) -> dict:
    """Change category `code` for the transaction's sub-district only; returns the category
    as it now runs there (with `overridden`). A change back to every default value removes
    the override. Bad input: InvalidInput naming the field, nothing written."""
    changes = categories.checked_changes(changes, categories.EDITABLE | {"enabled"})
    enabled = changes.pop("enabled", None)
    if enabled is not None and not isinstance(enabled, bool):
        raise InvalidInput("enabled is true or false", field="enabled")
    row = in_force(conn, code)
    if row["retired_at"] is not None:
        raise Conflict(f"incident category {code!r} is retired; it cannot be changed")
    new = categories.merged(row, changes)
    default = categories.default_row(conn, code)
    values = _override_values(new, default, row["enabled"] if enabled is None else enabled)
    if values["enabled"] and all(values[k] is None for k in COMPARED):
        _delete(conn, code)
    else:
        conn.execute(
            text(
                "INSERT INTO category_overrides (code, name_zh, name_en, urgent, "
                "dispatch_minutes, close_minutes, close_working_days, enabled, changed_by) "
                "VALUES (:code, :name_zh, :name_en, :urgent, :dispatch_minutes, "
                ":close_minutes, :close_working_days, :enabled, :by) "
                "ON CONFLICT (subdistrict, code) DO UPDATE SET name_zh = EXCLUDED.name_zh, "
                "name_en = EXCLUDED.name_en, urgent = EXCLUDED.urgent, "
                "dispatch_minutes = EXCLUDED.dispatch_minutes, "
                "close_minutes = EXCLUDED.close_minutes, "
                "close_working_days = EXCLUDED.close_working_days, enabled = EXCLUDED.enabled, "
                "changed_by = EXCLUDED.changed_by, changed_at = now()"
            ),
            {**values, "code": code, "by": _actor_name(actor)},
        )
    after = in_force(conn, code)
    changed = sorted(k for k in (*changes, "enabled") if after[k] != row[k])
    audit.record(
        conn,
        actor,
        "category_change",
        target=code,
        detail={
            "subdistrict": _here(conn),
            **{k: {"from": row[k], "to": after[k]} for k in changed},
        },
    )
    return after


def reset_override(conn: Connection, actor: Principal | str, code: str) -> dict:
    """Back to the city-wide default for the transaction's sub-district: its override of
    `code` is removed (none: nothing changes). Returns the category as it now runs."""
    row = in_force(conn, code)
    if row["overridden"]:
        _delete(conn, code)
        audit.record(
            conn, actor, "category_reset", target=code, detail={"subdistrict": _here(conn)}
        )
    return in_force(conn, code)


def overrides(conn: Connection) -> list[dict]:
    """The overrides the caller may read (a sub-district: its own; the city: every one),
    by sub-district and category order."""
    rows = conn.execute(
        text(
            "SELECT o.subdistrict, o.code, o.name_zh, o.name_en, o.urgent, o.dispatch_minutes, "
            "o.close_minutes, o.close_working_days, o.enabled, o.changed_by, o.changed_at "
            "FROM category_overrides o JOIN incident_categories c ON c.code = o.code "
            "ORDER BY o.subdistrict, c.sort, o.code"
        )
    )
    return [dict(r) for r in rows.mappings()]


def admin_screen(conn: Connection, principal: Principal) -> list[dict]:
    """The categories page's rows, retired ones too: for a city administrator the city-wide
    defaults they edit; for a sub-district's admin every category as it runs there, each
    with `defaults`: the city-wide default of each value the sub-district changed, and
    `default`: the default row."""
    defaults = {
        r["code"]: r
        for r in conn.execute(text("SELECT * FROM incident_categories ORDER BY sort, code"))
        .mappings()
        .all()
    }
    if principal.has(Role.CITY):
        rows = [
            {**r, "limit": categories.describe_limit(r), "enabled": True, "overridden": False}
            for r in defaults.values()
        ]
    else:
        rows = categories.category_table(conn, retired=True)
    for row in rows:
        default = defaults[row["code"]]
        row["defaults"] = {k: default[k] for k in COMPARED if default[k] != row[k]}
        row["default"] = dict(default)
    return rows


def in_force(conn: Connection, code: str) -> dict:
    """One category as it runs in the transaction's sub-district, retired or switched off
    too; NotFound when there is none."""
    for row in categories.category_table(conn, retired=True):
        if row["code"] == code:
            return row
    raise NotFound(f"no incident category {code!r}; GET /api/admin/categories lists them")


def _delete(conn: Connection, code: str) -> None:
    conn.execute(
        text(
            "DELETE FROM category_overrides "
            "WHERE code = :code AND subdistrict = gridmap_subdistrict()"
        ),
        {"code": code},
    )


def _here(conn: Connection) -> str:
    return conn.execute(text("SELECT gridmap_subdistrict()")).scalar_one()


def _actor_name(actor: Principal | str) -> str:
    return (actor.actor if isinstance(actor, Principal) else actor)[:120]

"""Sub-districts as tenants: whose rows a caller works on, and setting up a new sub-district.

A caller works for the sub-district of their account or token (`Principal.subdistrict`); a
city official (`Role.CITY`) reads every sub-district and writes like one of their own. The
scope applies to every transaction of the request (`geo.core.tenancy`): row-level security
then keeps other sub-districts' rows out of reach, whatever a query forgets to say.

    >>> with tenancy.scoped(scope_of(principal)), engine.begin() as conn:  # doctest: +SKIP
    ...     ...
"""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.engine import Connection

from geo.access.roles import Principal, Role
from geo.core import tenancy
from geo.core.errors import InvalidInput
from geo.core.settings import get_settings


def home() -> str:
    """The home sub-district: the one `make run` serves (GRIDMAP_DISTRICT_CODE + street)."""
    return get_settings().street_prefix


def scope_of(principal: Principal | None) -> tenancy.Scope | None:
    """The scope a caller's transactions work under (None: no caller, unscoped)."""
    if principal is None:
        return None
    return tenancy.Scope(principal.subdistrict or home(), city=principal.has(Role.CITY))


def subdistricts(conn: Connection) -> list[str]:
    """The codes of the sub-districts the database holds (their current outlines)."""
    return list(
        conn.execute(
            text(
                "SELECT code FROM units WHERE level = 'district' AND valid_to IS NULL ORDER BY code"
            )
        ).scalars()
    )


def use(conn: Connection, code: str) -> str:
    """Work for sub-district `code` (which must exist) until the end of the transaction: rows
    written now belong to it (e.g. a user created by the CLI). Returns the code."""
    code = tenancy.check_code(code)
    known = conn.execute(
        text("SELECT 1 FROM units WHERE code = :code AND level = 'district' AND valid_to IS NULL"),
        {"code": code},
    ).first()
    if known is None:
        raise InvalidInput(
            f"no sub-district {code}: load its outline first (`gridmap district add`)",
            field="subdistrict",
        )
    tenancy.work_for(conn, code)
    return code


def provision(conn: Connection, code: str) -> None:
    """Set up sub-district `code`'s own reference rows, once its outline is loaded (`gridmap
    district add` calls it), and work for it for the rest of the transaction.

    The working calendar, streets and landmarks are shared by every sub-district (global
    tables); a new sub-district has no category overrides (0018c) and so follows the
    city-wide defaults until its admin changes one; accounts and tokens are created per
    sub-district with `gridmap user create --subdistrict CODE` / `gridmap token create
    --subdistrict`."""
    use(conn, code)

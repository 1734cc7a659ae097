"""Sub-districts as tenants: which sub-district (街道) a transaction works for.

Every unit code starts with its sub-district's nine-digit code (GB/T 2260 district code +
three-digit street code, e.g. `620902003` for 西北街街道). A transaction works for one
sub-district: the PostgreSQL setting `gridmap.subdistrict` names it, new rows take it as
their default, and row-level security keeps the rows of other sub-districts out of reach.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

from sqlalchemy import event, text
from sqlalchemy.engine import Engine

from geo.core.errors import InvalidInput

#: the PostgreSQL setting naming the sub-district the current transaction works for
GUC = "gridmap.subdistrict"
#: length of a sub-district code: six-digit district (GB/T 2260) + three-digit street
CODE_LENGTH = 9


def check_code(code: str | None, field: str = "subdistrict") -> str:
    """`code` if it is a sub-district code (nine digits), else InvalidInput naming `field`."""
    code = (code or "").strip()
    if len(code) != CODE_LENGTH or not code.isascii() or not code.isdigit():
        raise InvalidInput(
            f"{field} {code!r}: a sub-district code is nine digits (six-digit GB/T 2260 "
            "district code + three-digit street code), e.g. 620902003",
            field=field,
        )
    return code


def subdistrict_of(unit_code: str) -> str:
    """The sub-district a unit code belongs to: its first nine digits."""
    return unit_code[:CODE_LENGTH]


def work_for(conn, code: str) -> None:
    """Until the end of the current transaction, work for sub-district `code`: rows written
    now belong to it."""
    conn.execute(text("SELECT set_config(:guc, :code, true)"), {"guc": GUC, "code": code})


#: the roles a scoped transaction steps down to (0017t): one sub-district's rows, or the city's
TENANT_ROLE = "gridmap_tenant"
CITY_ROLE = "gridmap_city"
#: `conn.info` key: the scope the current transaction already works under
_APPLIED = "gridmap.scope"
_SAVEPOINT_ENDS = ("ROLLBACK TO SAVEPOINT", "RELEASE SAVEPOINT")


@dataclass(frozen=True)
class Scope:
    """Whom the work of this context is for: one sub-district (`code`), or the city (reads
    every sub-district, writes like one of `code`)."""

    code: str
    city: bool = False

    @property
    def role(self) -> str:
        return CITY_ROLE if self.city else TENANT_ROLE


_scope: ContextVar[Scope | None] = ContextVar("gridmap_scope", default=None)


def current() -> Scope | None:
    """The scope of this context (None: unscoped, the owner's view of every row)."""
    return _scope.get()


def enter(scope: Scope | None) -> None:
    """From now on in this context (an HTTP request), transactions work under `scope`."""
    _scope.set(scope)


@contextmanager
def scoped(scope: Scope | None) -> Iterator[None]:
    """Transactions opened (or first used) inside work under `scope`; None: unscoped.

    >>> with scoped(Scope("620902004")), engine.begin() as conn:   # doctest: +SKIP
    ...     conn.execute(text("SELECT count(*) FROM incidents")).scalar()  # B's only
    """
    token = _scope.set(scope)
    try:
        yield
    finally:
        _scope.reset(token)


def ensure(conn) -> None:
    """Apply this context's scope to `conn`'s transaction now (before raw DBAPI work such
    as COPY, which SQLAlchemy's events do not see)."""
    conn.execute(text("SELECT 1"))


def _apply(conn, cursor, statement, parameters, context, executemany) -> None:
    """Before a statement: step the transaction down to this context's scope, once."""
    scope = _scope.get()
    if conn.info.get(_APPLIED) == scope or statement.startswith(_SAVEPOINT_ENDS):
        # (ROLLBACK TO / RELEASE SAVEPOINT may run in a failed transaction: the scope waits
        # for the next statement)
        return
    if scope is None:
        cursor.execute("RESET ROLE")
    else:
        cursor.execute(
            f"SELECT set_config(%s, %s, true); SET LOCAL ROLE {scope.role}", (GUC, scope.code)
        )
    conn.info[_APPLIED] = scope


def _forget(conn, *args) -> None:
    """A transaction (or the savepoint that may hold the SET LOCAL) ended: apply anew."""
    conn.info.pop(_APPLIED, None)


event.listen(Engine, "before_cursor_execute", _apply)
for _name in ("begin", "commit", "rollback", "rollback_savepoint"):
    event.listen(Engine, _name, _forget)

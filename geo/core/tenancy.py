"""Sub-districts as tenants: which sub-district (街道) a transaction works for.

Every unit code starts with its sub-district's nine-digit code (GB/T 2260 district code +
three-digit street code, e.g. `620902003` for 西北街街道). A transaction works for one
sub-district: the PostgreSQL setting `gridmap.subdistrict` names it, new rows take it as
their default, and row-level security keeps the rows of other sub-districts out of reach.
"""

from __future__ import annotations

from sqlalchemy import text

#: the PostgreSQL setting naming the sub-district the current transaction works for
GUC = "gridmap.subdistrict"
#: length of a sub-district code: six-digit district (GB/T 2260) + three-digit street
CODE_LENGTH = 9


def subdistrict_of(unit_code: str) -> str:
    """The sub-district a unit code belongs to: its first nine digits."""
    return unit_code[:CODE_LENGTH]


def work_for(conn, code: str) -> None:
    """Until the end of the current transaction, work for sub-district `code`: rows written
    now belong to it."""
    conn.execute(text("SELECT set_config(:guc, :code, true)"), {"guc": GUC, "code": code})

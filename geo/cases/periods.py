"""The rollup rows to sum for a period, as few as possible: the whole city's coverage and
evaluation.

    >>> plan = month_plan(date(2025, 12, 3), date(2026, 12, 2), today=date(2026, 12, 2))
    >>> plan.months, plan.minus                                     # doctest: +SKIP
    ((date(2025, 12, 1), date(2027, 1, 1)), [(date(2025, 12, 1), date(2025, 12, 2))])

A period of Beijing days is read as whole months from a monthly table, and the days of a
month cut by the period either added from the daily rollup (the days inside) or, when
fewer, taken away from the whole month (the days outside): the 365 days to today are
twelve months less two days, not eleven months and 31 days of daily rows. The area levels
and the worker level read the monthly totals over all categories (0019a: a tenth of the
rows), the category level those per sub-district and category, less the sensitive
categories' monthly rows for a caller who may not see them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

#: kind → (key columns, daily rollup, monthly rollup, monthly totals over all categories
#: per key or None); the key columns of the totals are those of the rollups
TABLES = {
    "worker": (
        "worker_id AS rollup_key",
        "incident_worker_daily_stats",
        "incident_worker_monthly_stats",
        "incident_worker_monthly_totals",
    ),
    "area": (
        "sector_code AS rollup_key",
        "incident_daily_stats",
        "incident_monthly_stats",
        "incident_monthly_totals",
    ),
    "category": (
        "category AS rollup_key",
        "incident_daily_stats",
        "incident_monthly_stats",
        "incident_category_monthly_totals",
    ),
    "sector_category": (
        "sector_code, category",
        "incident_daily_stats",
        "incident_monthly_stats",
        None,
    ),
}
_SENSITIVE = "SELECT code FROM incident_categories WHERE sensitive"


@dataclass
class MonthPlan:
    """[start, end) of the whole months to read, and the (first, last) day ranges to add
    from the daily rollup and to take away from those months."""

    months: tuple[date, date]
    plus: list[tuple[date, date]] = field(default_factory=list)
    minus: list[tuple[date, date]] = field(default_factory=list)


def _next_month(day: date) -> date:
    return (day.replace(day=1) + timedelta(days=32)).replace(day=1)


def month_plan(since: date, until: date, today: date) -> MonthPlan:
    """How to read the days since..until (both included): days after `today` hold no rows."""
    first, end = since.replace(day=1), _next_month(until)
    plan = MonthPlan((first, end))
    if first == until.replace(day=1) and (since.day > 1 or until + timedelta(days=1) < end):
        return MonthPlan((first, first), plus=[(since, until)])  # inside one month
    if since.day > 1:
        inside, outside = (_next_month(since) - since).days, since.day - 1
        if outside < inside:
            plan.minus.append((first, since - timedelta(days=1)))
        else:
            plan.months = (_next_month(since), end)
            plan.plus.append((since, _next_month(since) - timedelta(days=1)))
    if until + timedelta(days=1) < end:
        last_day = min(end - timedelta(days=1), max(today, until))
        inside, outside = until.day, (last_day - until).days
        if outside < inside:
            plan.minus.append((until + timedelta(days=1), end - timedelta(days=1)))
        else:
            plan.months = (plan.months[0], until.replace(day=1))
            plan.plus.append((until.replace(day=1), until))
    return plan


def rows_sql(kind: str, columns: list[str], visible: str, all_sensitive: bool, plan) -> tuple:
    """(SQL of the signed rows `{key columns}, {columns}` whose sums per key are the
    period's figures, its parameters). `kind`: a key of `TABLES`; `visible`: the condition
    on the rollup rows `d` the caller may count (the totals hold every category: the
    sensitive ones' monthly rows are taken away again for a caller who may not see them)."""
    key, daily, monthly, totals = TABLES[kind]
    plain = ", ".join(columns)
    negated = ", ".join(f"-{c} AS {c}" for c in columns)
    params = {"m0": plan.months[0], "m1": plan.months[1]}
    months = "d.month >= :m0 AND d.month < :m1"
    source, where = (monthly, f"{months} AND {visible}") if totals is None else (totals, months)
    parts = [f"SELECT {key}, {plain} FROM {source} d WHERE {where}"]
    if totals is not None and not all_sensitive:
        parts.append(
            f"SELECT {key}, {negated} FROM {monthly} d WHERE {months} "
            f"AND d.category IN ({_SENSITIVE})"
        )
    for sign, ranges in (("", plan.plus), ("-", plan.minus)):
        for n, (first, last) in enumerate(ranges):
            name = f"{'p' if not sign else 'n'}{n}"
            params.update({f"{name}a": first, f"{name}b": last})
            parts.append(
                f"SELECT {key}, {plain if not sign else negated} FROM {daily} d "
                f"WHERE d.day >= :{name}a AND d.day <= :{name}b AND {visible}"
            )
    return "\nUNION ALL\n".join(parts), params


#: totals table → (its key columns from its monthly rollup `d`, that rollup): 0019a
TOTALS = {
    "incident_monthly_totals": (("sector_code",), "incident_monthly_stats"),
    "incident_worker_monthly_totals": (("worker_id",), "incident_worker_monthly_stats"),
    "incident_category_monthly_totals": (
        ("left(sector_code, 9)", "category"),
        "incident_monthly_stats",
    ),
}


def totals_differences(conn, columns: list[str]) -> int:
    """How many (key, month) rows of the monthly totals differ from their monthly rollup
    summed again, in `columns` (0: the triggers kept them exact; rows of zeros aside)."""
    sums = ", ".join(f"sum({c})" for c in columns)
    nonzero = f"({', '.join(columns)}) <> ({', '.join('0' for _ in columns)})"
    differing = 0
    for totals, (key, rollup) in TOTALS.items():
        names = "subdistrict, category" if "category" in key else key[0]
        width = len(key) + 1
        differing += conn.exec_driver_sql(f"""
            WITH kept AS (SELECT {names}, month, {", ".join(columns)} FROM {totals}
                          WHERE {nonzero}),
            again AS (SELECT {", ".join(key)}, month, {sums} FROM {rollup} d
                      GROUP BY {", ".join(str(k + 1) for k in range(width))}
                      HAVING ({sums}) <> ({", ".join("0" for _ in columns)}))
            SELECT count(*) FROM ((SELECT * FROM kept EXCEPT SELECT * FROM again)
                                  UNION ALL (SELECT * FROM again EXCEPT SELECT * FROM kept)) x
        """).scalar_one()
    return differing

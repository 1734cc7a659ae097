"""Incident figures per unit and category for a period of whole days, read from the
daily rollup (`incident_daily_stats`, kept exact by triggers) so that a year of a million
incidents is summed in milliseconds.

Counts are exact. The median hours to close is interpolated from the rollup's 64-bucket
log histogram (buckets 15 % wide): within half a bucket of the exact median, usually much
closer. What is open and overdue is read live from the few open cases. Sensitive
categories count only for callers who may see them: admins from the rollup, grid workers
from their own cases read live, nobody else.

    >>> figures = incident_figures(conn, principal, "grid2", date(2025, 11, 3),   # doctest: +SKIP
    ...                            date(2026, 11, 2), now)
    >>> figures["62090200300201"]["total"]["median_hours_to_close"]
"""

from __future__ import annotations

import bisect
import functools
import itertools
import math
from datetime import date, datetime, time, timedelta

import numpy as np
from sqlalchemy import text
from sqlalchemy.engine import Connection

from geo.access.roles import Permission, Principal, own_cases
from geo.cases.periods import month_plan, rows_sql
from geo.cases.sums import quantile_buckets, read_part, sum_parts
from geo.core import tenancy
from geo.core.terms import BEIJING, BEIJING_ZONE, CLOSED_SQL

#: the rollup's histogram, as its migration (0008) and `incident_close_bucket` define it
BUCKETS, FIRST_EDGE_H, GROWTH = 64, 0.05, 1.15
HIST = [f"h{k:02d}" for k in range(BUCKETS)]
COUNTS = (
    "incidents",
    "incidents_open",
    "incidents_overdue",
    "incidents_closed",
    "incidents_closed_in_time",
)


def sector_map_sql(units: str = "(SELECT * FROM units WHERE valid_to IS NULL)") -> str:
    """Each sector of `units` (a FROM item) with the unit it rolls up to at the bound level."""
    return f"""
    SELECT s.code AS sector_code,
           CASE CAST(:level AS text) WHEN 'sector' THEN s.code WHEN 'grid2' THEN g.code
                WHEN 'subdistrict' THEN left(s.code, 9) ELSE g.parent_code END AS unit_code
    FROM {units} s JOIN {units} g ON g.code = s.parent_code
    WHERE s.level = 'sector'
"""


_SECTOR_MAP = sector_map_sql()
_SENSITIVE = "SELECT code FROM incident_categories WHERE sensitive"
#: (a sum of sums is numeric: cast back to bigint, read as Python ints, not Decimals)
_SUMS = ", ".join(f"sum({c})::bigint AS {c}" for c in HIST)
_COLUMNS = ", ".join(HIST)
_LIVE_HIST = ", ".join(
    f"count(*) FILTER (WHERE i.status = 'verified' AND "
    f"incident_close_bucket(i.closed_at, i.reported_at) = {k}) AS {c}"
    for k, c in enumerate(HIST)
)


#: the incident figures of a group of raw rows `i` (an exact median): what the rollups
#: give from their sums, for the as-of view and for checking the rollups
RAW_FIGURES = f"""count(*) AS incidents,
    count(*) FILTER (WHERE i.status NOT IN {CLOSED_SQL})
        AS incidents_open,
    count(*) FILTER (WHERE i.status NOT IN {CLOSED_SQL}
                     AND i.due_at < :now) AS incidents_overdue,
    count(*) FILTER (WHERE i.status = 'verified') AS incidents_closed,
    count(*) FILTER (WHERE i.status = 'verified' AND i.closed_at <= i.due_at)
        AS incidents_closed_in_time,
    percentile_cont(0.5) WITHIN GROUP (
        ORDER BY extract(epoch FROM i.closed_at - i.reported_at) / 3600.0)
        FILTER (WHERE i.status = 'verified') AS median_hours_to_close"""


@functools.cache
def bucket_edges() -> tuple[tuple[float, float], ...]:
    """(lower, upper) hours of each histogram bucket; the last one is open (upper = inf).
    Computed once (every unit and category of a city's coverage reads them)."""
    edges = [(0.0, FIRST_EDGE_H)]
    edges += [
        (FIRST_EDGE_H * GROWTH ** (k - 1), FIRST_EDGE_H * GROWTH**k) for k in range(1, BUCKETS - 1)
    ]
    edges.append((FIRST_EDGE_H * GROWTH ** (BUCKETS - 2), math.inf))
    return tuple(edges)


def percentile_from_histogram(counts: list[int], q: float) -> float | None:
    """The q-quantile (0 < q < 1) interpolated in the bucket where it falls (log-linear
    inside a bucket, as the buckets are log-spaced)."""
    cumulative = list(itertools.accumulate(counts))
    n = cumulative[-1] if cumulative else 0
    if n == 0:
        return None
    # the first bucket whose running count reaches the rank: it holds values (the running
    # count grew there), as a scan for `c and seen + c >= target` finds
    target = n * q
    k = bisect.bisect_left(cumulative, target)
    return interpolate(k, cumulative[k] - counts[k], counts[k], target)


def interpolate(k: int, seen: int, c: int, target: float) -> float:
    """The value at rank `target` inside bucket k (holding c values, `seen` before it)."""
    lo, hi = bucket_edges()[k]
    share = (target - seen) / c
    if lo == 0.0:
        return hi * share
    if math.isinf(hi):
        return lo
    return lo * (hi / lo) ** share


def median_from_histogram(counts: list[int]) -> float | None:
    """The median interpolated in the bucket where half the values are reached."""
    return percentile_from_histogram(counts, 0.5)


def period_bounds(since_day: date, until_day: date) -> tuple[datetime, datetime]:
    """The instants (Beijing midnight) that open and close the days [since_day, until_day]."""
    start = datetime.combine(since_day, time(), BEIJING)
    end = datetime.combine(until_day + timedelta(days=1), time(), BEIJING)
    return start, end


def whole_months(first_day: date, last_day: date) -> tuple[date, date]:
    """[start, end) of the whole calendar months inside the days first_day..last_day
    (start >= end when there is none)."""
    start = first_day if first_day.day == 1 else _next_month(first_day)
    month_ends = (last_day + timedelta(days=1)).day == 1
    end = _next_month(last_day) if month_ends else last_day.replace(day=1)
    return start, max(start, end)


def rollup_rows(
    columns: str,
    where: str,
    daily: str = "incident_daily_stats",
    monthly: str = "incident_monthly_stats",
) -> str:
    """`columns` of the rollup rows `d` of the days :since..:until: the whole months
    [:first_month, :end_month) from the monthly rollup, the days before and after them from
    the daily one, each its own range (as one range and an OR, an index led by the
    sub-district, 0018r, read every day of the period and filtered most away)."""
    return f"""
        SELECT {columns} FROM {monthly} d
        WHERE d.month >= :first_month AND d.month < :end_month AND {where}
        UNION ALL
        SELECT {columns} FROM {daily} d
        WHERE d.day >= :since AND d.day < :first_month AND d.day <= :until AND {where}
        UNION ALL
        SELECT {columns} FROM {daily} d
        WHERE d.day >= :end_month AND d.day >= :since AND d.day <= :until AND {where}"""


def for_rollup_reads(conn: Connection) -> None:
    """Until the end of the transaction, plan for reading the rollups: for one sub-district
    (a tenant's scope) no parallel workers (a few thousand rollup rows: starting the
    workers cost more than they saved, 78 ms against 30 ms for the per-worker read on the
    loaded 2-core machine). JIT compilation is off on every service connection
    (`geo.ops.database.CONNECT_ARGS`: compiling the 70-odd sums at city size took 1.1 s
    of a 2.75 s read)."""
    scope = tenancy.current()
    if scope is not None and not scope.city:
        conn.execute(text("SET LOCAL max_parallel_workers_per_gather = 0"))


def _next_month(day: date) -> date:
    return (day.replace(day=1) + timedelta(days=32)).replace(day=1)


def incident_figures(
    conn: Connection,
    principal: Principal,
    level: str,
    since_day: date,
    until_day: date,
    now: datetime,
) -> dict[str, dict]:
    """unit code → {"total": figures, "by_category": {category: counts}} for incidents
    observed on Beijing days since_day..until_day (inclusive), as `principal` may see them.
    The total has the median hours to close; a category its counts and the share closed in
    time (its median is the evaluation's, `geo.insight.evaluation` at the category level:
    a histogram per unit and category read for every month of the year was most of the
    whole city's coverage time)."""
    start, end = period_bounds(since_day, until_day)
    all_sensitive = principal.can(Permission.SENSITIVE_INCIDENTS)
    categories = "TRUE" if all_sensitive else f"d.category NOT IN ({_SENSITIVE})"
    params = {
        "level": level,
        "since": since_day,
        "until": until_day,
        "start": start,
        "end": end,
        "now": now,
    }
    # whole months from the monthly rollup, the days a month is cut added or taken away
    plan = month_plan(since_day, until_day, now.astimezone(BEIJING).date())
    parts = [
        _rolled_up(conn, params, categories, plan),
        _rolled_up_histograms(conn, params, categories, all_sensitive, plan),
        *_own_sensitive_live(conn, principal, params, all_sensitive),
        _open_now(conn, principal, params),
    ]
    return _by_unit(parts)


_KEY = ("unit_code", "category")
#: the columns of the rolled-up figures per category
_ROLLED = ["incidents", "incidents_closed", "incidents_closed_in_time"]


def _grouping(level: str, key: str) -> str:
    """Per unit and category (each sector is its own unit: nothing to add up again)."""
    return "" if level == "sector" and key == "d.category" else f"GROUP BY m.unit_code, {key}"


def _rolled_up(conn: Connection, params: dict, categories: str, plan) -> tuple:
    """The rollups' counts per unit and category; summed per sector first (a hash
    aggregate, once: under row-level security the planner put it inside a loop over the
    sectors, sorting the year's rollup rows once per sector), then the few sectors per unit."""
    columns = ["incidents", "verified", "verified_in_time"]
    parts, plan_params = rows_sql("sector_category", columns, categories, True, plan)
    per_unit = _grouping(params["level"], "d.category")
    outer = "" if not per_unit else "sum"
    rolled_sql = f"""
        WITH per_sector AS MATERIALIZED (
            SELECT d.sector_code, d.category, sum(d.incidents) AS incidents,
                   sum(d.verified) AS verified, sum(d.verified_in_time) AS verified_in_time
            FROM ({parts}) d GROUP BY 1, 2)
        SELECT m.unit_code, d.category, {outer}(d.incidents)::bigint AS incidents,
               {outer}(d.verified)::bigint AS incidents_closed,
               {outer}(d.verified_in_time)::bigint AS incidents_closed_in_time
        FROM per_sector d JOIN ({_SECTOR_MAP}) m ON m.sector_code = d.sector_code
        {per_unit}"""
    return read_part(conn, rolled_sql, {**params, **plan_params}, _KEY, _ROLLED)


def _rolled_up_histograms(
    conn: Connection, params: dict, categories: str, all_sensitive: bool, plan
) -> tuple:
    """The hours-to-close histogram per unit over every category it may see (category
    NULL), from the monthly totals (0019a: a row per sector and month, not per category)."""
    parts, plan_params = rows_sql("area", HIST, categories, all_sensitive, plan)
    sql = f"""
        WITH per_sector AS MATERIALIZED (
            SELECT d.rollup_key AS sector_code, {_SUMS} FROM ({parts}) d GROUP BY 1)
        SELECT m.unit_code, NULL AS category, {_SUMS}
        FROM per_sector d JOIN ({_SECTOR_MAP}) m ON m.sector_code = d.sector_code
        GROUP BY m.unit_code"""
    return read_part(conn, sql, {**params, **plan_params}, _KEY, HIST)


def _own_sensitive_live(
    conn: Connection, principal: Principal, params: dict, all_sensitive: bool
) -> list:
    """The sensitive cases a scoped caller may see (their own), read live: the rollups
    leave sensitive categories out for them. Their histogram counts in the unit's total."""
    if all_sensitive or not principal.scope_codes:
        return []
    mine, extra = own_cases(principal)
    sql = f"""
        SELECT m.unit_code, i.category, count(*) AS incidents,
               count(*) FILTER (WHERE i.status = 'verified') AS incidents_closed,
               count(*) FILTER (WHERE i.status = 'verified' AND i.closed_at <= i.due_at)
                   AS incidents_closed_in_time, {_LIVE_HIST}
        FROM incidents i JOIN ({_SECTOR_MAP}) m ON m.sector_code = i.sector_code
        WHERE i.observed_at >= :start AND i.observed_at < :end
          AND i.category IN ({_SENSITIVE}) AND {mine}
        {_grouping(params["level"], "i.category")}"""
    return [read_part(conn, sql, {**params, **extra}, _KEY, [*_ROLLED, *HIST])]


def _open_now(conn: Connection, principal: Principal, params: dict) -> tuple:
    """What is open now (and overdue), read live: counted per sector first, once, from the
    open cases' partial index, then the few sectors per unit. (Joined to the sectors first,
    under row-level security the planner read each sector's every incident to find its
    open ones, or the open ones once per unit: 4-8x slower at a million incidents.)"""
    visible, extra = _visible_incidents(principal)
    sql = f"""
        WITH open AS MATERIALIZED (
            SELECT i.sector_code, i.category, count(*) AS incidents_open,
                   count(*) FILTER (WHERE i.due_at < :now) AS incidents_overdue
            FROM incidents i
            WHERE i.status NOT IN {CLOSED_SQL}
              AND i.observed_at >= :start AND i.observed_at < :end AND {visible}
            GROUP BY 1, 2)
        SELECT m.unit_code, i.category, sum(i.incidents_open)::bigint AS incidents_open,
               sum(i.incidents_overdue)::bigint AS incidents_overdue
        FROM open i JOIN ({_SECTOR_MAP}) m ON m.sector_code = i.sector_code
        {_grouping(params["level"], "i.category")}"""
    return read_part(conn, sql, {**params, **extra}, _KEY, ["incidents_open", "incidents_overdue"])


_FIELDS = (*COUNTS, *HIST)


def _by_unit(parts: list) -> dict[str, dict]:
    """unit code → {"total": figures, "by_category": {...}} from parts of partial counts
    per (unit, category) and histograms per (unit, None), summed vectorised
    (`geo.cases.sums`): a category's counts, the unit's total over everything."""
    keys, sums = sum_parts(parts, _FIELDS)
    units, totals = sum_parts([([unit for unit, _ in keys], list(_FIELDS), sums)], _FIELDS)
    out: dict[str, dict] = {
        unit: {"total": figures, "by_category": {}}
        for unit, figures in sorted(_many_figures(units, totals).items())
    }
    named = sorted(
        (k for k, (_, category) in enumerate(keys) if category is not None), key=keys.__getitem__
    )
    for k, row in zip(named, sums[named, : len(COUNTS)].tolist(), strict=True):
        unit, category = keys[k]
        out[unit]["by_category"][category] = _rates(dict(zip(COUNTS, row, strict=True)))
    return out


def many_percentiles(hist: np.ndarray, q: float) -> list[float | None]:
    """The q-quantile of each row of histograms `hist` (None for an empty one), as
    `percentile_from_histogram` interpolates it, the buckets found for all rows at once."""
    n, k, seen, inside = quantile_buckets(hist, q)
    return [
        interpolate(at, before, within, total * q) if total else None
        for total, at, before, within in zip(
            n.tolist(), k.tolist(), seen.tolist(), inside.tolist(), strict=True
        )
    ]


def _many_figures(keys: list, sums) -> dict:
    """key → `_figures` of its row of summed `_FIELDS`."""
    medians = many_percentiles(sums[:, len(COUNTS) :], 0.5)
    counts = sums[:, : len(COUNTS)].tolist()
    out = {}
    for key, row, median in zip(keys, counts, medians, strict=True):
        figures = out[key] = _rates(dict(zip(COUNTS, row, strict=True)))
        figures["median_hours_to_close"] = round(median, 2) if median is not None else None
    return out


def incident_figures_as_of(
    conn: Connection,
    principal: Principal,
    level: str,
    since_day: date,
    until_day: date,
    now: datetime,
    at: datetime,
) -> dict[str, dict]:
    """`incident_figures` on the boundaries valid at `at`: the incidents of the period are
    located again in the units of then and counted from the raw rows (an exact median; the
    rollups hold only the current attachment)."""
    from geo.grid.attach import AS_OF, codes_sql

    start, end = period_bounds(since_day, until_day)
    visible, extra = _visible_incidents(principal)
    points = (
        f"(SELECT i.id, i.geom FROM incidents i WHERE i.observed_at >= :start "
        f"AND i.observed_at < :end AND {visible})"
    )
    sector_map = sector_map_sql(AS_OF["units"])
    rows = conn.execute(
        text(f"""
        SELECT m.unit_code, i.category, {RAW_FIGURES}
        FROM ({codes_sql(points, courtyards=False, as_of=True)}) hit
        JOIN incidents i ON i.id = hit.id
        JOIN ({sector_map}) m ON m.sector_code = hit.sector_code
        GROUP BY GROUPING SETS ((m.unit_code, i.category), (m.unit_code))"""),
        {"level": level, "start": start, "end": end, "now": now, "at": at, **extra},
    ).mappings()
    out: dict[str, dict] = {}
    for row in rows:
        entry = out.setdefault(row["unit_code"], {"total": None, "by_category": {}})
        figures = _figures(row)
        median = row["median_hours_to_close"]
        figures["median_hours_to_close"] = round(float(median), 2) if median is not None else None
        if row["category"] is None:
            entry["total"] = figures
        else:
            entry["by_category"][row["category"]] = figures
    return out


def _visible_incidents(principal: Principal) -> tuple[str, dict]:
    """The SQL condition on incidents `i` the caller may count (key-population cases only
    for those allowed them, or a grid worker's own), with its bound parameters."""
    if principal.can(Permission.SENSITIVE_INCIDENTS):
        return "TRUE", {}
    if principal.scope_codes:
        mine, extra = own_cases(principal)
        return f"(i.category NOT IN ({_SENSITIVE}) OR {mine})", extra
    return f"i.category NOT IN ({_SENSITIVE})", {}


def _figures(acc: dict) -> dict:
    figures = _rates({c: acc.get(c, 0) for c in COUNTS})
    median = median_from_histogram([acc.get(c, 0) for c in HIST])
    figures["median_hours_to_close"] = round(median, 2) if median is not None else None
    return figures


def _rates(figures: dict) -> dict:
    """`figures` (the counts) with the share closed in time."""
    closed = figures["incidents_closed"]
    figures["closed_in_time_pct"] = (
        round(100.0 * figures["incidents_closed_in_time"] / closed, 1) if closed else None
    )
    return figures


def empty_figures() -> dict:
    return _figures({})


def rollup_differences(conn: Connection) -> int:
    """How many (sector, category, day) rows of the rollup differ from a recount of the
    incidents: 0 when the triggers kept it exact."""
    hist = ", ".join(
        f"count(*) FILTER (WHERE status = 'verified' AND "
        f"incident_close_bucket(closed_at, reported_at) = {k}) AS {c}"
        for k, c in enumerate(HIST)
    )
    columns = ", ".join(["incidents", "verified", "verified_in_time", *HIST])
    return conn.execute(
        text(f"""
        WITH recount AS (
            SELECT coalesce(sector_code, '') AS sector_code, category,
                   (observed_at AT TIME ZONE '{BEIJING_ZONE}')::date AS day,
                   count(*) AS incidents, count(*) FILTER (WHERE status = 'verified') AS verified,
                   count(*) FILTER (WHERE status = 'verified' AND closed_at <= due_at)
                       AS verified_in_time, {hist}
            FROM incidents GROUP BY 1, 2, 3),
        kept AS (SELECT sector_code, category, day, {columns} FROM incident_daily_stats
                 WHERE incidents <> 0 OR verified <> 0)
        SELECT count(*) FROM ((SELECT * FROM recount EXCEPT SELECT * FROM kept)
                              UNION ALL (SELECT * FROM kept EXCEPT SELECT * FROM recount)) d
    """)
    ).scalar_one()

"""Evaluation for officials: the GB/T 30428.4-style case indicators per community, level-2
grid, sector, worker or category, graded A–D, and their trend over time.

    >>> nov = date(2026, 11, 1), date(2026, 11, 30)
    >>> report = evaluation(conn, principal, "grid2", *nov)        # doctest: +SKIP
    >>> report.rows[0]["rates"]["closed_in_time"]   # {"value": 93.1, "numerator": 27, ...}

Definitions (cases observed on the Beijing days of the period):
- filed (立案数): the cases not rejected or marked duplicate;
- closed (结案): verified; closed rate = closed / filed;
- closed in time (按期结案): verified by the deadline; rate = closed_in_time / closed;
- sent back (返工): resolved then sent back to in_progress at least once; rate = / filed;
- extended (延期): with at least one `extension_approved` event; rate = / filed;
- first-time fixed (一次完成): closed without ever being sent back; rate = / closed;
- dispatched in time (按时派遣): dispatched by the dispatch deadline; rate = / dispatched;
- median and 90th-percentile hours from report to close (from the rollup's histogram,
  within half a 15 % bucket of the exact value).
Score = 100 × Σ wᵢ·rateᵢ / Σ wᵢ over the rates that have a denominator, with the weights of
the setting `evaluation_weights` (an extension counts against: its rate enters as
1 − extended rate); grade A/B/C/D at `evaluation_grade_bounds` (default 90/80/70). A row
whose filed count is under `evaluation_small_sample` is marked `small_sample` and not ranked.

Area levels and categories are read from the rollups (`incident_daily_stats` and
`incident_monthly_stats`, kept exact by triggers, migration 0015); level `worker` from the
per-worker rollups (`incident_worker_daily_stats` / `_monthly_stats`, migration 0016e): a
case counts for its single owner when one was named (`incidents.owner_id`, set by an
`assign`), else for every worker of the team it was dispatched to (`assigned_to`).
Key-population categories count only for callers allowed to see them anywhere.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

import numpy as np
from sqlalchemy import text
from sqlalchemy.engine import Connection

from geo.access.roles import Permission, Principal, Role
from geo.cases.periods import month_plan, rows_sql
from geo.cases.stats import (
    HIST,
    for_rollup_reads,
    many_percentiles,
    percentile_from_histogram,
    period_bounds,
    sector_map_sql,
)
from geo.cases.sums import read_part
from geo.core.errors import InvalidInput
from geo.core.settings import get_settings
from geo.core.terms import BEIJING
from geo.insight.coverage import period_days

LEVELS = ("community", "grid2", "sector", "worker", "category")
#: one row per sub-district: the city's side-by-side comparison (0017t)
SUBDISTRICT = "subdistrict"


def levels_for(principal: Principal) -> tuple[str, ...]:
    """The levels a caller's pages offer: a city official's also compare sub-districts."""
    return (*LEVELS, SUBDISTRICT) if principal.has(Role.CITY) else LEVELS


#: the rollup columns the evaluation sums (0008 and 0015)
COUNTS = (
    "incidents",
    "voided",
    "verified",
    "verified_in_time",
    "sent_back",
    "extended",
    "first_time_fixed",
    "dispatched",
    "dispatched_in_time",
)
#: rate key → (numerator, denominator, 中文, English); the one table pages and exports use
RATES: dict[str, tuple[str, str, str, str]] = {
    "closed": ("closed", "filed", "结案率", "closed rate"),
    "closed_in_time": ("closed_in_time", "closed", "按期结案率", "closed in time"),
    "sent_back": ("sent_back", "filed", "返工率", "sent back"),
    "extended": ("extended", "filed", "延期率", "extended"),
    "first_time_fixed": ("first_time_fixed", "closed", "一次完成率", "fixed first time"),
    "dispatched_in_time": ("dispatched_in_time", "dispatched", "按时派遣率", "dispatched in time"),
}
#: figure key → (中文, English)
FIGURES = {
    "filed": ("立案数", "filed"),
    "closed": ("结案数", "closed"),
    "closed_in_time": ("按期结案数", "closed in time"),
    "closed_late": ("超期结案数", "closed late"),
    "sent_back": ("返工数", "sent back"),
    "extended": ("延期数", "extended"),
    "first_time_fixed": ("一次完成数", "fixed first time"),
    "dispatched": ("派遣数", "dispatched"),
    "dispatched_in_time": ("按时派遣数", "dispatched in time"),
    "voided": ("不予受理/重复", "rejected or duplicate"),
    "median_hours_to_close": ("结案时长中位数(小时)", "median hours to close"),
    "p90_hours_to_close": ("结案时长P90(小时)", "90th percentile hours to close"),
    "score": ("综合得分", "score"),
    "grade": ("等级", "grade"),
}
#: grade → colour (A green … D red), as the page, the report and the API show it
GRADE_COLOURS = {"A": "#2e7d32", "B": "#1565c0", "C": "#ef6c00", "D": "#c62828"}

_SENSITIVE = "SELECT code FROM incident_categories WHERE sensitive"
#: (a sum of sums is numeric: cast back to bigint, read as Python ints, not Decimals)
_SUMS = ", ".join(f"sum({c})::bigint AS {c}" for c in (*COUNTS, *HIST))
_COLUMNS = ", ".join((*COUNTS, *HIST))
_NAMES = (*COUNTS, *HIST)
#: the one owner a supervisor named (`POST /api/incidents/{id}/assign`, `incidents.owner_id`)
OWNERS_SQL = """
    SELECT id AS incident_id, owner_id AS worker FROM incidents WHERE owner_id IS NOT NULL
"""
#: the incidents of the period, each with its histogram bucket computed once (OFFSET 0
#: keeps the planner from folding the call back into each of the 64 aggregates)
_PERIOD_INCIDENTS = """(SELECT i.*, incident_close_bucket(i.closed_at, i.reported_at) AS bucket
    FROM incidents i WHERE i.observed_at >= :start AND i.observed_at < :end AND {visible}
    OFFSET 0)"""
#: the figures of raw incidents `i` (the rollup's columns), for recounts
RAW_COUNTS = ", ".join(
    [
        "count(*) AS incidents",
        "count(*) FILTER (WHERE i.status IN ('rejected', 'duplicate')) AS voided",
        "count(*) FILTER (WHERE i.status = 'verified') AS verified",
        "count(*) FILTER (WHERE i.status = 'verified' AND i.closed_at <= i.due_at) "
        "AS verified_in_time",
        "count(*) FILTER (WHERE i.times_sent_back > 0) AS sent_back",
        "count(*) FILTER (WHERE i.extensions_approved > 0) AS extended",
        "count(*) FILTER (WHERE i.status = 'verified' AND i.times_sent_back = 0) "
        "AS first_time_fixed",
        "count(*) FILTER (WHERE i.dispatched_at IS NOT NULL) AS dispatched",
        "count(*) FILTER (WHERE i.dispatched_at <= i.dispatch_due_at) AS dispatched_in_time",
        *(
            f"count(*) FILTER (WHERE i.status = 'verified' AND i.bucket = {k}) AS {c}"
            for k, c in enumerate(HIST)
        ),
    ]
)


@dataclass
class Evaluation:
    level: str
    since: date
    until: date
    weights: dict[str, float]
    grade_bounds: list[float]
    small_sample: int
    rows: list[dict] = field(default_factory=list)

    @property
    def total(self) -> dict:
        """The figures of all rows together (area levels and categories; for workers a
        case with a team counts once per worker)."""
        acc = {c: 0 for c in (*COUNTS, *HIST)}
        for row in self.rows:
            for c in acc:
                acc[c] += row["_raw"][c]
        return indicators(acc)


def check_level(level: str) -> str:
    known = (*LEVELS, SUBDISTRICT)
    if level not in known:
        raise InvalidInput(
            f"unknown level {level!r}; one of: {', '.join(known)}", field="level", allowed=known
        )
    return level


def check_period(since: date | None, until: date | None, now: datetime) -> tuple[date, date]:
    """The Beijing days of the period (default: the 365 days to today); since after until
    is refused, naming `since`."""
    if since and until and since > until:
        raise InvalidInput(f"since ({since}) must not be after until ({until})", field="since")
    return period_days(since, until, now)


def period_presets(now: datetime | None = None) -> dict[str, tuple[date, date]]:
    """The period picker's choices in Beijing days: this month (to today), last month,
    this quarter (to today)."""
    today = (now or datetime.now(UTC)).astimezone(BEIJING).date()
    month = today.replace(day=1)
    last_month = (month - timedelta(days=1)).replace(day=1)
    quarter = month.replace(month=(month.month - 1) // 3 * 3 + 1)
    return {
        "this_month": (month, today),
        "last_month": (last_month, month - timedelta(days=1)),
        "quarter": (quarter, today),
    }


def _rate(numerator: int, denominator: int) -> dict:
    value = round(100.0 * numerator / denominator, 1) if denominator else None
    return {"value": value, "numerator": numerator, "denominator": denominator}


def indicators(acc: dict, percentiles: tuple | None = None) -> dict:
    """Counts, rates (each with numerator and denominator), percentiles, score and grade of
    summed rollup columns `acc` (its median and 90th percentile hours to close, when the
    caller found them already: `geo.cases.stats.many_percentiles`)."""
    settings = get_settings()
    figures = {
        "filed": acc["incidents"] - acc["voided"],
        "closed": acc["verified"],
        "closed_in_time": acc["verified_in_time"],
        "closed_late": acc["verified"] - acc["verified_in_time"],
        "sent_back": acc["sent_back"],
        "extended": acc["extended"],
        "first_time_fixed": acc["first_time_fixed"],
        "dispatched": acc["dispatched"],
        "dispatched_in_time": acc["dispatched_in_time"],
        "voided": acc["voided"],
    }
    if percentiles is None:
        hist = [acc[c] for c in HIST]
        percentiles = [percentile_from_histogram(hist, q) for q in (0.5, 0.9)]
    for key, value in zip(
        ("median_hours_to_close", "p90_hours_to_close"), percentiles, strict=True
    ):
        figures[key] = round(value, 2) if value is not None else None
    rates = {key: _rate(figures[num], figures[den]) for key, (num, den, _, _) in RATES.items()}
    weights = settings.evaluation_weights
    parts = []
    for key, weight in weights.items():
        rate = rates.get(key)
        if rate is None or rate["value"] is None or weight <= 0:
            continue
        share = rate["value"] / 100.0
        parts.append((weight, 1.0 - share if key in ("extended", "sent_back") else share))
    score = (
        round(100.0 * sum(w * s for w, s in parts) / sum(w for w, _ in parts), 1) if parts else None
    )
    grade = _grade(score, settings.evaluation_grade_bounds)
    return {
        **figures,
        "rates": rates,
        "score": score,
        "grade": grade,
        "grade_colour": GRADE_COLOURS.get(grade) if grade else None,
        "small_sample": figures["filed"] < settings.evaluation_small_sample,
    }


def _grade(score: float | None, bounds: list[float]) -> str | None:
    if score is None:
        return None
    for grade, bound in zip("ABC", bounds, strict=False):
        if score >= bound:
            return grade
    return "D"


def _categories(principal: Principal, alias: str) -> str:
    if principal.can(Permission.SENSITIVE_INCIDENTS):
        return "TRUE"
    return f"{alias}.category NOT IN ({_SENSITIVE})"


def rolled_sums(
    conn: Connection,
    principal: Principal,
    group: str,
    since: date,
    until: date,
    today: date | None = None,
) -> tuple[list, np.ndarray]:
    """(keys, a matrix of their summed rollup columns `_NAMES`) per `group` (a level of
    units, `category` or `worker`) for the days since..until: whole months from the monthly
    totals (or, per category, the monthly rollup), the days of a month the period cuts added
    or taken away from the daily one (`geo.cases.periods`; `today`: the days after it hold
    no rows)."""
    plan = month_plan(since, until, today or until)
    visible = _categories(principal, "d")
    all_sensitive = principal.can(Permission.SENSITIVE_INCIDENTS)
    kind = group if group in ("category", "worker") else "area"
    parts, params = rows_sql(kind, [*COUNTS, *HIST], visible, all_sensitive, plan)
    if kind != "area":
        sql = f"SELECT d.rollup_key AS key, {_SUMS} FROM ({parts}) d GROUP BY 1"
    else:
        # materialised: summed once (with stale statistics on `units` the planner would
        # re-run the sum for each unit in a nested loop)
        sql = f"""
        WITH per_sector AS MATERIALIZED (SELECT d.rollup_key, {_SUMS} FROM ({parts}) d GROUP BY 1)
        SELECT m.unit_code AS key, {_SUMS}
        FROM per_sector d JOIN ({sector_map_sql()}) m ON m.sector_code = d.rollup_key
        GROUP BY 1"""
    params["level"] = group
    # read as one int64 matrix (a city's 4,000 rows of 73 columns: a Python int per value
    # cost more than the sums)
    keys, _, sums = read_part(conn, sql, params, ("key",), list(_NAMES))
    return [key for (key,) in keys], sums


def _ints(row) -> dict:
    return {c: int(row[c] or 0) for c in (*COUNTS, *HIST)}


def _units(conn: Connection, level: str, parent: str | None) -> list[dict]:
    if level == "category":
        sql = "SELECT code, name_zh, name_en, NULL AS parent_code FROM categories_in_force"
    elif level == "worker":
        sql = (
            "SELECT r.id AS code, r.id AS name_zh, r.id AS name_en, r.serves_code AS parent_code "
            "FROM resources r WHERE r.kind = 'grid_worker'"
        )
    else:
        sql = (
            "SELECT code, name_zh, name_en, parent_code FROM units "
            "WHERE valid_to IS NULL AND level = :level"
        )
    unit_level = "district" if level == "subdistrict" else level  # a sub-district's unit
    rows = [
        dict(r) for r in conn.execute(text(sql + " ORDER BY 1"), {"level": unit_level}).mappings()
    ]
    if parent:
        rows = [r for r in rows if r["parent_code"] == parent]
    return rows


def evaluation(
    conn: Connection,
    principal: Principal,
    level: str = "community",
    since: date | None = None,
    until: date | None = None,
    parent: str | None = None,
    now: datetime | None = None,
    raw: bool = False,
) -> Evaluation:
    """One graded row per unit, worker or category at `level` (with `parent`: only the
    units inside that one) for the cases observed on the Beijing days since..until
    (`raw`: counted from the incidents and events instead of the rollups, to compare)."""
    check_level(level)
    settings = get_settings()
    since, until = check_period(since, until, now or datetime.now(UTC))
    for_rollup_reads(conn)
    if raw:
        counted = recount(conn, principal, level, since, until)
        keys = list(counted)
        sums = np.array([[counted[k][c] for c in _NAMES] for k in keys], dtype=np.int64)
    else:
        today = (now or datetime.now(UTC)).astimezone(BEIJING).date()
        keys, sums = rolled_sums(conn, principal, level, since, until, today)
    units = _units(conn, level, parent)
    known = {u["code"] for u in units}
    if level == "category" and not principal.can(Permission.SENSITIVE_INCIDENTS):
        sensitive = set(conn.execute(text(_SENSITIVE)).scalars())
        units = [u for u in units if u["code"] not in sensitive]
    # cases whose worker or category is not listed still count (nothing silently dropped)
    units += [
        {"code": k, "name_zh": k, "name_en": k, "parent_code": None}
        for k in sorted(set(keys) - known)
        if k and not parent
    ]
    # each unit's row of sums (none: the zero row at the end), its percentiles found at once
    at = {key: n for n, key in enumerate(keys)}
    table = np.vstack([sums.reshape(-1, len(_NAMES)), np.zeros((1, len(_NAMES)), np.int64)])
    table = table[[at.get(unit["code"], -1) for unit in units]]
    hist = table[:, len(COUNTS) :]
    quantiles = zip(many_percentiles(hist, 0.5), many_percentiles(hist, 0.9), strict=True)
    rows = []
    for unit, values, percentiles in zip(units, table.tolist(), quantiles, strict=True):
        raw = dict(zip(_NAMES, values, strict=True))
        rows.append({**unit, **indicators(raw, percentiles), "_raw": raw})
    ranked = sorted(
        (r for r in rows if not r["small_sample"] and r["score"] is not None),
        key=lambda r: (-r["score"], r["code"]),
    )
    for position, row in enumerate(ranked, start=1):
        row["rank"] = position
    for row in rows:
        row.setdefault("rank", None)
    return Evaluation(
        level,
        since,
        until,
        dict(settings.evaluation_weights),
        list(settings.evaluation_grade_bounds),
        settings.evaluation_small_sample,
        rows,
    )


def public_rows(report: Evaluation) -> list[dict]:
    """The rows without their internal sums (what the API answers)."""
    return [{k: v for k, v in row.items() if k != "_raw"} for row in report.rows]


TREND_STEPS = ("day", "week", "month")


def _trend_steps(since: date, until: date, every: str) -> list[date]:
    """The first day of each day, week (Monday) or month from `since` to `until`."""
    steps: list[date] = []
    day = since
    if every == "week":
        day = since - timedelta(days=since.weekday())
    elif every == "month":
        day = since.replace(day=1)
    while day <= until:
        steps.append(day)
        day = (
            day + timedelta(days=1)
            if every == "day"
            else day + timedelta(days=7)
            if every == "week"
            else (day.replace(day=1) + timedelta(days=32)).replace(day=1)
        )
    return steps


def trend(
    conn: Connection,
    principal: Principal,
    since: date | None = None,
    until: date | None = None,
    every: str = "day",
    unit: str | None = None,
    now: datetime | None = None,
) -> dict:
    """Cases filed per day, week or month by category, and the closed-in-time rate per
    step, from the daily rollup (inside `unit`, any level, when given)."""
    if every not in TREND_STEPS:
        raise InvalidInput(
            f"unknown step {every!r}; one of: {', '.join(TREND_STEPS)}", field="every"
        )
    since, until = check_period(since, until, now or datetime.now(UTC))
    where = ""
    if unit:
        where = (
            " AND d.sector_code IN (SELECT s.code FROM units s LEFT JOIN units g "
            "ON g.code = s.parent_code AND g.valid_to IS NULL WHERE s.valid_to IS NULL "
            "AND s.level = 'sector' AND :unit IN (s.code, g.code, g.parent_code))"
        )
    rows = conn.execute(
        text(f"""
        SELECT date_trunc(:every, d.day)::date AS step, d.category,
               sum(d.incidents - d.voided) AS filed, sum(d.verified) AS closed,
               sum(d.verified_in_time) AS closed_in_time
        FROM incident_daily_stats d
        WHERE d.day >= :since AND d.day <= :until AND {_categories(principal, "d")}{where}
        GROUP BY 1, 2 ORDER BY 1, 2"""),
        {"every": every, "since": since, "until": until, "unit": unit},
    ).mappings()
    steps = _trend_steps(since, until, every)
    index = {s: k for k, s in enumerate(steps)}
    by_category: dict[str, list[int]] = {}
    closed = [0] * len(steps)
    in_time = [0] * len(steps)
    for r in rows:
        k = index[r["step"]]
        by_category.setdefault(r["category"], [0] * len(steps))[k] += int(r["filed"])
        closed[k] += int(r["closed"])
        in_time[k] += int(r["closed_in_time"])
    names = dict(
        (c, (zh, en))
        for c, zh, en in conn.execute(
            text("SELECT code, name_zh, name_en FROM categories_in_force")
        )
    )
    return {
        "since": since,
        "until": until,
        "every": every,
        "steps": [s.isoformat() for s in steps],
        "categories": [
            {
                "code": c,
                "name_zh": names.get(c, (c, c))[0],
                "name_en": names.get(c, (c, c))[1],
                "filed": counts,
            }
            for c, counts in sorted(by_category.items())
        ],
        "closed_in_time_pct": [
            round(100.0 * t / c, 1) if c else None for t, c in zip(in_time, closed, strict=True)
        ],
    }


def unit_cases(
    conn: Connection,
    principal: Principal,
    unit: str,
    since: date | None = None,
    until: date | None = None,
    limit: int = 500,
    now: datetime | None = None,
) -> dict:
    """The cases of a unit (any level) in the period, newest first, with their fate: the
    end of the drill-down. No personal data (no description, no contact)."""
    since, until = check_period(since, until, now or datetime.now(UTC))
    start, end = period_bounds(since, until)
    known = conn.execute(
        text("SELECT 1 FROM units WHERE code = :unit AND valid_to IS NULL"), {"unit": unit}
    ).first()
    if known is None:
        raise InvalidInput(f"unknown unit {unit!r}", field="unit")
    rows = conn.execute(
        text(f"""
        SELECT i.id, i.category, c.name_zh AS category_zh, c.name_en AS category_en, i.status,
               i.sector_code, i.observed_at, i.due_at, i.closed_at,
               i.times_sent_back, i.extensions_approved,
               (i.status = 'verified' AND i.closed_at <= i.due_at) AS closed_in_time
        FROM incidents i JOIN categories_in_force c ON c.code = i.category
        WHERE i.observed_at >= :start AND i.observed_at < :end
          AND i.sector_code IN (SELECT s.code FROM units s LEFT JOIN units g
                ON g.code = s.parent_code AND g.valid_to IS NULL WHERE s.valid_to IS NULL
                AND s.level = 'sector' AND :unit IN (s.code, g.code, g.parent_code))
          AND {_categories(principal, "i")}
        ORDER BY i.observed_at DESC, i.id LIMIT :limit"""),
        {"start": start, "end": end, "unit": unit, "limit": limit},
    ).mappings()
    return {"unit": unit, "since": since, "until": until, "cases": [dict(r) for r in rows]}


#: sent back and extended counted from the events themselves (not the trigger's
#: counters), for the events of the period's incidents only
_MARKS = """
    SELECT incident_id,
           count(*) FILTER (WHERE kind = 'transition' AND from_status = 'resolved'
                            AND to_status = 'in_progress') AS sent_back,
           count(*) FILTER (WHERE kind = 'extension_approved') AS extended
    FROM incident_events WHERE kind IN ('transition', 'extension_approved')
      AND incident_id IN (SELECT id FROM incidents WHERE observed_at >= :start
                          AND observed_at < :end)
    GROUP BY 1
"""


def recount(
    conn: Connection, principal: Principal, level: str, since: date, until: date
) -> dict[str, dict]:
    """What `evaluation` sums from the rollups, counted again from the raw incidents and
    their events (slow; for checking that the triggers kept the rollups exact)."""
    check_level(level)
    start, end = period_bounds(since, until)
    period = _PERIOD_INCIDENTS.format(visible=_categories(principal, "i"))
    counts = RAW_COUNTS.replace("i.times_sent_back", "coalesce(k.sent_back, 0)").replace(
        "i.extensions_approved", "coalesce(k.extended, 0)"
    )
    if level == "worker":
        source = f"""
            FROM {period} i LEFT JOIN ({_MARKS}) k ON k.incident_id = i.id
            LEFT JOIN owners o ON o.incident_id = i.id
            CROSS JOIN LATERAL unnest(CASE WHEN o.worker IS NOT NULL THEN ARRAY[o.worker]
                                           ELSE i.assigned_to END) AS u(key)"""
        key = "u.key"
    elif level == "category":
        source = f"FROM {period} i LEFT JOIN ({_MARKS}) k ON k.incident_id = i.id"
        key = "i.category"
    else:
        source = f"""FROM {period} i LEFT JOIN ({_MARKS}) k ON k.incident_id = i.id
            JOIN ({sector_map_sql()}) m ON m.sector_code = i.sector_code"""
        key = "m.unit_code"
    rows = conn.execute(
        text(f"""
        WITH owners AS MATERIALIZED ({OWNERS_SQL})
        SELECT {key} AS key, {counts} {source}
        GROUP BY 1"""),
        {"start": start, "end": end, "level": level},
    ).mappings()
    return {r["key"]: _ints(r) for r in rows}

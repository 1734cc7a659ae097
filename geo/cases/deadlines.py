"""Deadlines of incidents from their category's time limits (vectorised).

Limits on the clock count minutes; limits in working days keep the time of day and skip
the days off in Beijing time: with a `geo.cases.workcalendar.WorkingCalendar` (what intake uses)
China's public holidays and make-up working days (调休) too, without one (the synthetic
history) Saturdays and Sundays only. A case reported on Friday 15:00 with one working day
is due on Monday 15:00; one reported on Saturday is counted from Monday.

    >>> due_at(np.array(["2026-11-20T07:00"], "datetime64[s]"), np.array([np.nan]), np.array([1.0]))
    array(['2026-11-23T07:00:00'], dtype='datetime64[s]')
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

import numpy as np

from geo.cases.workcalendar import WorkingCalendar
from geo.core.terms import BEIJING_OFFSET, CLOSED_SQL

#: local (Beijing) time = UTC + this, as numpy adds it
LOCAL_OFFSET = np.timedelta64(int(BEIJING_OFFSET / timedelta(hours=1)), "h")


def due_at(
    reported_utc: np.ndarray,
    close_minutes: np.ndarray,
    close_working_days: np.ndarray,
    calendar: WorkingCalendar | None = None,
) -> np.ndarray:
    """The deadline (UTC, datetime64[s]) of each report; per row exactly one of
    `close_minutes` / `close_working_days` is a number, the other NaN."""
    reported_utc = reported_utc.astype("datetime64[s]")
    on_clock = reported_utc + np.nan_to_num(close_minutes).astype("timedelta64[m]")
    local = reported_utc + LOCAL_OFFSET
    day = local.astype("datetime64[D]")
    time_of_day = local - day
    days = np.nan_to_num(close_working_days).astype(int)
    shifted = (
        calendar.offset(day, days)
        if calendar is not None
        else np.busday_offset(day, days, roll="forward")
    )
    working = shifted + time_of_day - LOCAL_OFFSET
    return np.where(np.isnan(close_minutes), working, on_clock).astype("datetime64[s]")


def dispatch_due_at(reported_utc: np.ndarray, dispatch_minutes: np.ndarray) -> np.ndarray:
    return reported_utc.astype("datetime64[s]") + dispatch_minutes.astype("timedelta64[m]")


def deadlines(
    reported_at: datetime, category: Mapping, calendar: WorkingCalendar | None = None
) -> tuple[datetime, datetime]:
    """(dispatch deadline, closing deadline) of one report, in UTC, from its category's row
    (`dispatch_minutes`, and `close_minutes` or `close_working_days`); the same rule as
    `due_at`, so intake and the seeded history agree."""
    reported = np.array([reported_at.astimezone(UTC).replace(tzinfo=None)], "datetime64[s]")

    def number(value) -> np.ndarray:
        return np.array([np.nan if value is None else float(value)])

    due = due_at(
        reported,
        number(category["close_minutes"]),
        number(category["close_working_days"]),
        calendar,
    )
    dispatch = dispatch_due_at(reported, number(category["dispatch_minutes"]))

    def utc(value: np.ndarray) -> datetime:
        return value[0].astype(datetime).replace(tzinfo=UTC)

    return utc(dispatch), utc(due)


#: SQL columns over incidents `{a}` computed against the bound parameter `:now` (never stored,
#: so never stale): `overdue` (open past its deadline), `dispatch_overdue` (dispatched late, or
#: still waiting past the dispatch deadline) and `closed_late` (verified after its deadline)
DEADLINE_FLAGS = (
    """
    ({a}.status NOT IN """
    + CLOSED_SQL
    + """
        AND CAST(:now AS timestamptz) > {a}.due_at) AS overdue,
    coalesce(coalesce({a}.dispatched_at,
                      CASE WHEN {a}.status = 'reported' THEN CAST(:now AS timestamptz) END)
             > {a}.dispatch_due_at, false) AS dispatch_overdue,
    ({a}.status = 'verified' AND {a}.closed_at > {a}.due_at) AS closed_late
"""
)

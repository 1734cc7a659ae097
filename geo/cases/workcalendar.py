"""Working days as China has them: weekends off, public holidays off, make-up working
weekend days (调休) on, by the `chinese-calendar` package, with an admin-editable override
table (`working_calendar`) for the years the package does not know or gets wrong.

    >>> cal = load_calendar(conn)                                      # doctest: +SKIP
    >>> cal.add_working_days(date(2026, 9, 30), 3)                     # doctest: +SKIP
    datetime.date(2026, 10, 10)
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from functools import lru_cache

import chinese_calendar
import numpy as np
from sqlalchemy import text
from sqlalchemy.engine import Connection

from geo.core.errors import InvalidInput

#: the span the calendar covers (deadlines never reach beyond it)
FIRST_DAY, LAST_DAY = np.datetime64("2000-01-01"), np.datetime64("2040-12-31")


@lru_cache
def package_days() -> tuple[np.ndarray, np.ndarray]:
    """(holidays on weekdays, working weekend days) as the `chinese-calendar` package
    knows them, as datetime64[D] arrays."""
    off = np.array(sorted(d for d in chinese_calendar.holidays if d.weekday() < 5), "datetime64[D]")
    on = np.array(sorted(chinese_calendar.workdays), "datetime64[D]")
    on = on[np.is_busday(on, weekmask="0000011")]  # only the weekend days it makes working
    return off, on


def package_years() -> tuple[int, int]:
    """The first and last year the `chinese-calendar` package knows."""
    years = [d.year for d in chinese_calendar.holidays]
    return min(years), max(years)


@dataclass(frozen=True)
class WorkingCalendar:
    """The sorted working days (datetime64[D]) from 2000 to 2040."""

    working: np.ndarray

    @classmethod
    def build(cls, overrides: dict[date, bool] | None = None) -> WorkingCalendar:
        """Weekdays, minus the package's holidays, plus its make-up days, then `overrides`
        (day → working?) on top."""
        days = np.arange(FIRST_DAY, LAST_DAY + 1, dtype="datetime64[D]")
        working = np.is_busday(days)
        off, on = package_days()
        working[(off - FIRST_DAY).astype(int)] = False
        working[(on - FIRST_DAY).astype(int)] = True
        for day, is_working in (overrides or {}).items():
            index = (np.datetime64(day, "D") - FIRST_DAY).astype(int)
            if 0 <= index < len(days):
                working[index] = is_working
        return cls(days[working])

    def offset(self, days: np.ndarray, n: np.ndarray) -> np.ndarray:
        """The working day `n` working days after each of `days` (datetime64[D]); a day
        that is not a working day counts from the next one (like `numpy.busday_offset`
        with roll="forward")."""
        start = np.searchsorted(self.working, days.astype("datetime64[D]"), side="left")
        return self.working[np.minimum(start + n, len(self.working) - 1)]

    def add_working_days(self, day: date, n: int) -> date:
        return self.offset(np.array([day], "datetime64[D]"), np.array([n]))[0].astype(date)

    def is_working(self, day: date) -> bool:
        at = np.searchsorted(self.working, np.datetime64(day, "D"))
        return bool(at < len(self.working) and self.working[at] == np.datetime64(day, "D"))


def overrides(conn: Connection) -> dict[date, bool]:
    return {
        r.day: r.working for r in conn.execute(text("SELECT day, working FROM working_calendar"))
    }


def load_calendar(conn: Connection) -> WorkingCalendar:
    """The running calendar: the package's, with the table's overrides."""
    return _cached(tuple(sorted(overrides(conn).items())))


@lru_cache(maxsize=8)
def _cached(items: tuple[tuple[date, bool], ...]) -> WorkingCalendar:
    return WorkingCalendar.build(dict(items))


def calendar_rows(conn: Connection, year: int) -> dict:
    """A year's non-ordinary days: holidays on weekdays and working weekend days, each
    with where it comes from (`package` or `table`), and the overrides of the table."""
    if not 2000 <= year <= 2040:
        raise InvalidInput(f"year {year} is outside 2000–2040", field="year")
    cal = load_calendar(conn)
    days = np.arange(np.datetime64(f"{year}-01-01"), np.datetime64(f"{year + 1}-01-01"))
    weekday = np.is_busday(days)
    working = np.isin(days, cal.working)
    special = days[weekday != working]
    first, last = package_years()
    table = {
        r.day: r
        for r in conn.execute(
            text(
                "SELECT day, working, note, changed_by FROM working_calendar "
                "WHERE extract(year FROM day) = :y ORDER BY day"
            ),
            {"y": year},
        )
    }
    return {
        "year": year,
        "package_knows_year": first <= year <= last,
        "days": [
            {
                "day": d.astype(date).isoformat(),
                "working": bool(np.isin(d, cal.working)),
                "source": "table" if d.astype(date) in table else "package",
            }
            for d in special
        ],
        "overrides": [
            {"day": r.day.isoformat(), "working": r.working, "note": r.note} for r in table.values()
        ],
    }


def set_day(
    conn: Connection, day: date, working: bool | None, note: str | None, actor: str
) -> None:
    """Override one day (`working` None: remove the override, the package decides)."""
    if not date(2000, 1, 1) <= day <= date(2040, 12, 31):
        raise InvalidInput(f"{day} is outside 2000–2040", field="day")
    if working is None:
        conn.execute(text("DELETE FROM working_calendar WHERE day = :d"), {"d": day})
        return
    conn.execute(
        text(
            "INSERT INTO working_calendar (day, working, note, changed_by) "
            "VALUES (:d, :w, :n, :a) ON CONFLICT (day) DO UPDATE SET working = :w, note = :n, "
            "changed_by = :a"
        ),
        {"d": day, "w": working, "n": note, "a": actor},
    )

"""The monthly totals over all categories (0019a): equal to their monthly rollups summed
again after inserts, moves, transitions, deletes, a boundary edit, a tenant's writes under
row-level security and truncation; the evaluation read from them (and from whole months
less the days outside the period) equals a recount of the raw incidents, for callers who
may and may not see the sensitive categories."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import text

from geo.access.roles import Principal, Role
from geo.cases.periods import MonthPlan, month_plan, totals_differences
from geo.core import tenancy
from geo.core.tenancy import Scope
from geo.insight.evaluation import COUNTS, HIST, evaluation, recount
from tests.conftest import busiest_sectors
from tests.planning_support import move_a_border

ADMIN = Principal(0, "admin", Role.ADMIN)
OFFICIAL = Principal(0, "official", Role.OFFICIAL)
COLUMNS = [*COUNTS, *HIST]
LEVELS = ("community", "grid2", "sector", "worker", "category", "subdistrict")


@pytest.mark.parametrize(
    "since, until, today, plan",
    [
        # the 365 days to today: twelve whole months less two days, and nothing after today
        (
            date(2025, 12, 3),
            date(2026, 12, 2),
            date(2026, 12, 2),
            MonthPlan(
                (date(2025, 12, 1), date(2027, 1, 1)),
                minus=[
                    (date(2025, 12, 1), date(2025, 12, 2)),
                    (date(2026, 12, 3), date(2026, 12, 31)),
                ],
            ),
        ),
        # days inside one month: the daily rollup alone
        (
            date(2026, 11, 5),
            date(2026, 11, 20),
            date(2026, 12, 2),
            MonthPlan(
                (date(2026, 11, 1), date(2026, 11, 1)),
                plus=[(date(2026, 11, 5), date(2026, 11, 20))],
            ),
        ),
        # whole months
        (
            date(2026, 1, 1),
            date(2026, 3, 31),
            date(2026, 12, 2),
            MonthPlan((date(2026, 1, 1), date(2026, 4, 1))),
        ),
        # a few days at either end: added from the daily rollup
        (
            date(2026, 1, 25),
            date(2026, 3, 5),
            date(2026, 12, 2),
            MonthPlan(
                (date(2026, 2, 1), date(2026, 3, 1)),
                plus=[(date(2026, 1, 25), date(2026, 1, 31)), (date(2026, 3, 1), date(2026, 3, 5))],
            ),
        ),
    ],
)
def test_a_period_is_read_as_whole_months_and_the_fewer_days(since, until, today, plan):
    assert month_plan(since, until, today) == plan


def _copy_incidents(conn, sector: str, n: int, suffix: str = "-T") -> None:
    """n new incidents: copies of the sector's first ones under new ids."""
    columns = list(
        conn.execute(
            text(
                "SELECT column_name FROM information_schema.columns WHERE table_name = "
                "'incidents' AND is_generated = 'NEVER' AND column_name <> 'idempotency_key' "
                "ORDER BY ordinal_position"
            )
        ).scalars()
    )
    picked = ", ".join(f"id || '{suffix}'" if c == "id" else c for c in columns)
    conn.execute(
        text(
            f"INSERT INTO incidents ({', '.join(columns)}) SELECT {picked} FROM incidents "
            "WHERE sector_code = :s AND id NOT LIKE '%-_' ORDER BY id LIMIT :n"
        ),
        {"s": sector, "n": n},
    )


def _exact(engine) -> None:
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM incident_monthly_totals")).scalar() > 0
        assert totals_differences(conn, COLUMNS) == 0


def test_the_totals_stay_exact_through_every_kind_of_write(fresh_engine):
    _exact(fresh_engine)
    with fresh_engine.begin() as conn:
        a, b = busiest_sectors(conn)
        _copy_incidents(conn, a, 30)
        # moved, verified, re-categorised, sent back, re-dispatched, deleted
        conn.execute(
            text(
                "UPDATE incidents SET sector_code = :b WHERE id IN "
                "(SELECT id FROM incidents WHERE sector_code = :a ORDER BY id LIMIT 20)"
            ),
            {"a": a, "b": b},
        )
        conn.execute(
            text(
                "UPDATE incidents SET status = 'verified', closed_at = reported_at + "
                "interval '3 hours' WHERE id LIKE '%-T' AND status <> 'verified'"
            )
        )
        conn.execute(
            text(
                "UPDATE incidents SET category = 'sanitation', times_sent_back = 1 "
                "WHERE id IN (SELECT id FROM incidents WHERE sector_code = :b ORDER BY id "
                "LIMIT 10)"
            ),
            {"b": b},
        )
        conn.execute(
            text(
                "UPDATE incidents SET assigned_to = ARRAY['W-TOTALS'] WHERE id IN "
                "(SELECT id FROM incidents WHERE sector_code = :a ORDER BY id DESC LIMIT 10)"
            ),
            {"a": a},
        )
        conn.execute(  # (copies: no other incident names them its original)
            text(
                "DELETE FROM incidents WHERE id IN "
                "(SELECT id FROM incidents WHERE id LIKE '%-T' ORDER BY id LIMIT 15)"
            )
        )
        assert totals_differences(conn, COLUMNS) == 0

    # a boundary edit re-attaches the incidents in the changed area
    def exact(conn) -> None:
        assert totals_differences(conn, COLUMNS) == 0

    assert move_a_border(fresh_engine, "incidents", exact) > 0
    # a tenant's writes, under row-level security
    home = tenancy.subdistrict_of(a)
    with tenancy.scoped(Scope(home)), fresh_engine.begin() as conn:
        assert conn.execute(text("SELECT row_security_active('incident_monthly_totals')")).scalar()
        conn.execute(
            text(
                "UPDATE incidents SET status = 'verified', closed_at = reported_at + "
                "interval '1 hour' WHERE id IN (SELECT id FROM incidents WHERE status <> "
                "'verified' ORDER BY id LIMIT 25)"
            )
        )
        _copy_incidents(conn, b, 5, "-U")
    _exact(fresh_engine)
    with fresh_engine.begin() as conn:
        conn.execute(text("TRUNCATE incidents CASCADE"))
        for table in ("incident_monthly_totals", "incident_worker_monthly_totals"):
            assert conn.execute(text(f"SELECT count(*) FROM {table}")).scalar() == 0


@pytest.mark.parametrize("who", [ADMIN, OFFICIAL])
def test_the_evaluation_from_the_totals_equals_a_recount(fresh_engine, who):
    """Twelve months less the days outside the period (the 365 days to a mid-month day),
    for a caller who may see the sensitive categories and one who may not (the totals less
    those categories' rows); a tenant and the city read the same figures under row-level
    security."""
    with fresh_engine.connect() as conn:
        last = conn.execute(
            text("SELECT max(observed_at AT TIME ZONE 'Asia/Shanghai')::date FROM incidents")
        ).scalar_one()
        home = conn.execute(text("SELECT left(min(code), 9) FROM units")).scalar_one()
    since = date(last.year - 1, last.month, 3) if last.day > 3 else date(last.year - 1, 1, 3)
    unscoped = {}
    with fresh_engine.begin() as conn:
        for level in LEVELS:
            report = evaluation(conn, who, level, since, last)
            kept = {r["code"]: r["_raw"] for r in report.rows if r["_raw"]["incidents"]}
            assert kept, level
            assert kept == recount(conn, who, level, since, last), level
            unscoped[level] = kept
    for scope in (Scope(home), Scope(home, city=True)):
        with tenancy.scoped(scope), fresh_engine.begin() as conn:
            for level in LEVELS:
                report = evaluation(conn, who, level, since, last)
                kept = {r["code"]: r["_raw"] for r in report.rows if r["_raw"]["incidents"]}
                assert kept == unscoped[level], (level, scope)

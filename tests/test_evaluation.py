"""Evaluation for officials (issue 20): indicators of cases with a known fate, checked one
by one; the rollups against a recount of the raw incidents and events; bad input."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import text

from geo.cases.stats import BEIJING, HIST
from geo.insight.evaluation import evaluation, recount
from tests.conftest import auth
from tests.incident_support import inside, other_sector, principal, worker_sector

#: a month the seeded history (two years to November 2026) does not reach
MARCH_2020 = {"since": "2020-03-01", "until": "2020-03-31"}
T0 = datetime(2020, 3, 10, 10, 0, tzinfo=BEIJING)


def _case(conn, case_id, sector, lonlat, status, *, closed_h=None, due_h=24, dispatched_h=0.2,
          dispatch_due_h=0.5, team=("W001", "W002"), category="sanitation"):  # fmt: skip
    conn.execute(
        text("""
        INSERT INTO incidents (id, category, status, observed_at, reported_at, dispatch_due_at,
            due_at, dispatched_at, closed_at, assigned_to, sector_code, geom, source)
        VALUES (:id, :category, :status, :t0, :t0, :dispatch_due, :due, :dispatched, :closed,
            :team, :sector, ST_SetSRID(ST_MakePoint(:lon, :lat), 4326), 'api')"""),
        {
            "id": case_id,
            "category": category,
            "status": status,
            "t0": T0,
            "dispatch_due": T0 + timedelta(hours=dispatch_due_h),
            "due": T0 + timedelta(hours=due_h),
            "dispatched": T0 + timedelta(hours=dispatched_h) if dispatched_h is not None else None,
            "closed": T0 + timedelta(hours=closed_h) if closed_h is not None else None,
            "team": list(team) if team else None,
            "sector": sector,
            "lon": lonlat[0],
            "lat": lonlat[1],
        },
    )


def _event(conn, case_id, kind, frm, to, hours, note=None):
    conn.execute(
        text(
            "INSERT INTO incident_events (incident_id, at, actor, kind, from_status, to_status, "
            "note) VALUES (:id, :at, 'test', :kind, :frm, :to, :note)"
        ),
        {
            "id": case_id,
            "at": T0 + timedelta(hours=hours),
            "kind": kind,
            "frm": frm,
            "to": to,
            "note": note,
        },  # fmt: skip
    )


@pytest.fixture
def fates(fresh_engine):
    """Six cases in one sector in March 2020, each with a known fate."""
    sector = worker_sector(fresh_engine)
    where = inside(fresh_engine, sector)
    with fresh_engine.begin() as conn:
        _case(conn, "T-IN-TIME", sector, where, "verified", closed_h=5)
        _case(conn, "T-LATE", sector, where, "verified", closed_h=48, dispatched_h=2)
        _case(conn, "T-SENT-BACK", sector, where, "verified", closed_h=20)
        _event(conn, "T-SENT-BACK", "transition", "resolved", "in_progress", 10, "照片不清")
        _case(conn, "T-EXTENDED", sector, where, "in_progress", due_h=72)
        _event(conn, "T-EXTENDED", "extension_approved", "in_progress", "in_progress", 3)
        _case(conn, "T-REJECTED", sector, where, "rejected", closed_h=1, dispatched_h=None,
              team=None)  # fmt: skip
        _case(conn, "T-DUPLICATE", sector, where, "duplicate", closed_h=1, dispatched_h=None,
              team=None)  # fmt: skip
        # one named owner (the case desk's `assign`): the case counts for W003 only
        _event(conn, "T-IN-TIME", "assign", "dispatched", "dispatched", 0.3, "指派给 W003")
        conn.execute(text("UPDATE incidents SET owner_id = 'W003' WHERE id = 'T-IN-TIME'"))
        parents = conn.execute(
            text(
                "SELECT g.code AS grid2, g.parent_code AS community FROM units s "
                "JOIN units g ON g.code = s.parent_code AND g.valid_to IS NULL "
                "WHERE s.code = :s AND s.valid_to IS NULL"
            ),
            {"s": sector},
        ).one()
    return {"sector": sector, "grid2": parents.grid2, "community": parents.community}


def _row(client, level, code, **params):
    body = client.get(
        "/api/evaluation", params={"level": level, **MARCH_2020, **params}, headers=auth("admin")
    )
    assert body.status_code == 200, body.text
    return next(r for r in body.json()["rows"] if r["code"] == code)


def test_cases_with_a_known_fate_give_every_indicator(fresh_client, fates):
    for level in ("sector", "grid2", "community"):
        row = _row(fresh_client, level, fates[level])
        assert (row["filed"], row["voided"]) == (4, 2), level
        assert (row["closed"], row["closed_in_time"], row["closed_late"]) == (3, 2, 1)
        assert (row["sent_back"], row["extended"], row["first_time_fixed"]) == (1, 1, 2)
        assert (row["dispatched"], row["dispatched_in_time"]) == (4, 3)
        rates = {k: (v["numerator"], v["denominator"], v["value"]) for k, v in row["rates"].items()}
        assert rates == {
            "closed": (3, 4, 75.0),
            "closed_in_time": (2, 3, 66.7),
            "sent_back": (1, 4, 25.0),
            "extended": (1, 4, 25.0),
            "first_time_fixed": (2, 3, 66.7),
            "dispatched_in_time": (3, 4, 75.0),
        }
        # 5 h, 20 h and 48 h to close: the median is 20 h within half a 15 % bucket
        assert 20 / 1.08 <= row["median_hours_to_close"] <= 20 * 1.08
        assert 20 < row["p90_hours_to_close"] <= 48 * 1.15
        # .25·.75 + .30·.667 + .20·.667 + .15·.75 + .10·(1 − .25) = .708
        assert row["score"] == 70.8 and row["grade"] == "C"
        assert row["grade_colour"] == "#ef6c00"
        assert row["small_sample"] is True and row["rank"] is None
    category = _row(fresh_client, "category", "sanitation")
    assert (category["filed"], category["closed"], category["sent_back"]) == (4, 3, 1)


def test_a_case_counts_for_its_named_owner_else_for_each_worker_of_its_team(fresh_client, fates):
    w1, w3 = _row(fresh_client, "worker", "W001"), _row(fresh_client, "worker", "W003")
    assert (w1["filed"], w1["closed"], w1["sent_back"], w1["extended"]) == (3, 2, 1, 1)
    assert (w3["filed"], w3["closed"], w3["closed_in_time"]) == (1, 1, 1)
    assert _row(fresh_client, "worker", "W002")["filed"] == 3


def test_the_rollups_follow_a_sent_back_case_to_another_sector(fresh_engine, fresh_client, fates):
    elsewhere = other_sector(fresh_engine, fates["sector"])
    with fresh_engine.begin() as conn:
        conn.execute(
            text("UPDATE incidents SET sector_code = :s WHERE id = 'T-SENT-BACK'"),
            {"s": elsewhere},
        )
        # sent back a second time: still one case sent back, counted twice on the case
        _event(conn, "T-SENT-BACK", "transition", "resolved", "in_progress", 12, "再次返工")
        assert (
            conn.execute(
                text("SELECT times_sent_back FROM incidents WHERE id = 'T-SENT-BACK'")
            ).scalar()
            == 2
        )
    assert _row(fresh_client, "sector", fates["sector"])["sent_back"] == 0
    moved = _row(fresh_client, "sector", elsewhere)
    assert (moved["filed"], moved["sent_back"], moved["first_time_fixed"]) == (1, 1, 0)
    _assert_matches_recount(fresh_engine, date(2020, 3, 1), date(2020, 3, 31))


def _assert_matches_recount(engine, since: date, until: date) -> None:
    with engine.connect() as conn:
        admin = principal(conn, "admin")
        for level in ("community", "grid2", "sector", "worker", "category"):
            report = evaluation(conn, admin, level, since, until)
            kept = {r["code"]: r["_raw"] for r in report.rows if r["_raw"]["incidents"]}
            assert kept == recount(conn, admin, level, since, until), (level, since, until)


@pytest.mark.parametrize(
    "since, until",
    [
        (date(2025, 11, 3), date(2026, 11, 2)),  # a year, whole months and days at each end
        (date(2026, 10, 1), date(2026, 10, 31)),  # one month
        (date(2026, 3, 17), date(2026, 4, 9)),  # days across a month's end
    ],
)
def test_the_seeded_district_matches_a_recount_from_raw_incidents_and_events(
    fresh_engine, since, until
):
    with fresh_engine.begin() as conn:
        # give the seeded history some sent-back and extended cases, through the events
        conn.execute(
            text("""
            INSERT INTO incident_events (incident_id, at, actor, kind, from_status, to_status)
            SELECT id, closed_at - interval '1 hour', 'test', 'transition', 'resolved',
                   'in_progress'
            FROM incidents WHERE status = 'verified' AND right(id, 1) IN ('3', '7')""")
        )
        conn.execute(
            text("""
            INSERT INTO incident_events (incident_id, at, actor, kind, from_status, to_status)
            SELECT id, reported_at + interval '1 hour', 'test', 'extension_approved', status,
                   status FROM incidents WHERE right(id, 1) = '5'""")
        )
    _assert_matches_recount(fresh_engine, since, until)
    with fresh_engine.connect() as conn:
        admin = principal(conn, "admin")
        year = evaluation(conn, admin, "community", since, until).total
    assert year["filed"] > 0 and year["sent_back"] > 0 and year["extended"] > 0


def test_the_api_matches_a_recount_for_three_periods(client, seeded_engine):
    periods = [
        ("2025-11-03", "2026-11-02"),
        ("2026-10-01", "2026-10-31"),
        ("2026-03-17", "2026-04-09"),
    ]
    # counted first, in a transaction of its own (signing in writes the token's last use)
    with seeded_engine.begin() as conn:
        official = principal(conn, "official")
        raw = {
            (since, until): recount(
                conn, official, "grid2", date.fromisoformat(since), date.fromisoformat(until)
            )
            for since, until in periods
        }
    for since, until in periods:
        body = client.get(
            "/api/evaluation",
            params={"level": "grid2", "since": since, "until": until},
            headers=auth("official"),
        ).json()
        assert len(body["rows"]) == 12
        for row in body["rows"]:
            counts = raw[since, until][row["code"]]
            assert row["filed"] == counts["incidents"] - counts["voided"]
            assert row["closed"] == counts["verified"]
            assert row["rates"]["closed_in_time"]["numerator"] == counts["verified_in_time"]
            assert row["dispatched_in_time"] == counts["dispatched_in_time"]
            assert row["sent_back"] == counts["sent_back"]
            assert sum(counts[c] for c in HIST) == counts["verified"]


def test_key_population_cases_count_only_for_those_allowed_to_see_them(client):
    admin = client.get("/api/evaluation?level=category", headers=auth("admin")).json()
    official = client.get("/api/evaluation?level=category", headers=auth("official")).json()
    assert "key_population" in {r["code"] for r in admin["rows"]}
    assert "key_population" not in {r["code"] for r in official["rows"]}
    assert official["total"]["filed"] < admin["total"]["filed"]


@pytest.mark.parametrize(
    "params, field",
    [
        ({"since": "2026-05-01", "until": "2026-04-01"}, "since"),
        ({"level": "street"}, "level"),
        ({"since": "2026-13-01"}, "since"),
    ],
)
def test_bad_input_is_a_422_naming_the_field(client, params, field):
    response = client.get("/api/evaluation", params=params, headers=auth("official"))
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body.get("field") == field or field in str(body.get("errors")), body


def test_the_trend_counts_the_same_cases_as_the_table(client):
    params = {"since": "2026-09-01", "until": "2026-10-31"}
    table = client.get(
        "/api/evaluation", params={**params, "level": "category"}, headers=auth("admin")
    ).json()
    for every in ("day", "week", "month"):
        trend = client.get(
            "/api/evaluation/trend", params={**params, "every": every}, headers=auth("admin")
        ).json()
        assert sum(sum(c["filed"]) for c in trend["categories"]) == table["total"]["filed"]
        assert len(trend["steps"]) == {"day": 61, "week": 9, "month": 2}[every]
    unknown = client.get("/api/evaluation/trend?every=year", headers=auth("admin"))
    assert unknown.status_code == 422 and unknown.json()["field"] == "every"


def test_a_sectors_cases_are_listed_with_their_fate(fresh_client, fates):
    body = fresh_client.get(
        "/api/evaluation/cases", params={"unit": fates["sector"], **MARCH_2020},
        headers=auth("admin"),
    ).json()  # fmt: skip
    got = {c["id"]: c for c in body["cases"]}
    assert set(got) == {
        "T-IN-TIME", "T-LATE", "T-SENT-BACK", "T-EXTENDED", "T-REJECTED", "T-DUPLICATE"
    }  # fmt: skip
    assert got["T-SENT-BACK"]["times_sent_back"] == 1
    assert got["T-EXTENDED"]["extensions_approved"] == 1
    assert got["T-LATE"]["closed_in_time"] is False
    assert got["T-LATE"]["category_zh"] == "环境卫生"
    assert "description" not in got["T-LATE"] and "reporter_contact" not in got["T-LATE"]
    by_grid = fresh_client.get(
        "/api/evaluation/cases", params={"unit": fates["community"], **MARCH_2020},
        headers=auth("admin"),
    ).json()  # fmt: skip
    assert len(by_grid["cases"]) == 6


def test_migration_0015_goes_down_and_up_again_with_exact_rollups(fresh_url, fresh_engine, fates):
    from alembic import command

    from geo.ops.migrate import alembic_config

    config = alembic_config(fresh_url)
    command.downgrade(config, "0013")
    with fresh_engine.connect() as conn:
        columns = set(
            conn.execute(
                text(
                    "SELECT column_name FROM information_schema.columns "
                    "WHERE table_name IN ('incidents', 'incident_daily_stats')"
                )
            ).scalars()
        )
    assert not {"times_sent_back", "extensions_approved", "sent_back", "voided"} & columns
    command.upgrade(config, "head")
    # the counters are rebuilt from the events, the rollups from the incidents
    row = _row_direct(fresh_engine, "sector", fates["sector"])
    assert (row["filed"], row["sent_back"], row["extended"]) == (4, 1, 1)
    _assert_matches_recount(fresh_engine, date(2020, 3, 1), date(2020, 3, 31))


def _row_direct(engine, level, code):
    with engine.connect() as conn:
        report = evaluation(
            conn, principal(conn, "admin"), level, date(2020, 3, 1), date(2020, 3, 31)
        )
    return next(r for r in report.rows if r["code"] == code)


def _worker_rollup(engine, worker: str) -> tuple[int, int, int]:
    """(incidents, verified, extended) of `worker` in March 2020, read from the rollup table
    itself (not through the evaluation)."""
    with engine.connect() as conn:
        row = conn.execute(
            text(
                "SELECT coalesce(sum(incidents), 0), coalesce(sum(verified), 0), "
                "coalesce(sum(extended), 0) FROM incident_worker_daily_stats "
                "WHERE worker_id = :w AND day BETWEEN '2020-03-01' AND '2020-03-31'"
            ),
            {"w": worker},
        ).one()
    return tuple(int(v) for v in row)


def test_the_worker_rollup_follows_a_new_owner_a_new_team_and_a_deleted_case(
    fresh_engine, fresh_client, fates
):
    assert _worker_rollup(fresh_engine, "W001") == (3, 2, 1)
    assert _worker_rollup(fresh_engine, "W003") == (1, 1, 0)
    with fresh_engine.begin() as conn:
        conn.execute(text("UPDATE incidents SET owner_id = 'W004' WHERE id = 'T-LATE'"))
        conn.execute(
            text("UPDATE incidents SET assigned_to = ARRAY['W005'] WHERE id = 'T-EXTENDED'")
        )
        conn.execute(text("DELETE FROM incident_events WHERE incident_id = 'T-SENT-BACK'"))
        conn.execute(text("DELETE FROM incidents WHERE id = 'T-SENT-BACK'"))
    assert _worker_rollup(fresh_engine, "W001") == (0, 0, 0)
    assert _worker_rollup(fresh_engine, "W004") == (1, 1, 0)
    assert _worker_rollup(fresh_engine, "W005") == (1, 0, 1)
    late_owner = _row(fresh_client, "worker", "W004")
    assert (late_owner["filed"], late_owner["closed"], late_owner["closed_in_time"]) == (1, 1, 0)
    assert _row(fresh_client, "worker", "W002")["filed"] == 0
    _assert_matches_recount(fresh_engine, date(2020, 3, 1), date(2020, 3, 31))


def test_migration_0016e_goes_down_and_up_again_with_exact_worker_rollups(
    fresh_url, fresh_engine, fates
):
    from alembic import command

    from geo.ops.migrate import alembic_config

    config = alembic_config(fresh_url)
    command.downgrade(config, "0016d")  # 0016e's parent in the chain
    with fresh_engine.connect() as conn:
        left = set(
            conn.execute(
                text(
                    "SELECT tgname FROM pg_trigger WHERE tgname LIKE 'incident_worker_%' "
                    "UNION ALL SELECT tablename FROM pg_tables "
                    "WHERE tablename LIKE 'incident_worker_%'"
                )
            ).scalars()
        )
    assert left == set()
    command.upgrade(config, "head")
    # the rollup is rebuilt from the incidents as they are
    assert _worker_rollup(fresh_engine, "W003") == (1, 1, 0)
    assert _worker_rollup(fresh_engine, "W001") == (3, 2, 1)
    _assert_matches_recount(fresh_engine, date(2020, 3, 1), date(2020, 3, 31))

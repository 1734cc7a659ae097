"""Deadlines and overdue flags (on the clock and in working days, across a weekend), the
category table admins configure, and the seeded history read through the same rules."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pandas as pd
from sqlalchemy import text

from geo.cases.deadlines import DEADLINE_FLAGS
from geo.cases.flow import TRANSITIONS, EventKind
from geo.cases.incidents import IncidentReport, read_incident, report_incident
from geo.grid import facts
from tests.conftest import SEED_END, auth
from tests.incident_support import inside, principal, worker_sector

BEIJING = ZoneInfo("Asia/Shanghai")
#: Friday 20 November 2026, 15:00 in Jiuquan
FRIDAY_3PM = datetime(2026, 11, 20, 15, 0, tzinfo=BEIJING)


def file_at(conn, engine, when: datetime, category: str, role: str = "admin") -> dict:
    lon, lat = inside(engine, worker_sector(engine))
    report = IncidentReport(lon, lat, category, observed_at=when - timedelta(minutes=5))
    view, _ = report_incident(conn, principal(conn, role), report, now=when)
    return view


def test_one_working_day_from_friday_afternoon_is_monday_afternoon(fresh_engine):
    with fresh_engine.begin() as conn:
        case = file_at(conn, fresh_engine, FRIDAY_3PM, "sanitation")  # 1 working day
    assert case["due_at"].astimezone(BEIJING) == datetime(2026, 11, 23, 15, 0, tzinfo=BEIJING)
    assert case["dispatch_due_at"] == FRIDAY_3PM + timedelta(minutes=120)
    assert case["due_in_minutes"] == 3 * 24 * 60


def test_a_report_on_saturday_starts_counting_on_monday(fresh_engine):
    saturday = datetime(2026, 11, 21, 10, 0, tzinfo=BEIJING)
    with fresh_engine.begin() as conn:
        case = file_at(conn, fresh_engine, saturday, "dispute")  # 3 working days
    due = case["due_at"].astimezone(BEIJING)
    # Monday, Tuesday and Wednesday are the three working days: due Thursday morning
    assert due == datetime(2026, 11, 26, 10, 0, tzinfo=BEIJING)
    assert due.weekday() == 3


def test_clock_limits_run_through_the_weekend(fresh_engine):
    saturday_night = datetime(2026, 11, 21, 23, 30, tzinfo=BEIJING)
    with fresh_engine.begin() as conn:
        case = file_at(conn, fresh_engine, saturday_night, "public_security")  # 30 min / 2 h
    assert case["dispatch_due_at"] == saturday_night + timedelta(minutes=30)
    assert case["due_at"] == saturday_night + timedelta(hours=2)


def test_overdue_is_computed_at_the_time_of_reading(fresh_engine):
    with fresh_engine.begin() as conn:
        case = file_at(conn, fresh_engine, FRIDAY_3PM, "safety_hazard")  # 2 h on the clock
        admin = principal(conn, "admin")
        due = case["due_at"]
        before = read_incident(conn, admin, case["id"], now=due - timedelta(minutes=1))
        after = read_incident(conn, admin, case["id"], now=due + timedelta(minutes=1))
    assert before["overdue"] is False and before["due_in_minutes"] == 1
    assert after["overdue"] is True and after["due_in_minutes"] == -1
    assert after["dispatch_overdue"] is False  # dispatched at once on intake


def test_a_case_verified_late_is_no_longer_overdue_but_closed_late(fresh_engine):
    with fresh_engine.begin() as conn:
        case = file_at(conn, fresh_engine, FRIDAY_3PM, "traffic")  # 2 h on the clock
        admin = principal(conn, "admin")
        worker = principal(conn, "grid_worker")
        from geo.cases.incidents import change_status

        t = FRIDAY_3PM + timedelta(minutes=10)
        change_status(conn, worker, case["id"], "in_progress", at=t, now=t)
        t += timedelta(hours=2)
        change_status(conn, worker, case["id"], "resolved", at=t, now=t)
        t += timedelta(hours=1)
        done = change_status(conn, admin, case["id"], "verified", at=t, now=t)
        later = read_incident(conn, admin, case["id"], now=t + timedelta(days=30))
    assert done["closed_at"] > done["due_at"]
    assert later["overdue"] is False and later["closed_late"] is True
    assert later["due_in_minutes"] is None


def test_a_report_nobody_dispatches_becomes_dispatch_overdue(fresh_engine):
    with fresh_engine.begin() as conn:
        conn.execute(text("DELETE FROM resources WHERE kind = 'grid_worker'"))
        case = file_at(conn, fresh_engine, FRIDAY_3PM, "work_safety")  # dispatch in 30 min
        admin = principal(conn, "admin")
        soon = read_incident(conn, admin, case["id"], now=FRIDAY_3PM + timedelta(minutes=20))
        late = read_incident(conn, admin, case["id"], now=FRIDAY_3PM + timedelta(minutes=40))
    assert case["status"] == "reported"
    assert soon["dispatch_overdue"] is False and late["dispatch_overdue"] is True


def test_categories_are_listed_for_every_signed_in_role(client):
    for role in ("admin", "planner", "patrol", "grid_worker", "official"):
        response = client.get("/api/categories", headers=auth(role))
        assert response.status_code == 200, role
    rows = {c["code"]: c for c in response.json()}
    assert set(rows) == {c.code for c in facts_categories()}
    assert rows["key_population"]["sensitive"] is True
    assert rows["key_population"]["name_zh"] == "重点人群管理"
    assert rows["public_security"]["limit"] == "dispatch within 30 min; close within 2 h"
    assert client.get("/api/categories").status_code == 401


def facts_categories():
    from geo.cases.categories import CATEGORIES

    return CATEGORIES


def test_an_admin_changes_a_limit_and_only_new_reports_get_it(fresh_client, fresh_engine):
    body = {
        "lon": 0,
        "lat": 0,
        "category": "sanitation",
        "observed_at": (datetime.now(UTC) - timedelta(minutes=5)).isoformat(),
    }
    body["lon"], body["lat"] = inside(fresh_engine, worker_sector(fresh_engine))
    before = fresh_client.post("/api/incidents", json=body, headers=auth("patrol")).json()
    changed = fresh_client.patch(
        "/api/categories/sanitation", json={"close_minutes": 240}, headers=auth("admin")
    )
    assert changed.status_code == 200
    assert changed.json()["close_minutes"] == 240 and changed.json()["close_working_days"] is None
    after = fresh_client.post("/api/incidents", json=body, headers=auth("patrol")).json()
    reported = datetime.fromisoformat(after["reported_at"])
    due = datetime.fromisoformat(after["due_at"])
    assert timedelta(minutes=239) < due - reported <= timedelta(minutes=240)
    kept = fresh_client.get(f"/api/incidents/{before['id']}", headers=auth("admin")).json()
    assert kept["due_at"] == before["due_at"]
    listed = fresh_client.get("/api/categories", headers=auth("official")).json()
    assert [c["close_minutes"] for c in listed if c["code"] == "sanitation"] == [240]


def test_bad_category_changes_are_refused_and_change_nothing(fresh_client):
    admin = auth("admin")
    both = fresh_client.patch(
        "/api/categories/dispute",
        json={"close_minutes": 60, "close_working_days": 2},
        headers=admin,
    )
    assert both.status_code == 422
    too_long = fresh_client.patch(
        "/api/categories/dispute", json={"close_working_days": 365}, headers=admin
    )
    assert too_long.status_code == 422 and too_long.json()["field"] == "close_working_days"
    slow = fresh_client.patch(
        "/api/categories/traffic", json={"dispatch_minutes": 300}, headers=admin
    )
    assert slow.status_code == 422 and "cannot exceed" in slow.json()["detail"]
    sensitive = fresh_client.patch(
        "/api/categories/key_population", json={"sensitive": False}, headers=admin
    )
    assert sensitive.status_code == 422
    assert (
        fresh_client.patch(
            "/api/categories/graffiti", json={"close_minutes": 60}, headers=admin
        ).status_code
        == 404
    )
    for role in ("grid_worker", "patrol", "planner", "official"):
        response = fresh_client.patch(
            "/api/categories/dispute", json={"close_working_days": 5}, headers=auth(role)
        )
        assert response.status_code == 403, role
    dispute = [
        c
        for c in fresh_client.get("/api/categories", headers=admin).json()
        if c["code"] == "dispute"
    ][0]
    assert (dispute["close_minutes"], dispute["close_working_days"]) == (None, 3)


def test_the_seeded_history_has_realistic_state_mixes_by_the_same_flags(seeded_engine):
    with seeded_engine.connect() as conn:
        f = pd.read_sql(
            text(f"SELECT i.status, {DEADLINE_FLAGS.format(a='i')} FROM incidents i"),
            conn,
            params={"now": SEED_END},
        )
    share = f["status"].value_counts(normalize=True)
    assert len(f) == facts.INCIDENTS_PER_SCALE
    assert share["verified"] > 0.9  # most closed
    assert 0 < share.get("rejected", 0) < 0.05 and 0 < share.get("duplicate", 0) < 0.05
    assert 0 < f["overdue"].sum() < 0.05 * len(f)  # some open past their deadline
    assert 0 < f["closed_late"].sum() < 0.15 * len(f)  # a few verified late
    open_cases = f[~f["status"].isin(["verified", "rejected", "duplicate"])]
    assert len(open_cases) > 0


def test_the_seeded_history_only_makes_moves_the_case_loop_allows(seeded_engine):
    legal = {(f.value, t.value) for f, t in TRANSITIONS}
    with seeded_engine.connect() as conn:
        moves = conn.execute(
            text(
                "SELECT DISTINCT kind, from_status, to_status FROM incident_events "
                "WHERE kind <> 'report'"
            )
        ).all()
        mismatched = conn.execute(
            text(
                "SELECT count(*) FROM incidents i JOIN LATERAL (SELECT to_status FROM "
                "incident_events e WHERE e.incident_id = i.id ORDER BY e.at DESC, e.id DESC "
                "LIMIT 1) last ON true WHERE last.to_status <> i.status"
            )
        ).scalar()
        dangling = conn.execute(
            text(
                "SELECT count(*) FROM incidents d LEFT JOIN incidents o ON o.id = d.duplicate_of "
                "WHERE d.status = 'duplicate' AND (o.id IS NULL OR o.category <> d.category)"
            )
        ).scalar()
    assert {k for k, _, _ in moves} <= {e.value for e in EventKind}
    assert {(f, t) for _, f, t in moves} <= legal
    assert mismatched == 0 and dangling == 0

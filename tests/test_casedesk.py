"""The case desk's API: one named owner, the case lists, extension and return requests,
China's working calendar in deadlines."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import chinese_calendar
from sqlalchemy import text

from geo.access.roles import authenticate
from geo.cases.incidents import IncidentReport, report_incident
from geo.cases.workcalendar import WorkingCalendar, package_years
from tests.conftest import TOKENS, auth
from tests.incident_support import inside, other_sector, report_body, worker_sector

PROBLEM = "application/problem+json"


def file(client, engine, role: str = "patrol", sector: str | None = None, **extra) -> dict:
    sector = sector or worker_sector(engine)
    response = client.post(
        "/api/incidents", json=report_body(*inside(engine, sector), **extra), headers=auth(role)
    )
    assert response.status_code == 201, response.json()
    return response.json()


def sibling_worker(engine, sector: str) -> str:
    """A grid worker serving another sector of `sector`'s level-2 grid."""
    with engine.connect() as conn:
        return conn.execute(
            text(
                "SELECT r.id FROM resources r JOIN units u ON u.code = r.serves_code "
                "AND u.valid_to IS NULL WHERE r.kind = 'grid_worker' AND u.code <> :s "
                "AND u.parent_code = (SELECT parent_code FROM units WHERE code = :s "
                "AND valid_to IS NULL) ORDER BY r.id LIMIT 1"
            ),
            {"s": sector},
        ).scalar()


def far_worker(engine, sector: str) -> str:
    """A grid worker of another level-2 grid."""
    far = other_sector(engine, sector)
    with engine.connect() as conn:
        return conn.execute(
            text("SELECT id FROM resources WHERE kind = 'grid_worker' AND serves_code = :s"),
            {"s": far},
        ).scalar()


def history_kinds(case: dict) -> list[str]:
    return [e["kind"] for e in case["history"]]


def test_a_supervisor_reassigns_a_case_to_one_named_worker_and_the_team_still_sees_it(
    fresh_client, fresh_engine
):
    sector = worker_sector(fresh_engine)
    case = file(fresh_client, fresh_engine)
    other = sibling_worker(fresh_engine, sector)
    assert other, "the seeded district has a level-2 grid with two staffed sectors"
    first = fresh_client.post(
        f"/api/incidents/{case['id']}/assign", json={"worker": "W001"}, headers=auth("supervisor")
    )
    assert first.status_code == 200, first.json()
    assert first.json()["owner_id"] == "W001"
    moved = fresh_client.post(
        f"/api/incidents/{case['id']}/assign", json={"worker": other}, headers=auth("supervisor")
    )
    body = moved.json()
    assert moved.status_code == 200 and body["owner_id"] == other
    assert other in [w["id"] for w in body["assigned_to"]]
    last = body["history"][-1]
    assert last["kind"] == "assign" and last["actor"] == "supervisor:test supervisor"
    assert other in last["note"] and "W001" in last["note"]
    # the sector's team (W001) still sees and may act on it
    seen = fresh_client.get(f"/api/incidents/{case['id']}", headers=auth("grid_worker"))
    assert seen.status_code == 200 and "in_progress" in seen.json()["next"]


def test_assigning_a_worker_who_does_not_serve_the_grid_is_422_and_writes_nothing(
    fresh_client, fresh_engine
):
    sector = worker_sector(fresh_engine)
    case = file(fresh_client, fresh_engine)
    far = far_worker(fresh_engine, sector)
    for worker in (far, "W_NOBODY"):
        response = fresh_client.post(
            f"/api/incidents/{case['id']}/assign", json={"worker": worker}, headers=auth("admin")
        )
        assert response.status_code == 422, response.json()
        assert response.headers["content-type"] == PROBLEM
        assert "worker" in str(response.json())
    after = fresh_client.get(f"/api/incidents/{case['id']}", headers=auth("admin")).json()
    assert after["owner_id"] is None and history_kinds(after) == history_kinds(case)
    forbidden = fresh_client.post(
        f"/api/incidents/{case['id']}/assign", json={"worker": "W001"}, headers=auth("grid_worker")
    )
    assert forbidden.status_code == 403


def test_my_cases_lists_overdue_first_then_by_time_left(fresh_client, fresh_engine):
    mine = file(fresh_client, fresh_engine)
    listed = fresh_client.get(
        "/api/cases", params={"assigned": "me", "state": "open"}, headers=auth("grid_worker")
    )
    assert listed.status_code == 200, listed.json()
    cases = listed.json()["cases"]
    assert mine["id"] in [c["id"] for c in cases]
    flags = [c["overdue"] for c in cases]
    assert flags == sorted(flags, reverse=True), "overdue cases come first"
    for group in (True, False):
        dues = [c["due_at"] for c in cases if c["overdue"] is group]
        assert dues == sorted(dues)
    assert all(not c["closed"] for c in cases)
    overdue_only = fresh_client.get(
        "/api/cases", params={"assigned": "me", "overdue": "true"}, headers=auth("grid_worker")
    ).json()["cases"]
    assert all(c["overdue"] for c in overdue_only)
    assert len(overdue_only) == sum(flags)
    desk = fresh_client.get("/api/cases", params={"area": "me"}, headers=auth("supervisor"))
    assert desk.status_code == 200
    counts = desk.json()["counts"]
    assert counts["open"] >= len(cases) and counts["by_state"]["dispatched"] >= 1
    assert (
        fresh_client.get("/api/cases", params={"area": "me"}, headers=auth("patrol")).status_code
        == 403
    )
    assert (
        fresh_client.get("/api/cases", params={"state": "lost"}, headers=auth("patrol")).status_code
        == 422
    )


def test_an_approved_extension_moves_the_deadline_by_working_days(fresh_client, fresh_engine):
    case = file(fresh_client, fresh_engine)
    url = f"/api/incidents/{case['id']}"
    asked = fresh_client.post(
        f"{url}/requests",
        json={"kind": "extension", "working_days": 2, "reason": "需协调物业"},
        headers=auth("grid_worker"),
    )
    assert asked.status_code == 201, asked.json()
    assert asked.json()["actions"]["request_extension"] is False  # one pending at a time
    again = fresh_client.post(
        f"{url}/requests", json={"kind": "return", "reason": "x"}, headers=auth("grid_worker")
    )
    assert again.status_code == 409
    seen = fresh_client.get(url, headers=auth("supervisor")).json()
    assert seen["actions"]["decide_request"] is True
    decided = fresh_client.post(
        f"{url}/requests/decision", json={"approve": True}, headers=auth("supervisor")
    )
    assert decided.status_code == 200, decided.json()
    body = decided.json()
    old = datetime.fromisoformat(case["due_at"])
    new = datetime.fromisoformat(body["due_at"])
    calendar = WorkingCalendar.build()
    local = old.astimezone(UTC) + timedelta(hours=8)
    expected_day = calendar.add_working_days(local.date(), 2)
    assert (new.astimezone(UTC) + timedelta(hours=8)).date() == expected_day
    assert new.astimezone(UTC).time() == old.astimezone(UTC).time()
    assert history_kinds(body)[-2:] == ["extension_request", "extension_approved"]
    assert body["requests"][0]["status"] == "approved"
    assert body["history"][-1]["actor"] == "supervisor:test supervisor"


def test_a_refused_extension_needs_a_reason_and_an_approved_return_sends_the_case_back(
    fresh_client, fresh_engine
):
    case = file(fresh_client, fresh_engine)
    url = f"/api/incidents/{case['id']}"
    worker, desk = auth("grid_worker"), auth("supervisor")
    fresh_client.post(
        f"{url}/requests",
        json={"kind": "extension", "working_days": 1, "reason": "r"},
        headers=worker,
    )
    no_reason = fresh_client.post(f"{url}/requests/decision", json={"approve": False}, headers=desk)
    assert no_reason.status_code == 422
    refused = fresh_client.post(
        f"{url}/requests/decision", json={"approve": False, "note": "期限充足"}, headers=desk
    ).json()
    assert refused["due_at"] == case["due_at"]
    assert history_kinds(refused)[-1] == "extension_refused"
    fresh_client.post(
        f"{url}/requests", json={"kind": "return", "reason": "不属本网格"}, headers=worker
    )
    returned = fresh_client.post(
        f"{url}/requests/decision", json={"approve": True}, headers=desk
    ).json()
    assert returned["status"] == "reported" and returned["owner_id"] is None
    assert returned["assigned_to"] == []
    assert history_kinds(returned)[-2:] == ["return_request", "return_approved"]
    nothing = fresh_client.post(f"{url}/requests/decision", json={"approve": True}, headers=desk)
    assert nothing.status_code == 409


def test_a_dispute_reported_before_national_day_is_due_after_the_holiday(fresh_engine):
    """Wednesday 2026-09-30 15:00 + 3 working days: 1–7 October are off, Saturday 10
    October is a make-up working day (调休) — by the calendar's own answer."""
    first, last = package_years()
    assert first <= 2026 <= last, "chinese-calendar knows 2026 (else seed the override table)"
    day, counted = date(2026, 9, 30), 0
    while counted < 3:
        day += timedelta(days=1)
        counted += chinese_calendar.is_workday(day)
    assert day == date(2026, 10, 10)
    reported = datetime(2026, 9, 30, 7, 0, tzinfo=UTC)  # 15:00 Beijing
    with fresh_engine.begin() as conn:
        patrol = authenticate(conn, TOKENS["patrol"])
        lon, lat = inside(fresh_engine, worker_sector(fresh_engine))
        view, _ = report_incident(
            conn,
            patrol,
            IncidentReport(lon, lat, "dispute", reported - timedelta(minutes=5)),
            now=reported,
        )
    assert view["due_at"] == datetime(2026, 10, 10, 7, 0, tzinfo=UTC)


def test_the_override_table_changes_deadlines_for_days_the_package_gets_wrong(
    fresh_client, fresh_engine
):
    changed = fresh_client.put(
        "/api/calendar/days/2026-10-09",
        json={"working": False, "note": "test: extra day off"},
        headers=auth("admin"),
    )
    assert changed.status_code == 200, changed.json()
    days = {d["day"]: d for d in changed.json()["days"]}
    assert days["2026-10-09"]["source"] == "table" and not days["2026-10-09"]["working"]
    assert days["2026-10-10"]["working"] and days["2026-10-01"]["working"] is False
    refused = fresh_client.put(
        "/api/calendar/days/2026-10-09", json={"working": True}, headers=auth("supervisor")
    )
    assert refused.status_code == 403
    reported = datetime(2026, 9, 30, 7, 0, tzinfo=UTC)
    with fresh_engine.begin() as conn:
        patrol = authenticate(conn, TOKENS["patrol"])
        lon, lat = inside(fresh_engine, worker_sector(fresh_engine))
        view, _ = report_incident(
            conn, patrol, IncidentReport(lon, lat, "dispute", reported), now=reported
        )
    # 8 Oct, 10 Oct (make-up Saturday), then Monday 12 Oct
    assert view["due_at"] == datetime(2026, 10, 12, 7, 0, tzinfo=UTC)


def test_the_desk_pages_render_in_both_languages_for_the_roles_that_may_see_them(client):
    case_id = client.get("/api/cases", params={"area": "me"}, headers=auth("admin")).json()[
        "cases"
    ][0]["id"]
    pages = {
        "/cases/new": {"admin", "supervisor", "grid_worker"},
        "/cases": {"admin", "supervisor", "grid_worker"},
        f"/cases/{case_id}": {"admin", "supervisor"},
        "/desk": {"admin", "supervisor"},
    }
    for path, roles in pages.items():
        for role in ("admin", "supervisor", "grid_worker", "official"):
            if role == "grid_worker" and path not in ("/cases", "/cases/new", "/desk"):
                continue  # whether a worker sees that case depends on its grid
            for lang in ("zh", "en"):
                page = client.get(path, params={"lang": lang}, headers=auth(role))
                expected = 200 if role in roles else 403
                assert page.status_code == expected, (path, role, lang, page.status_code)
    desk = client.get("/desk", params={"lang": "en"}, headers=auth("supervisor")).text
    assert "Command centre" in desk and 'id="desk-list"' in desk
    case = client.get(f"/cases/{case_id}?lang=zh", headers=auth("supervisor")).text
    assert "处置记录" in case and "data-assign" in case

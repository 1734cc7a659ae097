"""The case loop over HTTP: every state, who may make which move, illegal moves, notes and
the append-only history."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from geo.access.privacy import mask_actor
from geo.cases.flow import TRANSITIONS
from tests.conftest import auth
from tests.incident_support import inside, other_sector, report_body, worker_sector

PROBLEM = "application/problem+json"

#: the documented table (README, "The case loop"): (from, to) → roles that may make the move
DESK = {"admin", "supervisor"}
SPEC = {
    ("reported", "dispatched"): DESK,
    ("reported", "rejected"): DESK,
    ("reported", "duplicate"): {"admin", "supervisor", "grid_worker", "patrol"},
    ("dispatched", "in_progress"): {"admin", "grid_worker"},
    ("dispatched", "rejected"): DESK,
    ("dispatched", "duplicate"): {"admin", "supervisor", "grid_worker", "patrol"},
    ("in_progress", "resolved"): {"admin", "grid_worker"},
    ("resolved", "verified"): DESK,
    ("resolved", "in_progress"): DESK,
}
STATES = ("reported", "dispatched", "in_progress", "resolved", "verified", "rejected", "duplicate")


def move(client, incident_id: str, role: str, to: str, **extra):
    return client.post(
        f"/api/incidents/{incident_id}/transitions", json={"to": to, **extra}, headers=auth(role)
    )


def file(client, engine, role: str = "grid_worker", sector: str | None = None, **extra) -> dict:
    sector = sector or worker_sector(engine)
    response = client.post(
        "/api/incidents", json=report_body(*inside(engine, sector), **extra), headers=auth(role)
    )
    assert response.status_code == 201, response.json()
    return response.json()


def test_the_transition_table_is_the_documented_one():
    assert {
        (f.value, t.value): {r.value for r in m.roles} for (f, t), m in TRANSITIONS.items()
    } == (SPEC)


def test_an_incident_walks_report_dispatch_handle_send_back_resolve_verify(
    fresh_client, fresh_engine
):
    case = file(fresh_client, fresh_engine, role="patrol")
    assert case["status"] == "dispatched" and "W001" in [w["id"] for w in case["assigned_to"]]
    assert case["next"] == ["duplicate"]  # the patrol who filed it may only mark it a duplicate
    steps = [
        ("grid_worker", "in_progress", {"note": "已到场"}),
        ("grid_worker", "resolved", {"note": "垃圾已清运"}),
        ("admin", "in_progress", {"note": "复核: 仍有残留"}),
        ("grid_worker", "resolved", {"note": "已彻底清理"}),
        ("admin", "verified", {"note": "核查合格, 结案"}),
    ]
    for role, to, extra in steps:
        response = move(fresh_client, case["id"], role, to, **extra)
        assert response.status_code == 200, response.json()
        body = response.json()
        assert body["status"] == to
    assert body["closed"] and body["next"] == [] and body["overdue"] is False
    assert body["resolved_at"] is not None and body["closed_at"] >= body["resolved_at"]
    assert body["status_zh"] == "已核查结案"
    history = body["history"]
    assert [(e["from_status"], e["to_status"]) for e in history] == [
        (None, "reported"),
        ("reported", "dispatched"),
        ("dispatched", "in_progress"),
        ("in_progress", "resolved"),
        ("resolved", "in_progress"),
        ("in_progress", "resolved"),
        ("resolved", "verified"),
    ]
    assert [e["actor"] for e in history[2:]] == [
        "grid_worker:test grid_worker",
        "grid_worker:test grid_worker",
        "admin:test admin",
        "grid_worker:test grid_worker",
        "admin:test admin",
    ]
    assert [e["at"] for e in history] == sorted(e["at"] for e in history)
    # the read returns the same history, other people's names masked for a patrol
    read = fresh_client.get(f"/api/incidents/{case['id']}", headers=auth("patrol")).json()
    own = "patrol:test patrol"
    assert read["history"] == [
        {**e, "actor": e["actor"] if e["actor"] == own else mask_actor(e["actor"])} for e in history
    ]
    # a closed case moves no more
    again = move(fresh_client, case["id"], "admin", "in_progress", note="x")
    assert again.status_code == 409 and again.json()["allowed_states"] == []


def test_reject_and_duplicate_close_a_case_early(fresh_client, fresh_engine):
    first = file(fresh_client, fresh_engine)
    rejected = file(fresh_client, fresh_engine)
    no_reason = move(fresh_client, rejected["id"], "admin", "rejected")
    assert no_reason.status_code == 422 and no_reason.json()["field"] == "note"
    body = move(fresh_client, rejected["id"], "admin", "rejected", note="不属于受理范围").json()
    assert body["status"] == "rejected" and body["closed"] and body["closed_at"]

    second = file(fresh_client, fresh_engine)
    third = file(fresh_client, fresh_engine)
    assert move(fresh_client, second["id"], "grid_worker", "duplicate").status_code == 422
    marked = move(
        fresh_client, second["id"], "grid_worker", "duplicate", duplicate_of=first["id"]
    ).json()
    assert marked["duplicate_of"] == first["id"]
    assert marked["history"][-1]["note"].startswith(f"重复上报: {first['id']}")
    # a duplicate of a duplicate links to the original
    chained = move(
        fresh_client, third["id"], "grid_worker", "duplicate", duplicate_of=second["id"]
    ).json()
    assert chained["duplicate_of"] == first["id"]
    # never to itself, nor to something that does not exist
    fourth = file(fresh_client, fresh_engine)
    for target in (fourth["id"], "I9999999999"):
        response = move(fresh_client, fourth["id"], "admin", "duplicate", duplicate_of=target)
        assert response.status_code == 422 and response.json()["field"] == "duplicate_of"


@pytest.fixture
def case_in_every_state(fresh_client, fresh_engine) -> dict[str, str]:
    """state → the id of an incident in that state (on a private database)."""
    own = worker_sector(fresh_engine)
    lonely = other_sector(fresh_engine, own)
    with fresh_engine.begin() as conn:
        conn.execute(
            text(
                "DELETE FROM resources WHERE kind = 'grid_worker' AND serves_code LIKE "
                "(SELECT parent_code FROM units WHERE code = :s AND valid_to IS NULL) || '%'"
            ),
            {"s": lonely},
        )
    cases = {"reported": file(fresh_client, fresh_engine, "admin", lonely)["id"]}
    paths = {
        "dispatched": [],
        "in_progress": ["in_progress"],
        "resolved": ["in_progress", "resolved"],
        "verified": ["in_progress", "resolved", "verified"],
        "rejected": ["rejected"],
        "duplicate": ["duplicate"],
    }
    for state, path in paths.items():
        case = file(fresh_client, fresh_engine)
        for to in path:
            extra = {"note": "理由"} if to == "rejected" else {}
            if to == "duplicate":
                extra = {"duplicate_of": cases["reported"]}
            assert move(fresh_client, case["id"], "admin", to, **extra).status_code == 200
        cases[state] = case["id"]
    return cases


def test_every_move_outside_the_table_is_409_and_changes_nothing(
    fresh_client, fresh_engine, case_in_every_state
):
    for state, incident_id in case_in_every_state.items():
        for to in STATES:
            if (state, to) in SPEC:
                continue
            extra = {"note": "理由"}
            if to == "duplicate":
                extra["duplicate_of"] = case_in_every_state["verified"]
            response = move(fresh_client, incident_id, "admin", to, **extra)
            assert response.status_code == 409, (state, to, response.json())
            assert response.headers["content-type"] == PROBLEM
            problem = response.json()
            assert problem["current_state"] == state
            assert problem["allowed_states"] == [t for (f, t) in SPEC if f == state]
        with fresh_engine.connect() as conn:
            status = conn.execute(
                text("SELECT status FROM incidents WHERE id = :i"), {"i": incident_id}
            ).scalar()
        assert status == state


def test_each_role_may_make_exactly_its_moves(fresh_client, fresh_engine, case_in_every_state):
    """A role outside a move's list gets 403 and the case stays; one inside moves it."""
    for (frm, to), roles in SPEC.items():
        for role in ("patrol", "grid_worker", "admin"):
            if role in roles:
                continue
            extra = {"note": "理由"}
            if to == "duplicate":
                extra["duplicate_of"] = case_in_every_state["verified"]
            response = move(fresh_client, case_in_every_state[frm], role, to, **extra)
            assert response.status_code == 403, (frm, to, role, response.json())
            assert response.headers["content-type"] == PROBLEM
    # roles without the case loop at all
    for role in ("planner", "official"):
        response = move(fresh_client, case_in_every_state["dispatched"], role, "in_progress")
        assert response.status_code == 403
    # the allowed ones, once each, from fresh cases
    case = file(fresh_client, fresh_engine, role="patrol")
    assert move(fresh_client, case["id"], "grid_worker", "in_progress").status_code == 200
    assert move(fresh_client, case["id"], "grid_worker", "resolved").status_code == 200
    assert move(fresh_client, case["id"], "admin", "verified").status_code == 200


def test_grid_workers_act_in_their_own_grids_and_patrols_on_their_own_reports(
    fresh_client, fresh_engine
):
    elsewhere = other_sector(fresh_engine, worker_sector(fresh_engine))
    theirs = file(fresh_client, fresh_engine, role="admin", sector=elsewhere)
    response = move(fresh_client, theirs["id"], "grid_worker", "in_progress")
    assert response.status_code == 403 and "own grids" in response.json()["detail"]
    assert response.json()["title"] == "Forbidden"
    original = file(fresh_client, fresh_engine, role="admin")
    by_admin = file(fresh_client, fresh_engine, role="admin")
    mine = file(fresh_client, fresh_engine, role="patrol")
    refused = move(fresh_client, by_admin["id"], "patrol", "duplicate", duplicate_of=original["id"])
    assert refused.status_code == 403
    allowed = move(fresh_client, mine["id"], "patrol", "duplicate", duplicate_of=original["id"])
    assert allowed.status_code == 200


def test_notes_are_appended_without_changing_the_state(fresh_client, fresh_engine):
    case = file(fresh_client, fresh_engine)
    response = fresh_client.post(
        f"/api/incidents/{case['id']}/notes",
        json={"note": "居民反映仍未处理"},
        headers=auth("patrol"),
    )
    body = response.json()
    assert response.status_code == 200 and body["status"] == "dispatched"
    last = body["history"][-1]
    assert last["kind"] == "note" and last["from_status"] == last["to_status"] == "dispatched"
    assert last["actor"] == "patrol:test patrol" and last["note"] == "居民反映仍未处理"
    blank = fresh_client.post(
        f"/api/incidents/{case['id']}/notes", json={"note": "   "}, headers=auth("patrol")
    )
    assert blank.status_code == 422
    official = fresh_client.post(
        f"/api/incidents/{case['id']}/notes", json={"note": "看看"}, headers=auth("official")
    )
    assert official.status_code == 403


def test_a_move_cannot_be_dated_in_the_future_or_before_the_last_event(fresh_client, fresh_engine):
    case = file(fresh_client, fresh_engine)
    future = (datetime.now(UTC) + timedelta(hours=2)).isoformat()
    response = move(fresh_client, case["id"], "grid_worker", "in_progress", at=future)
    assert response.status_code == 422 and response.json()["field"] == "at"
    past = (datetime.now(UTC) - timedelta(days=1)).isoformat()
    response = move(fresh_client, case["id"], "grid_worker", "in_progress", at=past)
    assert response.status_code == 422 and "before" in response.json()["detail"]
    # a time after the last event and not in the future is kept as given
    just_now = datetime.now(UTC)
    body = move(
        fresh_client, case["id"], "grid_worker", "in_progress", at=just_now.isoformat()
    ).json()
    assert datetime.fromisoformat(body["history"][-1]["at"]) == just_now


def test_the_history_is_append_only_in_the_database(fresh_client, fresh_engine):
    case = file(fresh_client, fresh_engine)
    with pytest.raises(DBAPIError, match="append-only"):
        with fresh_engine.begin() as conn:
            conn.execute(
                text("UPDATE incident_events SET note = 'rewritten' WHERE incident_id = :i"),
                {"i": case["id"]},
            )
    read = fresh_client.get(f"/api/incidents/{case['id']}", headers=auth("admin")).json()
    assert read["history"] == case["history"]


def test_a_supervisor_verifies_sends_back_and_sees_cases_masked(fresh_client, fresh_engine):
    case = file(fresh_client, fresh_engine, role="patrol", reporter_contact="13812341234")
    seen = fresh_client.get(f"/api/incidents/{case['id']}", headers=auth("supervisor")).json()
    assert seen["reporter_contact"] != "13812341234" and "*" in seen["reporter_contact"]
    assert seen["next"] == ["duplicate", "rejected"] or set(seen["next"]) == {
        "rejected",
        "duplicate",
    }
    assert move(fresh_client, case["id"], "supervisor", "in_progress").status_code == 403
    assert move(fresh_client, case["id"], "grid_worker", "in_progress").status_code == 200
    assert move(fresh_client, case["id"], "grid_worker", "resolved").status_code == 200
    back = move(fresh_client, case["id"], "supervisor", "in_progress", note="复核: 仍有残留")
    assert back.status_code == 200 and back.json()["status"] == "in_progress"
    assert move(fresh_client, case["id"], "grid_worker", "resolved").status_code == 200
    done = move(fresh_client, case["id"], "supervisor", "verified")
    assert done.status_code == 200 and done.json()["closed"]
    assert done.json()["history"][-1]["actor"] == "supervisor:test supervisor"

"""The admin's people and categories over HTTP: add, edit, assign, retire; bad input is a
422 naming the field with nothing written; a retired worker is out of dispatch, coverage
and lists but still in the history; a retired category can no longer be reported."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from geo.planning import edits
from tests.conftest import TOKENS, auth
from tests.planning_support import etag

A, B = "6209020030010101", "6209020030010102"


def admin() -> dict:
    return auth("admin")


def count(engine, sql: str, **params) -> int:
    with engine.connect() as conn:
        return conn.execute(text(sql), params).scalar_one()


def audit_actions(engine, target: str) -> list[str]:
    with engine.connect() as conn:
        return list(
            conn.execute(
                text("SELECT action FROM audit_log WHERE target = :t ORDER BY id"), {"t": target}
            ).scalars()
        )


def surface_point(engine, sector: str) -> tuple[float, float]:
    with engine.connect() as conn:
        return tuple(
            conn.execute(
                text(
                    "SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_PointOnSurface(geom) AS p "
                    "FROM units WHERE code = :c AND valid_to IS NULL) s"
                ),
                {"c": sector},
            ).one()
        )


def report(client, engine, sector: str, category: str = "sanitation"):
    lon, lat = surface_point(engine, sector)
    return client.post(
        "/api/incidents",
        json={
            "lon": lon,
            "lat": lat,
            "category": category,
            "observed_at": (datetime.now(UTC) - timedelta(minutes=5)).isoformat(),
            "description": "测试",
        },
        headers=auth("patrol"),
    )


def coverage_workers(client, sector: str) -> int:
    rows = client.get("/api/coverage?level=sector", headers=admin()).json()
    rows = rows.get("rows", rows) if isinstance(rows, dict) else rows
    (row,) = [r for r in rows if r.get("code") == sector]
    return row["grid_workers"]


def lone_worker_sector(engine) -> tuple[str, str]:
    """A sector served by exactly one grid worker, with an open dispatched case of theirs."""
    with engine.connect() as conn:
        return tuple(
            conn.execute(
                text(
                    """
                    SELECT r.serves_code, min(r.id) FROM resources r
                    JOIN units s ON s.code = r.serves_code AND s.valid_to IS NULL
                         AND s.level = 'sector'
                    WHERE r.kind = 'grid_worker'
                    GROUP BY r.serves_code HAVING count(*) = 1
                       AND EXISTS (SELECT 1 FROM incidents i WHERE i.sector_code = r.serves_code
                                   AND i.status IN ('dispatched', 'in_progress')
                                   AND min(r.id) = ANY(i.assigned_to))
                    ORDER BY 1 LIMIT 1
                    """
                )
            ).one()
        )


# -- people -----------------------------------------------------------------------------------


def test_an_admin_adds_a_grid_worker_with_the_next_id_serving_a_sector(fresh_client, fresh_engine):
    before = count(fresh_engine, "SELECT max(id) FROM resources WHERE id ~ '^W[0-9]+$'")
    response = fresh_client.post(
        "/api/admin/people",
        json={
            "kind": "grid_worker",
            "name_zh": "  王新  ",
            "phone": "13900001111",
            "serves_code": A,
        },
        headers=admin(),
    )
    assert response.status_code == 201, response.text
    person = response.json()
    assert person["id"] == f"W{int(before[1:]) + 1:03d}"
    assert person["name_zh"] == "王新" and person["serves_code"] == A
    assert person["kind"] == "grid_worker" and person["retired"] is False
    listed = fresh_client.get("/api/admin/people?kind=grid_worker", headers=admin()).json()
    assert person["id"] in [p["id"] for p in listed]
    sectors = {s["code"]: s for s in fresh_client.get("/api/admin/sectors", headers=admin()).json()}
    assert person["id"] in [w["id"] for w in sectors[A]["grid_workers"]]
    assert person["id"] in sectors[A]["team"]
    assert audit_actions(fresh_engine, person["id"])[0] == "person_add"


def test_each_kind_can_be_added_with_its_own_fields(fresh_client):
    officer = fresh_client.post(
        "/api/admin/people",
        json={"kind": "stationed_officer", "name_zh": "李警官", "serves_code": "620902003001"},
        headers=admin(),
    )
    assert officer.status_code == 201, officer.text
    branch = fresh_client.post(
        "/api/admin/people",
        json={
            "kind": "party_branch",
            "id": "PB99",
            "name_zh": "新建楼院党支部",
            "branch_type": "courtyard",
            "serves_code": A,
        },
        headers=admin(),
    )
    assert branch.status_code == 201, branch.text
    assert branch.json()["branch_type"] == "courtyard" and branch.json()["id"] == "PB99"
    unit = fresh_client.post(
        "/api/admin/people",
        json={"kind": "cobuilding_unit", "name_zh": "酒泉市某局", "serves_code": "62090200300101"},
        headers=admin(),
    )
    assert unit.status_code == 201, unit.text
    sectors = {s["code"]: s for s in fresh_client.get("/api/admin/sectors", headers=admin()).json()}
    others = [o["id"] for o in sectors[A]["others"]]
    assert "PB99" in others and unit.json()["id"] in others


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"kind": "grid_worker", "id": "W001", "name_zh": "重号"}, "id"),
        ({"kind": "grid_worker", "id": "坏 编号", "name_zh": "坏号"}, "id"),
        ({"kind": "grid_worker", "name_zh": "   "}, "name_zh"),
        ({"kind": "grid_worker", "name_zh": "无此片区", "serves_code": "999"}, "serves_code"),
        (
            {"kind": "grid_worker", "name_zh": "层级不符", "serves_code": "620902003001"},
            "serves_code",
        ),
        ({"kind": "party_branch", "name_zh": "无类型支部"}, "branch_type"),
        ({"kind": "grid_worker", "name_zh": "坏电话", "phone": "call me"}, "phone"),
    ],
    ids=["taken id", "bad id", "blank name", "unknown sector", "community", "branch type", "phone"],
)
def test_bad_input_is_422_naming_the_field_and_nothing_is_written(
    fresh_client, fresh_engine, body, field
):
    before = count(fresh_engine, "SELECT count(*) FROM resources")
    response = fresh_client.post("/api/admin/people", json=body, headers=admin())
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["field"] == field
    assert count(fresh_engine, "SELECT count(*) FROM resources") == before
    assert count(fresh_engine, "SELECT count(*) FROM audit_log WHERE action = 'person_add'") == 0


def test_assigning_to_a_retired_sector_is_422_naming_it_and_changes_nothing(
    fresh_client, fresh_engine
):
    with fresh_engine.begin() as conn:  # a planner merges sector A into B: A is retired
        edits.merge(conn, B, A, "合并", "planner:测试", [etag(conn, B), etag(conn, A)])
    worker = count(fresh_engine, "SELECT min(id) FROM resources WHERE kind = 'grid_worker'")
    serves = count(fresh_engine, "SELECT serves_code FROM resources WHERE id = :id", id=worker)
    response = fresh_client.post(
        f"/api/admin/people/{worker}/assign", json={"serves_code": A}, headers=admin()
    )
    assert response.status_code == 422
    problem = response.json()
    assert problem["field"] == "serves_code" and "retired" in problem["detail"]
    assert B in problem["detail"]  # where it went
    assert count(fresh_engine, "SELECT serves_code FROM resources WHERE id = :id", id=worker) == (
        serves
    )
    added = fresh_client.post(
        "/api/admin/people",
        json={"kind": "grid_worker", "name_zh": "新人", "serves_code": A},
        headers=admin(),
    )
    assert added.status_code == 422 and added.json()["field"] == "serves_code"


def test_editing_changes_names_and_phone_and_is_audited_without_personal_data(
    fresh_client, fresh_engine
):
    response = fresh_client.patch(
        "/api/admin/people/W002",
        json={"name_zh": "赵改名", "phone": "13800002222"},
        headers=admin(),
    )
    assert response.status_code == 200, response.text
    person = response.json()
    assert person["name_zh"] == "赵改名" and person["phone"] == "13800002222"
    with fresh_engine.connect() as conn:
        detail = conn.execute(
            text("SELECT detail::text FROM audit_log WHERE action = 'person_edit' AND target = :t"),
            {"t": person["id"]},
        ).scalar_one()
    assert "name_zh" in detail and "赵改名" not in detail and "13800002222" not in detail
    blank = fresh_client.patch(
        f"/api/admin/people/{person['id']}", json={"name_zh": " "}, headers=admin()
    )
    assert blank.status_code == 422 and blank.json()["field"] == "name_zh"
    other = fresh_client.patch(
        f"/api/admin/people/{person['id']}", json={"serves_code": A}, headers=admin()
    )
    assert other.status_code == 422  # the unit served goes through /assign
    assert fresh_client.get("/api/admin/people/NOPE", headers=admin()).status_code == 404


def test_reassigning_a_worker_re_dispatches_the_open_cases_their_move_changed(
    fresh_client, fresh_engine
):
    sector, worker = lone_worker_sector(fresh_engine)
    elsewhere = count(  # a sector of another level-2 grid: the worker leaves the whole team
        fresh_engine,
        "SELECT min(code) FROM units WHERE level = 'sector' AND valid_to IS NULL "
        "AND parent_code <> (SELECT parent_code FROM units WHERE code = :s "
        "AND valid_to IS NULL)",
        s=sector,
    )
    response = fresh_client.post(
        f"/api/admin/people/{worker}/assign", json={"serves_code": elsewhere}, headers=admin()
    )
    assert response.status_code == 200 and response.json()["serves_code"] == elsewhere
    still_theirs = count(
        fresh_engine,
        "SELECT count(*) FROM incidents WHERE sector_code = :s AND :w = ANY(assigned_to) "
        "AND status IN ('dispatched', 'in_progress')",
        s=sector,
        w=worker,
    )
    assert still_theirs == 0
    moved = count(
        fresh_engine,
        "SELECT count(*) FROM incident_events e JOIN incidents i ON i.id = e.incident_id "
        "WHERE e.kind = 'redispatch' AND i.sector_code = :s AND e.note LIKE '%' || :w || '%'",
        s=sector,
        w=worker,
    )
    assert moved > 0
    assert audit_actions(fresh_engine, worker)[-1] == "person_assign"


def test_a_retired_worker_leaves_dispatch_coverage_and_lists_but_stays_in_history(
    fresh_client, fresh_engine
):
    sector, worker = lone_worker_sector(fresh_engine)
    with fresh_engine.connect() as conn:
        old_case = conn.execute(
            text(
                "SELECT id FROM incidents WHERE :w = ANY(assigned_to) "
                "AND status = 'verified' ORDER BY id LIMIT 1"
            ),
            {"w": worker},
        ).scalar_one()
    workers_before = coverage_workers(fresh_client, sector)
    listed = "/api/resources?kind=grid_worker&limit=1000"
    features = fresh_client.get(listed, headers=admin()).json()["features"]
    assert worker in [f["id"] for f in features]
    response = fresh_client.post(
        f"/api/admin/people/{worker}/retire", json={"reason": "调离"}, headers=admin()
    )
    assert response.status_code == 200, response.text
    assert response.json()["retired"] is True and response.json()["retired_at"]
    # out of the active lists, still resolvable by id and in the retired list
    active = fresh_client.get("/api/admin/people?kind=grid_worker", headers=admin()).json()
    assert worker not in [p["id"] for p in active]
    retired = fresh_client.get("/api/admin/people?retired=true", headers=admin()).json()
    assert worker in [p["id"] for p in retired]
    assert fresh_client.get(f"/api/admin/people/{worker}", headers=admin()).json()["retired"]
    features = fresh_client.get(listed, headers=admin()).json()["features"]
    assert worker not in [f["id"] for f in features]
    # out of coverage counts
    assert coverage_workers(fresh_client, sector) == workers_before - 1
    # out of dispatch: their open cases went to the grid's team, a new one never reaches them
    open_theirs = count(
        fresh_engine,
        "SELECT count(*) FROM incidents WHERE :w = ANY(assigned_to) "
        "AND status IN ('reported', 'dispatched', 'in_progress', 'resolved')",
        w=worker,
    )
    assert open_theirs == 0
    new = report(fresh_client, fresh_engine, sector)
    assert new.status_code == 201, new.text
    assigned = [w["id"] if isinstance(w, dict) else w for w in new.json()["assigned_to"] or []]
    assert worker not in assigned
    sectors = {s["code"]: s for s in fresh_client.get("/api/admin/sectors", headers=admin()).json()}
    assert sectors[sector]["grid_workers"] == [] and worker not in sectors[sector]["team"]
    # the history still names them
    case = fresh_client.get(f"/api/incidents/{old_case}", headers=admin()).json()
    assert worker in [w["id"] if isinstance(w, dict) else w for w in case["assigned_to"]]
    assert audit_actions(fresh_engine, worker)[-1] == "person_retire"
    # a retired record is history: no second retirement, no edits, no new token
    again = fresh_client.post(f"/api/admin/people/{worker}/retire", headers=admin())
    assert again.status_code == 409
    edit = fresh_client.patch(
        f"/api/admin/people/{worker}", json={"name_zh": "复活"}, headers=admin()
    )
    assert edit.status_code == 409
    token = fresh_client.post(
        "/api/tokens",
        json={"role": "grid_worker", "name": "退出者", "worker_id": worker},
        headers=admin(),
    )
    assert token.status_code == 422


def test_retiring_the_grid_worker_revokes_their_tokens(fresh_client):
    worker_token = {"Authorization": f"Bearer {TOKENS['grid_worker']}"}
    assert fresh_client.get("/api/me", headers=worker_token).status_code == 200
    response = fresh_client.post("/api/admin/people/W001/retire", headers=admin())
    assert response.status_code == 200
    assert fresh_client.get("/api/me", headers=worker_token).status_code == 401


def test_the_people_api_is_the_admins_alone(fresh_client):
    for role in ("planner", "patrol", "grid_worker", "official"):
        response = fresh_client.post(
            "/api/admin/people",
            json={"kind": "grid_worker", "name_zh": "越权"},
            headers=auth(role),
        )
        assert response.status_code == 403, role


# -- incident categories ----------------------------------------------------------------------

NEW_CATEGORY = {
    "code": "noise",
    "name_zh": "噪声扰民",
    "name_en": "noise nuisance",
    "dispatch_minutes": 60,
    "close_working_days": 2,
}


def test_an_admin_adds_a_category_that_can_then_be_reported(fresh_client, fresh_engine):
    response = fresh_client.post("/api/admin/categories", json=NEW_CATEGORY, headers=admin())
    assert response.status_code == 201, response.text
    row = response.json()
    assert row["code"] == "noise" and row["close_working_days"] == 2 and not row["urgent"]
    codes = [c["code"] for c in fresh_client.get("/api/categories", headers=auth("patrol")).json()]
    assert codes[-1] == "noise"  # sorted after the others
    case = report(fresh_client, fresh_engine, A, "noise")
    assert case.status_code == 201, case.text
    assert case.json()["category"] == "noise"
    assert audit_actions(fresh_engine, "noise") == ["category_add"]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"code": "sanitation"}, "code"),
        ({"code": "Noise!"}, "code"),
        ({"name_zh": "  "}, "name_zh"),
        ({"name_zh": "环境卫生"}, "name_zh"),
        ({"name_en": ""}, "name_en"),
        ({"dispatch_minutes": 0}, "dispatch_minutes"),
        ({"close_working_days": 99}, "close_working_days"),
    ],
    ids=[
        "taken code",
        "bad code",
        "blank name",
        "taken name",
        "blank english",
        "dispatch 0",
        "too many days",
    ],
)
def test_a_bad_new_category_is_422_naming_the_field_and_nothing_is_written(
    fresh_client, fresh_engine, change, field
):
    before = count(fresh_engine, "SELECT count(*) FROM incident_categories")
    response = fresh_client.post(
        "/api/admin/categories", json={**NEW_CATEGORY, **change}, headers=admin()
    )
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["field"] == field
    assert count(fresh_engine, "SELECT count(*) FROM incident_categories") == before


def test_a_new_category_needs_exactly_one_closing_limit(fresh_client):
    both = fresh_client.post(
        "/api/admin/categories", json={**NEW_CATEGORY, "close_minutes": 120}, headers=admin()
    )
    assert both.status_code == 422
    assert set(both.json()["fields"]) == {"close_minutes", "close_working_days"}
    none = {k: v for k, v in NEW_CATEGORY.items() if k != "close_working_days"}
    assert fresh_client.post("/api/admin/categories", json=none, headers=admin()).status_code == 422


def test_renaming_and_new_limits_are_audited_with_before_and_after(fresh_client, fresh_engine):
    response = fresh_client.patch(
        "/api/categories/traffic",
        json={"name_zh": "交通秩序", "close_minutes": 180},
        headers=admin(),
    )
    assert response.status_code == 200, response.text
    assert response.json()["name_zh"] == "交通秩序"
    with fresh_engine.connect() as conn:
        detail = conn.execute(
            text("SELECT detail FROM audit_log WHERE action = 'category_change'")
        ).scalar_one()
    assert detail["name_zh"] == {"from": "交通劝导", "to": "交通秩序"}
    assert detail["close_minutes"] == {"from": 120, "to": 180}


def test_a_category_used_by_open_cases_cannot_be_retired(fresh_client, fresh_engine):
    open_cases = count(
        fresh_engine,
        "SELECT count(*) FROM incidents WHERE category = 'sanitation' "
        "AND status NOT IN ('verified', 'rejected', 'duplicate')",
    )
    assert open_cases > 0
    response = fresh_client.post("/api/admin/categories/sanitation/retire", headers=admin())
    assert response.status_code == 422
    problem = response.json()
    assert problem["field"] == "code" and problem["open_cases"] == open_cases
    assert (
        count(
            fresh_engine,
            "SELECT count(*) FROM incident_categories WHERE retired_at IS NOT NULL",
        )
        == 0
    )


def test_a_retired_category_can_no_longer_be_reported_but_its_cases_keep_it(
    fresh_client, fresh_engine
):
    assert (
        fresh_client.post("/api/admin/categories", json=NEW_CATEGORY, headers=admin()).status_code
        == 201
    )
    case = report(fresh_client, fresh_engine, A, "noise").json()
    # close the one open case, then the category can go
    blocked = fresh_client.post("/api/admin/categories/noise/retire", headers=admin())
    assert blocked.status_code == 422 and blocked.json()["open_cases"] == 1
    for state in ("rejected",):
        moved = fresh_client.post(
            f"/api/incidents/{case['id']}/transitions",
            json={"to": state, "note": "测试结束"},
            headers=admin(),
        )
        assert moved.status_code == 200, moved.text
    response = fresh_client.post("/api/admin/categories/noise/retire", headers=admin())
    assert response.status_code == 200, response.text
    assert response.json()["retired_at"]
    assert "noise" not in [
        c["code"] for c in fresh_client.get("/api/categories", headers=admin()).json()
    ]
    assert "noise" in [
        c["code"] for c in fresh_client.get("/api/admin/categories", headers=admin()).json()
    ]
    refused = report(fresh_client, fresh_engine, A, "noise")
    assert refused.status_code == 422 and refused.json()["field"] == "category"
    assert "retired" in refused.json()["detail"]
    kept = fresh_client.get(f"/api/incidents/{case['id']}", headers=admin()).json()
    assert kept["category"] == "noise"
    assert (
        fresh_client.post("/api/admin/categories/noise/retire", headers=admin()).status_code == 409
    )
    assert (
        fresh_client.patch(
            "/api/categories/noise", json={"dispatch_minutes": 30}, headers=admin()
        ).status_code
        == 409
    )
    taken = fresh_client.post("/api/admin/categories", json=NEW_CATEGORY, headers=admin())
    assert taken.status_code == 422 and taken.json()["field"] == "code"
    assert audit_actions(fresh_engine, "noise")[-1] == "category_retire"


def test_a_retired_category_is_refused_in_an_incident_file_too(fresh_client, fresh_engine):
    from geo.imports import ImportOptions, ImportRejected, import_file

    assert (
        fresh_client.post("/api/admin/categories", json=NEW_CATEGORY, headers=admin()).status_code
        == 201
    )
    assert fresh_client.post("/api/admin/categories/noise/retire", headers=admin()).status_code == (
        200
    )
    lon, lat = surface_point(fresh_engine, A)
    data = f"category,observed_at,lon,lat\nnoise,2026-11-01 10:00,{lon},{lat}\n".encode()
    with pytest.raises(ImportRejected) as caught, fresh_engine.begin() as conn:
        import_file(conn, "incidents", data, "i.csv", ImportOptions())
    problems = caught.value.report.problems
    assert problems["column"].tolist() == ["category"]
    assert problems["reason"].iloc[0].startswith("not one of")
    assert count(fresh_engine, "SELECT count(*) FROM incidents WHERE category = 'noise'") == 0

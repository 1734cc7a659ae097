"""Access control on every endpoint: the route table x every role, tokens, login, audit,
hardening. New routes are picked up from the app itself and must be listed in ALLOWED."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from api.main import create_app
from api.security import COOKIE
from geo.access.roles import ROLE_PERMISSIONS, Role
from geo.core.settings import get_settings
from tests.conftest import TEST_PASSWORD, TOKENS, USERS, auth, login

ALL = {r.value for r in Role}
ADMIN = {"admin"}
#: who reads coverage per unit
COVERAGE_ROLES = {"admin", "planner", "grid_worker", "official", "supervisor", "city"}
#: who reports, reads and moves individual cases
CASE_ROLES = {"admin", "patrol", "grid_worker", "supervisor"}
#: routes anyone may call
PUBLIC = {("GET", "/api/health")}  # and /login, /logout, /static (not in the API document)
#: (method, path) → roles that may call it; every authenticated route must be listed here
ALLOWED: dict[tuple[str, str], set[str]] = {
    ("GET", "/api/me"): ALL,
    ("GET", "/api/tokens"): ADMIN,
    ("GET", "/api/users"): ADMIN,
    ("POST", "/api/users"): ADMIN,
    ("POST", "/api/users/{user_id}/disable"): ADMIN,
    ("POST", "/api/users/{user_id}/reset-password"): ADMIN,
    ("POST", "/api/tokens"): ADMIN,
    ("DELETE", "/api/tokens/{token_id}"): ADMIN,
    ("GET", "/api/audit"): ADMIN,
    ("GET", "/api/coverage"): COVERAGE_ROLES,
    ("GET", "/api/coverage/completeness"): COVERAGE_ROLES,
    ("POST", "/api/incidents"): CASE_ROLES,
    ("GET", "/api/incidents/{incident_id}"): CASE_ROLES,
    ("POST", "/api/incidents/{incident_id}/transitions"): CASE_ROLES,
    ("POST", "/api/incidents/{incident_id}/notes"): CASE_ROLES,
    ("GET", "/api/categories"): ALL,
    ("GET", "/api/cases"): CASE_ROLES,
    ("GET", "/api/cases/nearby"): CASE_ROLES,
    ("POST", "/api/photos/check"): CASE_ROLES,
    ("POST", "/api/incidents/{incident_id}/assign"): {"admin", "supervisor"},
    ("POST", "/api/incidents/{incident_id}/requests"): CASE_ROLES,
    ("POST", "/api/incidents/{incident_id}/requests/decision"): {"admin", "supervisor"},
    ("POST", "/api/incidents/{incident_id}/photos"): CASE_ROLES,
    ("GET", "/api/incidents/{incident_id}/photos/{photo_id}"): CASE_ROLES,
    ("GET", "/api/calendar/{year}"): CASE_ROLES,
    ("PUT", "/api/calendar/days/{day}"): ADMIN,
    ("PATCH", "/api/categories/{code}"): ADMIN,
    ("POST", "/api/imports/{kind}"): ADMIN,
    ("GET", "/api/households"): {"admin", "grid_worker"},
    ("GET", "/api/residents"): {"admin", "grid_worker"},
    ("GET", "/api/businesses"): ALL,
    ("GET", "/api/resources"): ALL,
    ("GET", "/api/incidents"): CASE_ROLES,
    ("GET", "/api/units/{code}"): ALL,
    ("GET", "/maps/incidents"): ALL,
    ("GET", "/maps/incidents/weekly"): ALL,
    ("GET", "/maps/hotspots"): ALL,
    ("GET", "/api/hotspots"): ALL,
    ("GET", "/maps/coverage"): COVERAGE_ROLES,
    ("GET", "/api/boundaries"): ALL,
    ("GET", "/api/boundaries/changes"): ALL,
    ("GET", "/api/boundaries/changes/{change_id}"): ALL,
    ("GET", "/api/boundaries/units/{code}"): ALL,
    ("GET", "/api/boundaries/units/{code}/history"): ALL,
    ("PUT", "/api/boundaries/sectors/{code}"): {"admin", "planner"},
    ("PATCH", "/api/boundaries/sectors"): {"admin", "planner"},
    ("GET", "/maps/planner"): {"admin", "planner"},
    ("GET", "/api/planning/balance"): {"admin", "planner"},
    ("GET", "/api/orientation"): ALL,
    ("POST", "/api/boundaries/sectors/{code}/reassign"): {"admin", "planner"},
    ("POST", "/api/boundaries/sectors/{code}/split"): {"admin", "planner"},
    ("POST", "/api/boundaries/sectors/{code}/merge"): {"admin", "planner"},
    ("POST", "/api/plans"): {"admin", "planner"},
    ("GET", "/api/plans"): ALL,
    ("POST", "/api/plans/import"): {"admin", "planner"},
    ("GET", "/api/plans/{plan_id}"): ALL,
    ("DELETE", "/api/plans/{plan_id}"): {"admin", "planner"},
    ("POST", "/api/plans/{plan_id}/edits"): {"admin", "planner"},
    ("POST", "/api/plans/{plan_id}/undo"): {"admin", "planner"},
    ("POST", "/api/plans/{plan_id}/redo"): {"admin", "planner"},
    ("POST", "/api/plans/{plan_id}/locks"): {"admin", "planner"},
    ("DELETE", "/api/plans/{plan_id}/locks/{code}"): {"admin", "planner"},
    ("GET", "/api/plans/{plan_id}/compare"): ALL,
    ("POST", "/api/plans/{plan_id}/rebase"): {"admin", "planner"},
    ("POST", "/api/plans/{plan_id}/apply"): {"admin", "planner"},
    ("GET", "/api/plans/{plan_id}/export"): ALL,
    ("POST", "/api/boundaries/units/{code}/rollback"): {"admin", "planner"},
    ("POST", "/api/boundaries/rollback"): {"admin", "planner"},
    ("POST", "/api/imports/boundaries"): {"admin", "planner"},
    ("POST", "/api/communities/{code}/rebalance"): {"admin", "planner"},
    ("GET", "/maps/boundaries/changes/{change_id}"): ALL,
    ("GET", "/ogc"): ALL,
    ("GET", "/ogc/api"): ALL,
    ("GET", "/ogc/conformance"): ALL,
    ("GET", "/ogc/collections"): ALL,
    ("GET", "/ogc/collections/{collectionId}"): ALL,
    ("GET", "/ogc/collections/{collectionId}/items"): ALL,
    ("GET", "/ogc/collections/{collectionId}/items/{featureId}"): ALL,
    ("GET", "/ogc/collections/{collectionId}/queryables"): ALL,
    ("GET", "/ogc/collections/{collectionId}/schema"): ALL,
    # OGC API – Features: every resource answers HEAD like GET
    **{
        ("HEAD", path): ALL
        for path in (
            "/ogc",
            "/ogc/api",
            "/ogc/conformance",
            "/ogc/collections",
            "/ogc/collections/{collectionId}",
            "/ogc/collections/{collectionId}/items",
            "/ogc/collections/{collectionId}/items/{featureId}",
            "/ogc/collections/{collectionId}/queryables",
            "/ogc/collections/{collectionId}/schema",
        )
    },
    ("GET", "/"): ALL,
    # the admin's screens: people and organisations, incident categories
    ("GET", "/api/admin/people"): ADMIN,
    ("POST", "/api/admin/people"): ADMIN,
    ("GET", "/api/admin/people/{person_id}"): ADMIN,
    ("PATCH", "/api/admin/people/{person_id}"): ADMIN,
    ("POST", "/api/admin/people/{person_id}/assign"): ADMIN,
    ("POST", "/api/admin/people/{person_id}/retire"): ADMIN,
    ("GET", "/api/admin/sectors"): ADMIN,
    ("GET", "/api/admin/categories"): ADMIN,
    ("POST", "/api/admin/categories"): ADMIN,
    ("POST", "/api/admin/categories/{code}/retire"): ADMIN,
    ("POST", "/api/admin/categories/{code}/reset"): ADMIN,
    ("GET", "/api/admin/category-overrides"): ADMIN,
    ("GET", "/admin/people"): ADMIN,
    ("GET", "/admin/categories"): ADMIN,
    ("GET", "/cases/new"): CASE_ROLES,
    ("GET", "/cases"): CASE_ROLES,
    ("GET", "/cases/{incident_id}"): CASE_ROLES,
    ("GET", "/desk"): {"admin", "supervisor"},
    # evaluation for officials: indicators, trend, a unit's cases, the page, the monthly report
    ("GET", "/api/evaluation"): COVERAGE_ROLES,
    ("GET", "/api/evaluation/trend"): COVERAGE_ROLES,
    ("GET", "/api/evaluation/cases"): COVERAGE_ROLES,
    ("GET", "/evaluation"): COVERAGE_ROLES,
    ("GET", "/reports/monthly"): COVERAGE_ROLES,
    ("GET", "/coverage"): COVERAGE_ROLES,
    # the field app (issue 19): every person's notifications; the admins' webhooks
    ("GET", "/api/notifications"): ALL,
    ("GET", "/api/notifications/stream"): ALL,
    ("POST", "/api/notifications/read-all"): ALL,
    ("POST", "/api/notifications/{notification_id}/read"): ALL,
    ("GET", "/api/webhooks"): ADMIN,
    ("POST", "/api/webhooks"): ADMIN,
    ("PATCH", "/api/webhooks/{webhook_id}"): ADMIN,
    ("DELETE", "/api/webhooks/{webhook_id}"): ADMIN,
    ("GET", "/api/webhooks/deliveries"): ADMIN,
    ("GET", "/admin/webhooks"): ADMIN,
}
#: example values for path parameters, so that allowed GETs can answer 200
EXAMPLES = {
    "token_id": "999999",
    "user_id": "999999",
    "collectionId": "sectors",
    "featureId": "6209020030010101",
    "incident_id": "I0000024990",
    "code": "6209020030010101",
    "kind": "households",
    "change_id": "1",
    "person_id": "W001",
    "photo_id": "1",
    "year": "2026",
    "day": "2026-10-10",
    "plan_id": "999999",
}

#: allowed GETs the bare example cannot satisfy: their answer instead of 200 (never 403)
EXAMPLE_STATUS = {
    ("GET", "/api/incidents/{incident_id}/photos/{photo_id}"): 404,  # the seed has no photos
    ("GET", "/api/cases/nearby"): 422,  # lon, lat and category are required
    ("GET", "/api/evaluation/cases"): 422,  # the unit is required
    ("GET", "/api/plans/{plan_id}"): 404,  # the seed has no plans
    ("GET", "/api/plans/{plan_id}/compare"): 404,
    ("GET", "/api/plans/{plan_id}/export"): 404,
}


def app_routes() -> list[tuple[str, str]]:
    """Every (method, path) in the app's own OpenAPI document."""
    paths = create_app().openapi()["paths"]
    return [(method.upper(), path) for path, ops in paths.items() for method in ops]


def concrete(path: str) -> str:
    return re.sub(r"\{(\w+)(:\w+)?\}", lambda m: EXAMPLES.get(m.group(1), "x"), path)


def call(client, method: str, path: str, headers: dict | None = None):
    headers = {"Accept": "application/json", **(headers or {})}
    return client.request(method, concrete(path), headers=headers)


def test_every_route_is_public_or_has_its_roles_listed():
    unlisted = [r for r in app_routes() if r not in PUBLIC and r not in ALLOWED]
    assert unlisted == [], "add these routes to ALLOWED with the roles that may call them"


@pytest.mark.parametrize("route", [r for r in app_routes() if r not in PUBLIC], ids=str)
def test_every_route_refuses_a_caller_without_a_token_with_401_problem(client, route):
    response = call(client, *route)
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["www-authenticate"].startswith("Bearer")


@pytest.mark.parametrize("role", sorted(ALL))
def test_every_route_answers_each_role_as_the_permission_table_says(fresh_client, role):
    client = fresh_client
    wrong = []
    for route in app_routes():
        if route in PUBLIC:
            continue
        response = call(client, *route, headers=auth(role))
        allowed = role in ALLOWED[route]
        if not allowed and response.status_code != 403:
            wrong.append((route, response.status_code, "expected 403"))
        if allowed and response.status_code in (401, 403):
            wrong.append((route, response.status_code, "expected access"))
        expected = EXAMPLE_STATUS.get(route, 200)
        if allowed and route[0] == "GET" and response.status_code != expected:
            wrong.append((route, response.status_code, f"expected {expected}"))
        if response.status_code == 403:
            assert response.headers["content-type"] == "application/problem+json"
    assert wrong == []


def test_a_revoked_or_unknown_token_is_401(fresh_client):
    admin = auth("admin")
    created = fresh_client.post(
        "/api/tokens", json={"role": "patrol", "name": "临时"}, headers=admin
    )
    token = created.json()["token"]
    me = fresh_client.get("/api/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 200 and me.json()["role"] == "patrol"
    listed = fresh_client.get("/api/tokens", headers=admin).json()
    token_id = next(t["id"] for t in listed if t["name"] == "临时")
    assert fresh_client.delete(f"/api/tokens/{token_id}", headers=admin).status_code == 204
    assert (
        fresh_client.get("/api/me", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    )
    injection = {"Authorization": "Bearer ' OR '1'='1"}
    assert fresh_client.get("/api/me", headers=injection).status_code == 401


def test_only_a_hash_of_each_token_is_stored(fresh_engine):
    with fresh_engine.connect() as conn:
        stored = " ".join(
            str(v) for row in conn.execute(text("SELECT * FROM api_tokens")) for v in row
        )
    assert all(token not in stored for token in TOKENS.values())


def test_a_grid_worker_token_needs_its_grids(fresh_client):
    response = fresh_client.post(
        "/api/tokens", json={"role": "grid_worker", "name": "无网格"}, headers=auth("admin")
    )
    assert response.status_code == 422
    assert "--grid" in response.json()["detail"]


def test_login_sets_an_httponly_samesite_cookie_that_signs_the_browser_in(
    fresh_client, fresh_engine
):
    response = fresh_client.post(
        "/login",
        data={"username": USERS["official"], "password": TEST_PASSWORD, "next": "/api/me"},
        follow_redirects=False,
    )
    assert response.status_code == 303 and response.headers["location"] == "/api/me"
    cookie = response.headers["set-cookie"]
    assert cookie.startswith(f"{COOKIE}=") and "HttpOnly" in cookie and "SameSite=strict" in cookie
    assert fresh_client.get("/api/me").json()["role"] == "official"
    fresh_client.cookies.clear()
    with fresh_engine.connect() as conn:
        entry = conn.execute(
            text(
                "SELECT actor, role, remote_addr FROM audit_log "
                "WHERE action = 'login' ORDER BY id DESC LIMIT 1"
            )
        ).one()
    assert entry.role == "official" and entry.remote_addr


def test_login_with_a_bad_password_is_refused_and_audited(fresh_client, fresh_engine):
    response = fresh_client.post(
        "/login", data={"username": USERS["official"], "password": "not-the-password-1"}
    )
    assert response.status_code == 401 and "set-cookie" not in response.headers
    assert "登录名或密码不正确" in response.text
    with fresh_engine.connect() as conn:
        failed = conn.execute(text("SELECT count(*) FROM audit_log WHERE action = 'login_failed'"))
        assert failed.scalar_one() == 1


def test_login_never_redirects_to_another_site(fresh_client):
    response = fresh_client.post(
        "/login",
        data={"username": USERS["patrol"], "password": TEST_PASSWORD, "next": "//evil.example/"},
        follow_redirects=False,
    )
    assert response.headers["location"] == "/"


def test_a_browser_without_a_session_is_sent_to_login_and_back(client):
    response = client.get("/api/me", headers={"Accept": "text/html"}, follow_redirects=False)
    assert response.status_code == 401  # API calls stay 401 even from a browser
    page = client.get("/login?next=/maps/incidents")
    assert 'name="next" value="/maps/incidents"' in page.text


def test_every_write_is_audited_with_who_what_status_and_where(fresh_client, fresh_engine):
    fresh_client.post(
        "/api/tokens", json={"role": "official", "name": "李科长"}, headers=auth("admin")
    )
    fresh_client.post("/api/tokens", json={"role": "official", "name": "x"}, headers=auth("patrol"))
    with fresh_engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT actor, role, action, status, remote_addr FROM audit_log "
                "WHERE action = 'POST /api/tokens' ORDER BY id"
            )
        ).all()
    assert [(r.role, r.status) for r in rows] == [("admin", 201), ("patrol", 403)]
    assert all(r.remote_addr for r in rows)


def test_the_audit_log_is_append_only(fresh_engine):
    with fresh_engine.begin() as conn:
        conn.execute(text("INSERT INTO audit_log (actor, action) VALUES ('t', 'probe')"))
    for statement in (
        "UPDATE audit_log SET actor = 'x'",
        "DELETE FROM audit_log",
        "TRUNCATE audit_log",
    ):
        with pytest.raises(DBAPIError, match="append-only"), fresh_engine.begin() as conn:
            conn.execute(text(statement))


def test_admins_read_the_audit_log_filtered_by_action(fresh_client):
    login(fresh_client, "planner")
    entries = fresh_client.get("/api/audit?action=login", headers=auth("admin")).json()
    assert entries and all(e["action"].startswith("login") for e in entries)
    assert entries[0]["role"] == "planner"


def test_request_bodies_over_the_limit_are_refused_with_413(seeded_url, monkeypatch):
    from fastapi.testclient import TestClient

    monkeypatch.setenv("GRIDMAP_MAX_BODY_BYTES", "1000")
    get_settings.cache_clear()
    with TestClient(create_app()) as small:
        response = small.post("/api/tokens", content=b"x" * 5000, headers=auth("admin"))
    get_settings.cache_clear()
    assert response.status_code == 413
    assert response.headers["content-type"] == "application/problem+json"


def test_html_pages_carry_security_headers_and_a_same_origin_policy(client):
    response = client.get("/login")
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-frame-options"] == "SAMEORIGIN"
    csp = response.headers["content-security-policy"]
    assert "default-src 'self'" in csp and "connect-src 'self'" in csp


def test_cors_is_closed_by_default(client):
    response = client.options(
        "/api/me",
        headers={"Origin": "https://elsewhere.example", "Access-Control-Request-Method": "GET"},
    )
    assert "access-control-allow-origin" not in response.headers


def test_officials_and_planners_have_no_personal_data_permission():
    for role in (Role.OFFICIAL, Role.PLANNER, Role.PATROL, Role.GRID_WORKER):
        assert all("personal" not in p.value for p in ROLE_PERMISSIONS[role])


def test_cli_token_create_prints_only_the_token(fresh_url):
    import subprocess
    import sys
    from pathlib import Path

    gridmap = Path(sys.executable).parent / "gridmap"
    done = subprocess.run(
        [str(gridmap), "token", "create", "--role", "official", "--name", "cli"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0
    assert re.fullmatch(r"gm_[A-Za-z0-9_\-]{43}\n", done.stdout)

"""Per sub-district category overrides (0018c): two sub-districts, A (the seeded 620902003)
and B (620902004, added beside it as in tests/test_tenancy.py), in one database.

A's admin shortens sanitation's closing limit: a case filed in A gets the shorter deadline,
one filed in B keeps the default. B neither sees nor changes A's override, over HTTP and in
the database (row-level security). A category B switches off is refused at intake in B
(422 naming `category`, nothing written) and still taken in A. Going back to the default
removes the override. The catalogue and its defaults are the city's: a sub-district's admin
cannot add or retire a category once the database holds another sub-district; a city
administrator (roles admin and city) changes the default every sub-district follows.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import create_engine, text

from geo.access.accounts import create_user, set_password
from geo.core import tenancy
from geo.core.tenancy import work_for
from tests.conftest import TEST_PASSWORD, csrf_of, sector_surface_points
from tests.test_tenancy import A, B, _box, add_subdistrict_b

CITY_ADMIN = "city_admin_0018c"


@pytest.fixture(scope="module")
def two(databases, template_db) -> Iterator[tuple]:
    """(client, engine, tokens, url) on a private copy of the seeded database holding B too,
    with a city administrator's account (admin + city, signs in as CITY_ADMIN)."""
    from fastapi.testclient import TestClient

    from api.main import create_app
    from geo.core.settings import get_settings

    url = databases.url(databases.create(template=template_db))
    engine = create_engine(url)
    with engine.begin() as conn:
        tokens = add_subdistrict_b(conn)
        work_for(conn, A)
        user_id, _ = create_user(conn, CITY_ADMIN, ["admin", "city"], "市级管理员", None)
        set_password(conn, user_id, TEST_PASSWORD, must_change=False)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("GRIDMAP_DATABASE_URL", url)
        get_settings.cache_clear()
        with TestClient(create_app()) as client:
            yield client, engine, tokens, create_app
        get_settings.cache_clear()
    engine.dispose()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", "Accept": "application/json"}


def point_in_a(engine) -> tuple[float, float]:
    lon, lat = sector_surface_points(engine, 1)[0]
    return float(lon), float(lat)


def point_in_b(engine) -> tuple[float, float]:
    with engine.connect() as conn:
        west, south, east, north = _box(conn)
    return (west + east) / 2, (south + north) / 2


def report(client, token: str, at: tuple[float, float], category: str):
    return client.post(
        "/api/incidents",
        json={
            "lon": at[0],
            "lat": at[1],
            "category": category,
            "observed_at": (datetime.now(UTC) - timedelta(minutes=2)).isoformat(),
        },
        headers=bearer(token),
    )


def listed(client, token: str) -> dict[str, dict]:
    response = client.get("/api/categories", headers=bearer(token))
    assert response.status_code == 200, response.text
    return {c["code"]: c for c in response.json()}


def count(engine, sql: str, **params) -> int:
    with engine.connect() as conn:
        return conn.execute(text(sql), params).scalar_one()


def test_a_shorter_limit_in_a_applies_to_as_cases_only(two):
    client, engine, tokens, _ = two
    changed = client.patch(
        "/api/categories/sanitation", json={"close_minutes": 240}, headers=bearer(tokens["a_admin"])
    )
    assert changed.status_code == 200, changed.text
    body = changed.json()
    assert (body["close_minutes"], body["close_working_days"], body["overridden"]) == (
        240,
        None,
        True,
    )
    in_a = report(client, tokens["a_admin"], point_in_a(engine), "sanitation")
    assert in_a.status_code == 201, in_a.text
    due = datetime.fromisoformat(in_a.json()["due_at"])
    assert (
        timedelta(minutes=239)
        < due - datetime.fromisoformat(in_a.json()["reported_at"])
        <= (timedelta(minutes=240))
    )
    in_b = report(client, tokens["admin"], point_in_b(engine), "sanitation")
    assert in_b.status_code == 201, in_b.text
    assert in_b.json()["id"].startswith("I")
    # B keeps the default: one working day, never 240 minutes on the clock
    from geo.cases.deadlines import deadlines
    from geo.cases.workcalendar import load_calendar

    reported = datetime.fromisoformat(in_b.json()["reported_at"])
    with engine.connect() as conn:
        _, expected = deadlines(
            reported,
            {"dispatch_minutes": 120, "close_minutes": None, "close_working_days": 1},
            load_calendar(conn),
        )
    assert datetime.fromisoformat(in_b.json()["due_at"]) == expected
    assert listed(client, tokens["admin"])["sanitation"]["close_working_days"] == 1
    assert listed(client, tokens["a_admin"])["sanitation"]["close_minutes"] == 240
    # the default itself did not move
    assert (
        count(engine, "SELECT close_working_days FROM incident_categories WHERE code='sanitation'")
        == 1
    )


def test_b_neither_sees_nor_changes_as_override(two):
    client, engine, tokens, _ = two
    client.patch(
        "/api/categories/dispute",
        json={"close_working_days": 2, "name_zh": "纠纷调解"},
        headers=bearer(tokens["a_admin"]),
    ).raise_for_status()
    mine = client.get("/api/admin/category-overrides", headers=bearer(tokens["a_admin"])).json()
    assert {(o["subdistrict"], o["code"]) for o in mine} >= {(A, "dispute")}
    theirs = client.get("/api/admin/category-overrides", headers=bearer(tokens["admin"]))
    assert theirs.status_code == 200 and A not in theirs.text
    assert listed(client, tokens["admin"])["dispute"]["name_zh"] == "矛盾纠纷"
    # B's own change lands in B's row; A's stays as it was
    client.patch(
        "/api/categories/dispute", json={"close_working_days": 5}, headers=bearer(tokens["admin"])
    ).raise_for_status()
    assert listed(client, tokens["a_admin"])["dispute"]["close_working_days"] == 2
    assert listed(client, tokens["admin"])["dispute"]["close_working_days"] == 5
    # B's reset removes B's override only
    reset = client.post("/api/admin/categories/dispute/reset", headers=bearer(tokens["admin"]))
    assert reset.status_code == 200 and reset.json()["overridden"] is False
    assert listed(client, tokens["a_admin"])["dispute"]["close_working_days"] == 2
    # in the database: B cannot read A's row nor write one for A; the city reads both
    with tenancy.scoped(tenancy.Scope(B)), engine.begin() as conn:
        assert conn.execute(text("SELECT count(*) FROM category_overrides")).scalar_one() == 0
        with pytest.raises(Exception, match="row-level security"):
            conn.execute(
                text(
                    "INSERT INTO category_overrides (subdistrict, code, dispatch_minutes) "
                    "VALUES (:a, 'traffic', 5)"
                ),
                {"a": A},
            )
    with tenancy.scoped(tenancy.Scope(B)), engine.begin() as conn:
        gone = conn.execute(
            text("DELETE FROM category_overrides WHERE subdistrict = :a"), {"a": A}
        ).rowcount
        assert gone == 0
    with tenancy.scoped(tenancy.Scope(B, city=True)), engine.begin() as conn:
        subdistricts = conn.execute(
            text("SELECT DISTINCT subdistrict FROM category_overrides")
        ).scalars()
        assert A in set(subdistricts)
    assert count(engine, "SELECT count(*) FROM category_overrides WHERE subdistrict = :a", a=A) >= 1


def test_a_category_switched_off_in_b_is_refused_there_and_taken_in_a(two):
    client, engine, tokens, _ = two
    off = client.patch(
        "/api/categories/public_service", json={"enabled": False}, headers=bearer(tokens["admin"])
    )
    assert off.status_code == 200, off.text
    assert off.json()["enabled"] is False
    assert "public_service" not in listed(client, tokens["admin"])
    assert "public_service" in listed(client, tokens["a_admin"])
    before = count(engine, "SELECT count(*) FROM incidents")
    refused = report(client, tokens["admin"], point_in_b(engine), "public_service")
    assert refused.status_code == 422, refused.text
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert refused.json()["field"] == "category"
    assert count(engine, "SELECT count(*) FROM incidents") == before
    taken = report(client, tokens["a_admin"], point_in_a(engine), "public_service")
    assert taken.status_code == 201, taken.text
    # switched on again: the override held nothing else, so it is gone
    on = client.patch(
        "/api/categories/public_service", json={"enabled": True}, headers=bearer(tokens["admin"])
    )
    assert on.status_code == 200 and on.json()["overridden"] is False
    assert report(client, tokens["admin"], point_in_b(engine), "public_service").status_code == 201


def test_reset_to_the_default_removes_the_override(two):
    client, engine, tokens, _ = two
    client.patch(
        "/api/categories/traffic", json={"dispatch_minutes": 20}, headers=bearer(tokens["a_admin"])
    ).raise_for_status()
    where = "SELECT count(*) FROM category_overrides WHERE subdistrict = :a AND code = 'traffic'"
    assert count(engine, where, a=A) == 1
    reset = client.post("/api/admin/categories/traffic/reset", headers=bearer(tokens["a_admin"]))
    assert reset.status_code == 200, reset.text
    assert (reset.json()["dispatch_minutes"], reset.json()["overridden"]) == (30, False)
    assert count(engine, where, a=A) == 0
    with engine.connect() as conn:
        actions = conn.execute(
            text("SELECT action, detail FROM audit_log WHERE target = 'traffic' ORDER BY id")
        ).all()
    assert [a for a, _ in actions][-2:] == ["category_change", "category_reset"]
    assert actions[-2][1]["subdistrict"] == A
    assert actions[-2][1]["dispatch_minutes"] == {"from": 30, "to": 20}


def test_bad_override_input_is_refused_naming_the_field_and_writes_nothing(two):
    client, engine, tokens, _ = two
    before = count(engine, "SELECT count(*) FROM category_overrides")
    for body, field in (
        ({"close_working_days": 365}, "close_working_days"),
        ({"enabled": None}, "enabled"),
        ({"dispatch_minutes": 0}, "dispatch_minutes"),
    ):
        response = client.patch(
            "/api/categories/environment", json=body, headers=bearer(tokens["admin"])
        )
        assert response.status_code == 422, body
        problem = response.json()
        named = problem.get("field") or [str(e["loc"][-1]) for e in problem.get("errors", [])]
        assert field in named, problem
    assert count(engine, "SELECT count(*) FROM category_overrides") == before


def test_the_catalogue_and_its_defaults_are_the_citys(two):
    client, engine, tokens, create_app = two
    from fastapi.testclient import TestClient

    new = {
        "code": "noise_0018c",
        "name_zh": "噪声扰民",
        "name_en": "noise",
        "dispatch_minutes": 60,
        "close_working_days": 1,
    }
    refused = client.post("/api/admin/categories", json=new, headers=bearer(tokens["admin"]))
    assert refused.status_code == 403, refused.text
    retire = client.post("/api/admin/categories/epidemic/retire", headers=bearer(tokens["admin"]))
    assert retire.status_code == 403
    page = client.get("/admin/categories", headers={"Authorization": f"Bearer {tokens['admin']}"})
    assert page.status_code == 200 and 'id="add-category"' not in page.text
    with TestClient(create_app()) as city:
        signed = city.post(
            "/login",
            data={"username": CITY_ADMIN, "password": TEST_PASSWORD},
            follow_redirects=False,
        )
        assert signed.status_code in (302, 303), signed.text
        csrf = {"X-CSRF-Token": csrf_of(city, "/admin/categories")}
        city_page = city.get("/admin/categories").text
        assert 'id="add-category"' in city_page and "全市默认值" in city_page
        default = city.patch(
            "/api/categories/safety_hazard", json={"dispatch_minutes": 45}, headers=csrf
        )
        assert default.status_code == 200, default.text
        assert (
            city.patch(
                "/api/categories/safety_hazard", json={"enabled": False}, headers=csrf
            ).status_code
            == 422
        )
        added = city.post("/api/admin/categories", json=new, headers=csrf)
        assert added.status_code == 201, added.text
        # the city administrator's page shows the defaults, not their own sub-district's
        # override
        client.patch(
            "/api/categories/sanitation",
            json={"close_minutes": 240},
            headers=bearer(tokens["a_admin"]),
        ).raise_for_status()
        sanitation = city.get("/admin/categories").text.split('data-code="sanitation"')[1]
        card = sanitation.split("</li>")[0]
        assert "办结 1 个工作日" in card and 'value="240"' not in card and "本街道设置" not in card
    assert (
        count(engine, "SELECT dispatch_minutes FROM incident_categories WHERE code='safety_hazard'")
        == 45
    )
    # every sub-district without its own setting follows the new default and the new category
    for token in (tokens["admin"], tokens["a_admin"]):
        rows = listed(client, token)
        assert rows["safety_hazard"]["dispatch_minutes"] == 45
        assert "noise_0018c" in rows


def test_the_command_line_changes_the_default_and_keeps_the_overrides(two):
    from typer.testing import CliRunner

    from geo.ops.cli import app

    client, engine, tokens, _ = two
    client.patch(
        "/api/categories/epidemic", json={"dispatch_minutes": 15}, headers=bearer(tokens["a_admin"])
    ).raise_for_status()
    result = CliRunner().invoke(
        app, ["category", "default", "epidemic", "--dispatch-minutes", "25"]
    )
    assert result.exit_code == 0, result.output
    assert "epidemic" in result.output
    assert listed(client, tokens["admin"])["epidemic"]["dispatch_minutes"] == 25
    assert listed(client, tokens["a_admin"])["epidemic"]["dispatch_minutes"] == 15
    bad = CliRunner().invoke(app, ["category", "default", "epidemic", "--dispatch-minutes", "0"])
    assert bad.exit_code == 1
    assert (
        count(engine, "SELECT dispatch_minutes FROM incident_categories WHERE code = 'epidemic'")
        == 25
    )

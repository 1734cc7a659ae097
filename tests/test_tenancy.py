"""Sub-districts as tenants: a second sub-district (B, 620902004) beside the seeded one (A,
620902003) in one database. Every GET route of the OpenAPI, walked as a user of B, shows no
row of A, and as a user of A none of B; a city official sees both side by side; B cannot
read or move A's cases (404: existence does not leak); B's boundaries stay inside B."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, text

from geo.access.roles import Role, create_token
from geo.core import tenancy
from geo.core.tenancy import work_for
from tests.test_access import EXAMPLES, app_routes

A, B = "620902003", "620902004"
B_COMMUNITY = B + "001"
B_GRID2 = B_COMMUNITY + "01"
B_SECTOR = B_GRID2 + "01"
B_INCIDENT, B_HOUSEHOLD, B_WORKER = "I9900000001", "HB00001", "WB01"
#: B's own values for the path parameters of the walk
B_EXAMPLES = {
    **EXAMPLES,
    "featureId": B_SECTOR,
    "code": B_SECTOR,
    "incident_id": B_INCIDENT,
    "person_id": B_WORKER,
}
#: rows of A in an answer: its codes, its incident, household, resident and worker ids
A_ROWS = re.compile(r"620902003|\bI0\d{9}\b|\bH\d{6}\b|\bR\d{6}\b|\bW\d{3}\b")
#: rows of B in an answer
B_ROWS = re.compile(r"620902004|I99000000\d\d|HB\d{5}|RB\d{5}|WB\d\d")


def _box(conn) -> tuple[float, float, float, float]:
    """An outline just east of A's: (west, south, east, north)."""
    east, south = conn.execute(
        text("SELECT ST_XMax(geom), ST_YMin(geom) FROM units WHERE code = :a AND valid_to IS NULL"),
        {"a": A},
    ).one()
    return east + 0.002, south, east + 0.022, south + 0.015


def add_subdistrict_b(conn) -> dict[str, str]:
    """B's outline (one community, level-2 grid and sector, all the same square), a worker,
    a household with a resident, an incident and tokens; returns the tokens by role."""
    west, south, east, north = _box(conn)
    work_for(conn, B)
    outline = "ST_Multi(ST_MakeEnvelope(:w, :s, :e, :n, 4326))"
    for code, level, parent, name in (
        (B, "district", "620902", "东关街道"),
        (B_COMMUNITY, "community", B, "东关测试社区"),
        (B_GRID2, "grid2", B_COMMUNITY, "东关二级网格"),
        (B_SECTOR, "sector", B_GRID2, "东关片区"),
    ):
        conn.execute(
            text(
                "INSERT INTO units (code, level, parent_code, seq, name_zh, name_en, geom) "
                f"VALUES (:code, :level, :parent, 1, :name, :name, {outline})"
            ),
            {"code": code, "level": level, "parent": parent, "name": name}
            | {"w": west, "s": south, "e": east, "n": north},
        )
    point = "ST_SetSRID(ST_MakePoint(:x, :y), 4326)"
    at = {"x": (west + east) / 2, "y": (south + north) / 2}
    codes = {"sector": B_SECTOR, "grid2": B_GRID2, "community": B_COMMUNITY}
    conn.execute(
        text(
            "INSERT INTO resources (id, kind, name_zh, serves_code, geom, sector_code, "
            f"grid2_code, community_code) VALUES (:id, 'grid_worker', '东关网格员', :sector, "
            f"{point}, :sector, :grid2, :community)"
        ),
        {"id": B_WORKER, **codes, **at},
    )
    conn.execute(
        text(
            "INSERT INTO households (id, address, geom, sector_code, grid2_code, community_code) "
            f"VALUES (:id, '东关测试路1号', {point}, :sector, :grid2, :community)"
        ),
        {"id": B_HOUSEHOLD, **codes, **at},
    )
    conn.execute(
        text(
            "INSERT INTO residents (id, household_id, name, gender) "
            "VALUES ('RB00001', :h, '东关居民', 'F')"
        ),
        {"h": B_HOUSEHOLD},
    )
    conn.execute(
        text(
            "INSERT INTO incidents (id, category, status, description, observed_at, reported_at, "
            "dispatch_due_at, due_at, geom, sector_code, grid2_code, community_code, "
            "assigned_to, dispatched_at) "
            "SELECT :id, code, 'dispatched', '东关测试事件', now() - interval '2 days', "
            "now() - interval '2 days', now() - interval '1 day', now() + interval '3 days', "
            f"{point}, :sector, :grid2, :community, ARRAY[:worker], now() - interval '1 day' "
            "FROM incident_categories WHERE NOT sensitive ORDER BY sort LIMIT 1"
        ),
        {"id": B_INCIDENT, "worker": B_WORKER, **codes, **at},
    )
    tokens = {
        role.value: create_token(conn, role, f"东关 {role.value}")
        for role in (Role.ADMIN, Role.OFFICIAL, Role.PLANNER)
    }
    tokens["grid_worker"] = create_token(conn, Role.GRID_WORKER, "东关网格员", worker_id=B_WORKER)
    work_for(conn, A)
    tokens["city"] = create_token(conn, Role.CITY, "市级")
    tokens["a_admin"] = create_token(conn, Role.ADMIN, "西北街 admin")
    return tokens


@pytest.fixture(scope="module")
def city(databases, template_db) -> Iterator[tuple]:
    """(client, engine, tokens) on a private copy of the seeded database holding B too."""
    from fastapi.testclient import TestClient

    from api.main import create_app
    from geo.core.settings import get_settings

    url = databases.url(databases.create(template=template_db))
    engine = create_engine(url)
    with engine.begin() as conn:
        tokens = add_subdistrict_b(conn)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("GRIDMAP_DATABASE_URL", url)
        get_settings.cache_clear()
        with TestClient(create_app()) as client:
            yield client, engine, tokens
        get_settings.cache_clear()
    engine.dispose()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", "Accept": "application/json"}


def walk(client, token: str, examples: dict[str, str]) -> dict[str, tuple[int, str]]:
    """Every GET of the OpenAPI with `examples` in its path: path → (status, body)."""
    answers = {}
    for method, path in app_routes():
        if method != "GET":
            continue
        concrete = re.sub(r"\{(\w+)(:\w+)?\}", lambda m: examples.get(m.group(1), "x"), path)
        response = client.get(concrete, headers=bearer(token))
        answers[concrete] = (response.status_code, response.text)
    return answers


def test_a_user_of_b_sees_no_row_of_a_on_any_get_route(city):
    client, _, tokens = city
    for role in ("admin", "grid_worker"):
        answers = walk(client, tokens[role], B_EXAMPLES)
        failed = {path: status for path, (status, _) in answers.items() if status >= 500}
        assert failed == {}, role
        leaks = {
            path: sorted(set(A_ROWS.findall(body)))[:5]
            for path, (_, body) in answers.items()
            if A_ROWS.search(body)
        }
        assert leaks == {}, f"{role} of B sees rows of A"
    mine = walk(client, tokens["admin"], B_EXAMPLES)
    assert B_INCIDENT in mine["/api/incidents"][1]
    assert B_HOUSEHOLD in mine["/api/households"][1]
    assert mine[f"/api/incidents/{B_INCIDENT}"][0] == 200


def test_a_user_of_a_sees_no_row_of_b_on_any_get_route(city):
    client, _, tokens = city
    answers = walk(client, tokens["a_admin"], EXAMPLES)
    leaks = {path: B_ROWS.findall(body)[:5] for path, (_, body) in answers.items()}
    assert {p: found for p, found in leaks.items() if found} == {}
    assert answers["/api/incidents"][0] == 200 and "I00000" in answers["/api/incidents"][1]


def test_a_city_official_compares_every_sub_district_side_by_side(city):
    client, _, tokens = city
    headers = bearer(tokens["city"])
    for path in ("/api/coverage?level=subdistrict", "/api/evaluation?level=subdistrict"):
        response = client.get(path, headers=headers)
        assert response.status_code == 200, response.text
        assert {row["code"] for row in response.json()["rows"]} == {A, B}, path
    coverage = client.get("/api/coverage?level=subdistrict", headers=headers).json()["rows"]
    households = {row["code"]: row["households"] for row in coverage}
    assert households[B] == 1 and households[A] > 14000
    page = client.get("/coverage?level=subdistrict", headers=headers)
    assert page.status_code == 200 and A in page.text and B in page.text
    tabs = client.get("/evaluation", headers=headers).text  # the page reads /api/evaluation
    assert 'data-level="subdistrict"' in tabs
    own_tabs = client.get("/evaluation", headers=bearer(tokens["official"])).text
    assert 'data-level="subdistrict"' not in own_tabs
    sectors = client.get("/api/coverage?level=sector", headers=headers).json()["rows"]
    assert B_SECTOR in {row["code"] for row in sectors}
    # a sub-district's own official gets its one row at the same level
    own = client.get("/api/coverage?level=subdistrict", headers=bearer(tokens["official"]))
    assert [row["code"] for row in own.json()["rows"]] == [B]


def test_b_cannot_see_or_move_a_case_of_a_it_gets_404(city):
    client, _, tokens = city
    a_case = "I0000000001"
    assert client.get(f"/api/incidents/{a_case}", headers=bearer(tokens["a_admin"])).is_success
    assert (
        client.get(f"/api/incidents/{a_case}", headers=bearer(tokens["admin"])).status_code == 404
    )
    moved = client.post(
        f"/api/incidents/{a_case}/transitions",
        json={"to": "rejected", "note": "不是我们的"},
        headers=bearer(tokens["admin"]),
    )
    assert moved.status_code == 404
    assert (
        client.get(f"/api/incidents/{B_INCIDENT}", headers=bearer(tokens["a_admin"])).status_code
        == 404
    )


def test_rows_written_for_b_belong_to_b_and_the_database_refuses_them_to_a(city):
    _, engine, _ = city
    with tenancy.scoped(tenancy.Scope(A)), engine.begin() as conn:
        assert (
            conn.execute(
                text("SELECT count(*) FROM incidents WHERE id = :i"), {"i": B_INCIDENT}
            ).scalar_one()
            == 0
        )
        assert conn.execute(text("SELECT current_user")).scalar_one() == tenancy.TENANT_ROLE
    with tenancy.scoped(tenancy.Scope(B)), engine.begin() as conn:
        row = conn.execute(text("SELECT count(*), min(subdistrict) FROM residents")).one()
        assert tuple(row) == (1, B)
        with pytest.raises(Exception, match="row-level security"):
            conn.execute(
                text(
                    "INSERT INTO households (id, geom, subdistrict) "
                    "VALUES ('HX1', ST_SetSRID(ST_MakePoint(98.5, 39.7), 4326), :a)"
                ),
                {"a": A},
            )
    with engine.connect() as conn:  # unscoped (the owner): every row
        assert (
            conn.execute(text("SELECT count(DISTINCT subdistrict) FROM incidents")).scalar_one()
            == 2
        )


def test_a_planner_of_b_cannot_draw_a_sector_beyond_bs_outline(city):
    client, engine, tokens = city
    headers = bearer(tokens["planner"])
    unit = client.get(f"/api/boundaries/units/{B_SECTOR}", headers=headers)
    assert unit.status_code == 200
    with engine.connect() as conn:
        west, south, east, north = _box(conn)
    wide = {
        "type": "Polygon",
        "coordinates": [
            [
                [west - 0.01, south],
                [east, south],
                [east, north],
                [west - 0.01, north],
                [west - 0.01, south],
            ]
        ],
    }
    response = client.put(
        f"/api/boundaries/sectors/{B_SECTOR}",
        json={"geometry": wide, "reason": "越界测试", "on_conflict": "refuse"},
        headers={**headers, "If-Match": unit.headers["etag"]},
    )
    assert response.status_code == 422, response.text
    assert B_SECTOR in response.text
    with engine.connect() as conn:
        version = conn.execute(
            text("SELECT max(version) FROM units WHERE code = :c"), {"c": B_SECTOR}
        ).scalar_one()
    assert version == 1


def test_the_cli_creates_a_user_of_another_sub_district(city):
    import os
    import subprocess
    import sys
    from pathlib import Path

    _, engine, _ = city
    env = {**os.environ, "GRIDMAP_DATABASE_URL": engine.url.render_as_string(hide_password=False)}
    gridmap = str(Path(sys.executable).parent / "gridmap")

    def create(login: str, code: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [gridmap, "user", "create", login, "--role", "official", "--display-name", "东关统计",
             "--subdistrict", code],
            env=env, capture_output=True, text=True, timeout=120,
        )  # fmt: skip

    done = create("dongguan01", B)
    assert done.returncode == 0, done.stderr
    with engine.connect() as conn:
        owner = conn.execute(text("SELECT subdistrict FROM users WHERE login = 'dongguan01'"))
        assert owner.scalar_one() == B
    unknown = create("nowhere01", "620902099")
    assert unknown.returncode == 1 and "no sub-district 620902099" in unknown.stderr

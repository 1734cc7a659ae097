"""People's accounts (issue 17) and the identity holes of issue 15 (items 6-8): one-time
passwords, the password policy, sessions that end, CSRF on cookie writes, throttling,
personal access tokens (also as the password of HTTP Basic) and ownership by identity."""

from __future__ import annotations

import base64
import re
import subprocess
import sys
from pathlib import Path

from sqlalchemy import text

from api.security import COOKIE
from tests.conftest import TEST_PASSWORD, TOKENS, USERS, auth, csrf_of, login
from tests.incident_support import inside, report_body, worker_sector

GRIDMAP = Path(sys.executable).parent / "gridmap"


def count(engine, sql: str, **params) -> int:
    with engine.connect() as conn:
        return conn.execute(text(sql), params).scalar_one()


SESSIONS = "SELECT count(*) FROM user_sessions"


def basic(token: str, user: str = "qgis") -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{token}".encode()).decode()}


def new_user(client, role: str = "official", login_name: str = "13800000001", **extra) -> dict:
    body = {"login": login_name, "display_name": "李科长", "roles": [role], **extra}
    response = client.post("/api/users", json=body, headers=auth("admin"))
    assert response.status_code == 201, response.json()
    return response.json()


def sign(client, login_name: str, password: str):
    """Sign a test client in as any user (the cookie stays in the client)."""
    response = client.post(
        "/login", data={"username": login_name, "password": password}, follow_redirects=False
    )
    assert response.status_code == 303, response.text
    return response


def change_password(client, current: str, new: str, csrf: str | None = None):
    return client.post(
        "/account/password",
        data={
            "current_password": current,
            "new_password": new,
            "new_password_again": new,
            "csrf_token": csrf if csrf is not None else csrf_of(client, "/account"),
        },
        headers={"Origin": "http://testserver"},
        follow_redirects=False,
    )


def test_cli_user_create_prints_only_a_one_time_password_that_must_be_changed(
    fresh_url, fresh_client, fresh_engine
):
    done = subprocess.run(
        [str(GRIDMAP), "user", "create", "13900000002", "--role", "official",
         "--display-name", "王主任"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert re.fullmatch(r"[A-Za-z0-9]{14}\n", done.stdout)
    password = done.stdout.strip()
    signed_in = fresh_client.post(
        "/login", data={"username": "13900000002", "password": password}, follow_redirects=False
    )
    assert signed_in.status_code == 303 and signed_in.headers["location"] == "/account"
    # nothing but the account page until the one-time password is replaced
    home = fresh_client.get("/", headers={"Accept": "text/html"}, follow_redirects=False)
    assert home.status_code == 303 and home.headers["location"] == "/account"
    assert fresh_client.get("/api/coverage").status_code == 403
    early_token = fresh_client.post(
        "/account/tokens",
        data={"name": "x", "days": "30", "csrf_token": csrf_of(fresh_client, "/account")},
        headers={"Origin": "http://testserver"},
    )
    assert early_token.status_code == 403
    assert change_password(fresh_client, password, "Jiuquan-2026-xb").status_code == 303
    assert fresh_client.get("/", headers={"Accept": "text/html"}).status_code == 200
    assert count(fresh_engine, "SELECT count(*) FROM users WHERE password_hash LIKE '$argon2id$%'")
    taken = subprocess.run(
        [str(GRIDMAP), "user", "create", "13900000002", "--role", "official",
         "--display-name", "又一个"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert taken.returncode != 0 and taken.stdout == "" and "taken" in taken.stderr


def test_weak_passwords_are_422_naming_the_field_and_change_nothing(fresh_client, fresh_engine):
    login(fresh_client, "planner")
    before = count(fresh_engine, "SELECT count(*) FROM users WHERE password_changed_at IS NOT NULL")
    for weak in ("short1", "aaaaaaaaaaaaaaa", "onlyletterslong", f"{USERS['planner']}-2026x"):
        response = change_password(fresh_client, TEST_PASSWORD, weak)
        assert response.status_code == 422, weak
        assert 'data-field="new_password"' in response.text
    wrong = change_password(fresh_client, "not-my-password-9", "Jiuquan-2026-xb")
    assert wrong.status_code == 422 and 'data-field="current_password"' in wrong.text
    after = count(fresh_engine, "SELECT count(*) FROM users WHERE password_changed_at IS NOT NULL")
    assert after == before
    assert login(fresh_client, "planner").status_code == 303  # the old password still works


def test_admins_create_disable_and_reset_users_and_bad_input_is_422(fresh_client, fresh_engine):
    created = new_user(fresh_client)
    assert len(created["one_time_password"]) == 14
    taken = fresh_client.post(
        "/api/users",
        json={"login": "13800000001", "display_name": "重名", "roles": ["planner"]},
        headers=auth("admin"),
    )
    assert taken.status_code == 422 and taken.json()["field"] == "login"
    worker = fresh_client.post(
        "/api/users",
        json={"login": "13800000003", "display_name": "无网格", "roles": ["grid_worker"]},
        headers=auth("admin"),
    )
    assert worker.status_code == 422 and worker.json()["field"] == "worker_id"
    assert count(fresh_engine, "SELECT count(*) FROM users WHERE login LIKE '1380000000%'") == 1
    reset = fresh_client.post(
        f"/api/users/{created['id']}/reset-password", headers=auth("admin")
    ).json()
    assert reset["one_time_password"] != created["one_time_password"]
    disabled = fresh_client.post(f"/api/users/{created['id']}/disable", headers=auth("admin"))
    assert disabled.status_code == 200 and disabled.json()["disabled"] is True
    refused = fresh_client.post(
        "/login", data={"username": "13800000001", "password": reset["one_time_password"]}
    )
    assert refused.status_code == 401


def test_disabling_the_last_admin_is_422_and_writes_nothing(fresh_client, fresh_engine):
    admin_id = count(fresh_engine, "SELECT id FROM users WHERE login = :l", l=USERS["admin"])
    response = fresh_client.post(f"/api/users/{admin_id}/disable", headers=auth("admin"))
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["field"] == "login" and "last" in response.json()["detail"]
    assert count(fresh_engine, "SELECT count(*) FROM users WHERE disabled_at IS NOT NULL") == 0


def test_a_session_cookie_is_random_stored_as_a_hash_and_useless_as_a_bearer_token(
    fresh_client, fresh_engine
):
    response = login(fresh_client, "official")
    cookie = fresh_client.cookies[COOKIE]
    assert cookie not in TOKENS.values() and len(cookie) >= 40
    assert "HttpOnly" in response.headers["set-cookie"]
    with fresh_engine.connect() as conn:
        stored = " ".join(
            str(v) for row in conn.execute(text("SELECT * FROM user_sessions")) for v in row
        )
    assert cookie not in stored
    assert fresh_client.get("/api/me").json()["id"].startswith("user:")
    fresh_client.cookies.clear()
    as_bearer = fresh_client.get("/api/me", headers={"Authorization": f"Bearer {cookie}"})
    assert as_bearer.status_code == 401
    assert fresh_client.get("/api/me", headers=basic(cookie)).status_code == 401


def test_a_sign_in_is_committed_before_its_answer_leaves(fresh_url, fresh_engine):
    """A browser follows the 303 of /login at once: the session must be in the database when
    the answer starts, or the next page may not find it and send the person back to /login
    (the flake of three CI runs, when the commit came after the answer)."""
    from fastapi.testclient import TestClient

    from api.main import create_app

    app = create_app()
    sessions_when_answered = []

    async def watched(scope, receive, send):
        async def send_and_look(message):
            if message["type"] == "http.response.start" and scope["method"] == "POST":
                sessions_when_answered.append(count(fresh_engine, SESSIONS))
            await send(message)

        await app(scope, receive, send_and_look)

    with TestClient(watched) as client:
        before = count(fresh_engine, SESSIONS)
        assert login(client, "official").status_code == 303
    assert sessions_when_answered == [before + 1]


def test_every_route_ends_its_transaction_before_it_answers():
    """The same for every write: each route's connection commits (or rolls back) when the
    route returns, not after the answer is sent (FastAPI's default for `yield`)."""
    import importlib
    import pkgutil

    import api.routers
    from api.deps import get_conn, get_read_conn

    def connections(dependant):
        for sub in dependant.dependencies:
            if sub.call in (get_conn, get_read_conn):
                yield sub
            yield from connections(sub)

    modules = [
        importlib.import_module(f"api.routers.{m.name}")
        for m in pkgutil.iter_modules(api.routers.__path__)
    ]
    routes = [r for m in modules if hasattr(m, "router") for r in m.router.routes]
    used = [(r.path, d.scope) for r in routes for d in connections(r.dependant)]
    assert len(used) > 50
    assert [(path, scope) for path, scope in used if scope != "function"] == []


def test_logout_ends_the_session_and_the_old_cookie_is_refused(fresh_client):
    login(fresh_client, "patrol")
    cookie = fresh_client.cookies[COOKIE]
    csrf = csrf_of(fresh_client)
    out = fresh_client.post(
        "/logout", data={"csrf_token": csrf}, headers={"Origin": "http://testserver"},
        follow_redirects=False,
    )  # fmt: skip
    assert out.status_code == 303 and out.headers["location"] == "/login"
    fresh_client.cookies.clear()
    fresh_client.cookies.set(COOKIE, cookie)
    assert fresh_client.get("/api/me").status_code == 401


def test_sessions_end_after_the_idle_and_the_absolute_timeouts(fresh_client, fresh_engine):
    for column, age in (("last_seen_at", "61 minutes"), ("created_at", "13 hours")):
        login(fresh_client, "official")
        assert fresh_client.get("/api/me").status_code == 200
        with fresh_engine.begin() as conn:
            conn.execute(text(f"UPDATE user_sessions SET {column} = now() - interval '{age}'"))
        assert fresh_client.get("/api/me").status_code == 401, column
        fresh_client.cookies.clear()


def test_disabling_a_user_ends_their_sessions_and_tokens_at_once(fresh_client):
    created = new_user(fresh_client, "planner", "planner.li")
    sign(fresh_client, "planner.li", created["one_time_password"])
    changed = change_password(fresh_client, created["one_time_password"], "Planner-2026-li")
    assert changed.status_code == 303
    csrf = csrf_of(fresh_client, "/account")
    token_page = fresh_client.post(
        "/account/tokens",
        data={"name": "QGIS", "days": "30", "csrf_token": csrf},
        headers={"Origin": "http://testserver"},
    )
    token = re.search(r"<code>(gm_[^<]+)</code>", token_page.text).group(1)
    assert fresh_client.get("/api/me").status_code == 200
    fresh_client.post(f"/api/users/{created['id']}/disable", headers=auth("admin"))
    assert fresh_client.get("/api/me").status_code == 401
    fresh_client.cookies.clear()
    assert (
        fresh_client.get("/api/me", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    )


def test_cookie_writes_without_the_csrf_token_or_from_another_origin_change_nothing(
    fresh_client, fresh_engine
):
    login(fresh_client, "admin")
    csrf = csrf_of(fresh_client, "/admin/users")
    form = {"login": "13700000001", "display_name": "钓鱼", "roles": "official"}
    attempts = [
        ({}, {"Origin": "http://testserver"}),  # same site, no token
        ({"csrf_token": "0" * 64}, {"Origin": "http://testserver"}),  # same site, wrong token
        ({"csrf_token": csrf}, {"Origin": "http://testserver:8001"}),  # sibling port
        ({"csrf_token": csrf}, {"Origin": "null"}),  # sandboxed or cross-site form
        ({"csrf_token": csrf}, {"Referer": "http://evil.example/x"}),
    ]
    for extra, headers in attempts:
        response = fresh_client.post("/admin/users", data={**form, **extra}, headers=headers)
        assert response.status_code == 403, (extra, headers)
        assert response.headers["content-type"] == "application/problem+json"
    json_write = fresh_client.post(
        "/api/users", json={**form, "roles": ["official"]}, headers={"Origin": "http://testserver"}
    )
    assert json_write.status_code == 403
    assert count(fresh_engine, "SELECT count(*) FROM users WHERE login = '13700000001'") == 0
    # the page's own form, and a script sending the header, get through
    ok = fresh_client.post(
        "/admin/users", data={**form, "csrf_token": csrf}, headers={"Origin": "http://testserver"}
    )
    assert ok.status_code == 201 and 'id="one-time-password"' in ok.text
    by_script = fresh_client.post(
        "/api/users",
        json={"login": "13700000002", "display_name": "脚本", "roles": ["official"]},
        headers={"X-CSRF-Token": csrf, "Origin": "http://testserver"},
    )
    assert by_script.status_code == 201
    # a program's token needs no CSRF token (no cookie is involved)
    fresh_client.cookies.clear()
    program = fresh_client.post(
        "/api/users",
        json={"login": "13700000003", "display_name": "程序", "roles": ["official"]},
        headers=auth("admin"),
    )
    assert program.status_code == 201


def test_repeated_failed_logins_get_429_with_retry_after_and_are_audited(
    fresh_client, fresh_engine
):
    for _ in range(5):
        response = login(fresh_client, "official", "wrong-password-1")
        assert response.status_code == 401
    throttled = login(fresh_client, "official")  # even the right password, now
    assert throttled.status_code == 429 and int(throttled.headers["retry-after"]) > 0
    assert "set-cookie" not in throttled.headers
    assert count(fresh_engine, "SELECT count(*) FROM audit_log WHERE action = 'login_failed'") == 5
    assert count(fresh_engine, "SELECT count(*) FROM audit_log WHERE action = 'login_throttled'")
    # per address too: many names, one address
    for i in range(20):
        fresh_client.post("/login", data={"username": f"guess{i}", "password": "x1234567890"})
    assert login(fresh_client, "planner").status_code == 429


def test_bad_tokens_are_throttled_per_address_and_audited(fresh_client, fresh_engine):
    for i in range(30):
        response = fresh_client.get("/api/me", headers={"Authorization": f"Bearer gm_guess{i}"})
        assert response.status_code == 401
    throttled = fresh_client.get("/api/me", headers=auth("admin"))
    assert throttled.status_code == 429 and int(throttled.headers["retry-after"]) > 0
    assert throttled.headers["content-type"] == "application/problem+json"
    assert count(fresh_engine, "SELECT count(*) FROM audit_log WHERE action = 'token_failed'") == 30


def test_a_token_is_also_the_password_of_http_basic_auth(client):
    me = client.get("/api/me", headers=basic(TOKENS["planner"]))
    assert me.status_code == 200 and me.json()["role"] == "planner"
    items = client.get("/ogc/collections/sectors/items?limit=1", headers=basic(TOKENS["official"]))
    assert items.status_code == 200
    refused = client.get("/api/me", headers=basic("gm_not-a-token"))
    assert refused.status_code == 401 and "Basic" in refused.headers["www-authenticate"]


def test_personal_tokens_carry_the_users_roles_or_fewer_and_can_be_revoked(fresh_client):
    login(fresh_client, "grid_worker")
    csrf = csrf_of(fresh_client, "/account")
    origin = {"Origin": "http://testserver"}
    beyond = fresh_client.post(
        "/account/tokens",
        data={"name": "x", "days": "30", "roles": "admin", "csrf_token": csrf},
        headers=origin,
    )
    assert beyond.status_code == 422 and 'data-field="roles"' in beyond.text
    made = fresh_client.post(
        "/account/tokens", data={"name": "QGIS", "days": "30", "csrf_token": csrf}, headers=origin
    )
    assert made.status_code == 201
    token = re.search(r"<code>(gm_[^<]+)</code>", made.text).group(1)
    page = fresh_client.get("/account").text
    assert token not in page  # shown once
    token_id = re.search(r'data-token="(\d+)"', page).group(1)
    fresh_client.cookies.clear()
    me = fresh_client.get("/api/me", headers={"Authorization": f"Bearer {token}"}).json()
    assert me["roles"] == ["grid_worker"] and me["scope_codes"] and me["id"].startswith("user:")
    login(fresh_client, "grid_worker")
    fresh_client.post(
        f"/account/tokens/{token_id}/revoke", data={"csrf_token": csrf_of(fresh_client)},
        headers=origin,
    )  # fmt: skip
    fresh_client.cookies.clear()
    assert (
        fresh_client.get("/api/me", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    )


def test_ownership_follows_the_identity_not_the_name(fresh_client, fresh_engine):
    """Issue 15 item 6: a second patrol token with the same name may not act on the first
    one's reports."""
    original = fresh_client.post(
        "/api/incidents",
        json=report_body(*inside(fresh_engine, worker_sector(fresh_engine))),
        headers=auth("admin"),
    ).json()
    mine = fresh_client.post(
        "/api/incidents",
        json=report_body(*inside(fresh_engine, worker_sector(fresh_engine))),
        headers=auth("patrol"),
    ).json()
    twin = fresh_client.post(
        "/api/tokens", json={"role": "patrol", "name": "test patrol"}, headers=auth("admin")
    ).json()["token"]
    move = {"to": "duplicate", "duplicate_of": original["id"]}
    refused = fresh_client.post(
        f"/api/incidents/{mine['id']}/transitions",
        json=move,
        headers={"Authorization": f"Bearer {twin}"},
    )
    assert refused.status_code == 403
    allowed = fresh_client.post(
        f"/api/incidents/{mine['id']}/transitions", json=move, headers=auth("patrol")
    )
    assert allowed.status_code == 200
    assert (
        count(
            fresh_engine,
            "SELECT count(*) FROM incident_events "
            "WHERE incident_id = :i AND actor_id LIKE 'token:%'",
            i=mine["id"],
        )
        == 2
    )


def test_an_admin_binds_a_grid_worker_user_to_a_worker_who_then_sees_their_own_grids(
    fresh_client, fresh_engine
):
    sector = worker_sector(fresh_engine)
    created = new_user(fresh_client, "grid_worker", "13600000001", worker_id="W001")
    sign(fresh_client, "13600000001", created["one_time_password"])
    assert (
        change_password(fresh_client, created["one_time_password"], "Worker-2026-w1").status_code
        == 303
    )
    me = fresh_client.get("/api/me").json()
    assert me["scope_codes"] == [sector] and me["roles"] == ["grid_worker"]
    home = fresh_client.get("/", headers={"Accept": "text/html"}).text
    assert 'id="own-grids"' in home and sector in home


def readme_gdal_recipe() -> tuple[dict[str, str], str]:
    """The README's GDAL recipe: its `export` line (as environment) and its `ogrinfo` line."""
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    export = re.search(r"^export (GDAL_HTTP_AUTH=BASIC .*)$", readme, re.M).group(1)
    env = dict(pair.split("=", 1) for pair in export.split())
    command = re.search(r"^(ogrinfo .*OAPIF:\S+ sectors)$", readme, re.M).group(1)
    return {k: v.strip('"') for k, v in env.items()}, command


def test_debians_ogrinfo_reads_sectors_with_the_readmes_basic_auth_recipe(live_url):
    env, command = readme_gdal_recipe()
    env = {k: v.replace("<token>", TOKENS["official"]) for k, v in env.items()}
    argv = command.replace("http://127.0.0.1:8000", live_url).split()
    assert argv[0] == "ogrinfo"
    done = subprocess.run(
        ["/usr/bin/ogrinfo", *argv[1:]],
        env={"PATH": "/usr/bin:/bin", "GDAL_HTTP_TIMEOUT": "60", **env},
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stderr
    assert "Layer name: sectors" in done.stdout and "Feature Count: 22" in done.stdout
    without = subprocess.run(
        ["/usr/bin/ogrinfo", *argv[1:]], env={"PATH": "/usr/bin:/bin"},
        capture_output=True, text=True, timeout=180,
    )  # fmt: skip
    assert without.returncode != 0  # the token is what opened it


def test_owslib_reads_with_the_token_as_the_basic_password(live_url):
    from owslib.ogcapi.features import Features
    from owslib.util import Authentication

    ogc = Features(f"{live_url}/ogc", auth=Authentication("gridmap", TOKENS["official"]))
    items = ogc.collection_items("sectors", limit=5)
    assert items["numberReturned"] == 5


def test_the_accounts_migration_has_a_real_downgrade(empty_engine):
    from alembic import command
    from sqlalchemy import inspect

    from geo.ops.migrate import alembic_config, upgrade

    upgrade(empty_engine)
    config = alembic_config(empty_engine.url.render_as_string(hide_password=False))
    command.downgrade(config, "0009")
    tables = set(inspect(empty_engine).get_table_names())
    assert not {"users", "user_sessions", "auth_failures"} & tables
    columns = {c["name"] for c in inspect(empty_engine).get_columns("api_tokens")}
    assert not {"user_id", "roles", "expires_at"} & columns
    command.upgrade(config, "head")
    assert "users" in inspect(empty_engine).get_table_names()

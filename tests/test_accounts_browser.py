"""Accounts in a real browser (Debian's Chromium, 390 px, network beyond 127.0.0.1 blocked):
sign in with name and password, land on the role's home, change the one-time password, sign
out and find the old cookie refused; rapid failed sign-ins get 429; an admin creates a grid
worker's account on the users screen and that person sees their own grids; a page on a
sibling port cannot post a form as the signed-in admin.

These tests change passwords and throttle an address, so they run against a service of
their own on a private copy of the seeded database. Screenshots: test-artifacts/accounts/.
"""

from __future__ import annotations

import http.server
import threading

import pytest
from sqlalchemy import create_engine, text

from geo.access import accounts
from tests.conftest import ARTIFACTS, USERS, OfflineBrowser, serve, sign_in
from tests.test_pages import HOME_LINKS

SHOTS = ARTIFACTS / "accounts"
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}


def shoot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SHOTS / f"{name}.png", full_page=True)


@pytest.fixture(scope="module")
def service(databases, template_db):
    """(base URL, engine) of `gridmap serve` on a private copy of the seeded database."""
    name = databases.create(template=template_db)
    url = databases.url(name)
    engine = create_engine(url)
    with serve(url) as base:
        yield base, engine
    engine.dispose()
    databases.drop(name)


@pytest.fixture
def offline(browser, service):
    offline = OfflineBrowser(browser, service[0])
    yield offline
    offline.close()
    assert offline.outside_requests == [], "a page tried to reach beyond 127.0.0.1"


def new_account(engine, login: str, role: str = "official", **extra) -> str:
    with engine.begin() as conn:
        return accounts.create_user(conn, login, [role], "李科长", **extra)[1]


def fill_sign_in(page, login: str, password: str):
    page.fill("#username", login)
    page.fill("#password", password)
    with page.expect_navigation() as navigation:
        page.click("form[action='/login'] button[type=submit]")
    page.wait_for_load_state()
    return navigation.value


def choose_password(page, current: str, new: str) -> None:
    page.fill("#current_password", current)
    page.fill("#new_password", new)
    page.fill("#new_password_again", new)
    with page.expect_navigation():
        page.click("form[action='/account/password'] button[type=submit]")


def fits(page, viewport) -> bool:
    return page.evaluate("document.documentElement.scrollWidth") <= viewport["width"]


def test_a_person_signs_in_on_a_phone_changes_the_password_and_signs_out_for_good(offline, service):
    base, engine = service
    one_time = new_account(engine, "13800000011")
    context = offline.context(viewport=PHONE, has_touch=True)
    page = context.new_page()
    page.goto("/")
    assert page.url.endswith("/login?next=/")
    assert fits(page, PHONE)
    shoot(page, "login_390")
    fill_sign_in(page, "13800000011", one_time)
    page.wait_for_url(base + "/account")
    assert page.is_visible("#must-change")
    assert page.get_attribute('meta[name="csrf-token"]', "content")
    assert fits(page, PHONE)
    shoot(page, "account_first_sign_in_390")
    choose_password(page, one_time, "Jiuquan-2026-xb")
    page.wait_for_url(base + "/?password_changed=1")  # the official's home
    links = page.eval_on_selector_all("[data-link]", "els => els.map(e => e.dataset.link)")
    assert set(links) == HOME_LINKS["official"]
    old_cookie = next(c for c in context.cookies() if c["name"] == "gridmap_session")
    assert old_cookie["httpOnly"] and old_cookie["sameSite"] == "Strict"
    with page.expect_navigation():
        page.click(".logout button")
    assert page.url == base + "/login"
    # the old cookie, put back in a fresh profile, opens nothing
    replay = offline.context(viewport=PHONE)
    replay.add_cookies([{**old_cookie}])
    again = replay.new_page()
    again.goto("/")
    assert "/login" in again.url
    assert replay.request.get(f"{base}/api/me").status == 401
    # the new password signs in; the one-time password no longer does
    page.goto("/login")
    assert fill_sign_in(page, "13800000011", one_time).status == 401
    fill_sign_in(page, "13800000011", "Jiuquan-2026-xb")
    page.wait_for_url(base + "/")


def test_rapid_failed_sign_ins_get_429(offline, service):
    base, engine = service
    new_account(engine, "13800000012")
    page = offline.context(viewport=PHONE).new_page()
    page.goto("/login")
    statuses = [fill_sign_in(page, "13800000012", f"guess-{i}-wrong").status for i in range(6)]
    assert statuses == [401] * 5 + [429]
    assert page.is_visible("#login-error") and "秒后再试" in page.text_content("#login-error")
    assert fits(page, PHONE)
    shoot(page, "login_throttled_390")
    with engine.connect() as conn:
        failed = conn.execute(
            text("SELECT count(*) FROM audit_log WHERE action LIKE 'login_%' AND target = :l"),
            {"l": "13800000012"},
        ).scalar_one()
    assert failed == 6  # five failures and the refusal


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["390", "desktop"])
def test_an_admin_creates_a_grid_workers_account_who_then_sees_their_own_grids(
    offline, service, viewport
):
    base, engine = service
    login = f"1350000{viewport['width']:04d}"
    admin = sign_in(offline.context(viewport=viewport), "admin")
    admin.goto("/admin/users")
    admin.fill("#login", login)
    admin.fill("#display_name", "郑网格")
    admin.check("input[name=roles][value=grid_worker]")
    admin.select_option("#worker_id", "W001")
    with admin.expect_navigation():
        admin.click("#new-user button[type=submit]")
    one_time = admin.text_content("#one-time-password code").strip()
    assert admin.is_visible(f'tr[data-login="{login}"]')
    assert fits(admin, viewport)
    shoot(admin, f"users_{viewport['width']}")
    with engine.connect() as conn:
        sector = conn.execute(text("SELECT serves_code FROM resources WHERE id = 'W001'")).scalar()
    worker = offline.context(viewport=viewport).new_page()
    worker.goto("/login")
    landed = fill_sign_in(worker, login, one_time)
    # a one-time password: choose your own first (on failure, say where the sign-in went)
    assert landed.url == base + "/account", (landed.status, landed.url, worker.content()[:2000])
    choose_password(worker, one_time, "Worker-2026-w1")
    worker.wait_for_url(base + "/?password_changed=1")
    assert worker.is_visible("#own-grids") and sector in worker.text_content("#own-grids")
    worker.goto("/account")
    worker.fill("#token_name", "QGIS")
    with worker.expect_navigation():
        worker.click("form[action='/account/tokens'] button[type=submit]")
    assert worker.text_content("#new-token code").startswith("gm_")
    assert fits(worker, viewport)
    shoot(worker, f"account_{viewport['width']}")


def test_a_page_on_a_sibling_port_cannot_post_a_form_as_the_signed_in_admin(offline, service):
    base, engine = service
    attack = (
        f'<form method="post" action="{base}/admin/users" enctype="multipart/form-data">'
        '<input name="login" value="13700000099"><input name="display_name" value="x">'
        '<input name="roles" value="admin"></form><script>document.forms[0].submit()</script>'
    ).encode()

    class Attacker(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.end_headers()
            self.wfile.write(attack)

        def log_message(self, *args):
            pass

    evil = http.server.HTTPServer(("127.0.0.1", 0), Attacker)
    threading.Thread(target=evil.serve_forever, daemon=True).start()
    try:
        context = offline.context(viewport=DESKTOP)
        sign_in(context, "admin")
        page = context.new_page()
        with page.expect_response(f"{base}/admin/users") as posted:
            page.goto(f"http://127.0.0.1:{evil.server_port}/")
        assert posted.value.status == 403
    finally:
        evil.shutdown()
    with engine.connect() as conn:
        made = conn.execute(text("SELECT count(*) FROM users WHERE login = '13700000099'"))
        assert made.scalar_one() == 0
    assert USERS["admin"]

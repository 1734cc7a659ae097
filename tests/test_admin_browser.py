"""The admin's screens in a real browser: Debian's Chromium at 390 px, the network beyond
127.0.0.1 blocked, on a private copy of the district served by `gridmap serve`.

An admin adds a grid worker to a sector with no worker of its own, sees the sector show
them, a case reported there goes to them; they retire the worker and the next case does
not. They add a category, are refused a taken code with the field marked, and retire it.
Screenshots go to test-artifacts/admin/.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import text

from tests.conftest import ARTIFACTS, TOKENS, OfflineBrowser, serve
from tests.conftest import sign_in as conftest_sign_in

SHOTS = ARTIFACTS / "admin"
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}


@pytest.fixture
def admin_site(browser, fresh_url):
    """An offline browser on `gridmap serve` over a private copy of the seeded district."""
    with serve(fresh_url) as url:
        offline = OfflineBrowser(browser, url)
        yield offline
        offline.close()
        assert offline.outside_requests == [], "a page tried to reach beyond 127.0.0.1"


def sign_in(site: OfflineBrowser, viewport: dict, role: str = "admin"):
    """A new context signed in as `role` through /login with name and password;
    `page.problems` collects script errors."""
    context = site.context(viewport=viewport, has_touch=viewport is PHONE)
    page = context.new_page()
    page.problems = []
    page.on("pageerror", lambda error: page.problems.append(f"script error: {error}"))
    return conftest_sign_in(page, role)


def shoot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SHOTS / f"{name}.png", full_page=True)


def report_case(base_url: str, engine, sector: str) -> list[str]:
    """Report a case inside `sector` as a patrol; returns the workers it was dispatched to."""
    with engine.connect() as conn:
        lon, lat = conn.execute(
            text(
                "SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_PointOnSurface(geom) AS p FROM units "
                "WHERE code = :c AND valid_to IS NULL) s"
            ),
            {"c": sector},
        ).one()
    response = httpx.post(
        f"{base_url}/api/incidents",
        json={
            "lon": lon,
            "lat": lat,
            "category": "sanitation",
            "observed_at": (datetime.now(UTC) - timedelta(minutes=1)).isoformat(),
        },
        headers={"Authorization": f"Bearer {TOKENS['patrol']}"},
        timeout=30,
    )
    assert response.status_code == 201, response.text
    return [w["id"] for w in response.json()["assigned_to"] or []]


def test_an_admin_adds_assigns_and_retires_a_grid_worker_on_a_phone(admin_site, fresh_engine):
    with fresh_engine.connect() as conn:
        sector = conn.execute(
            text(
                "SELECT min(code) FROM units WHERE level = 'sector' AND valid_to IS NULL "
                "AND code NOT IN (SELECT serves_code FROM resources WHERE kind = 'grid_worker' "
                "AND serves_code IS NOT NULL)"
            )
        ).scalar_one()
    assert sector, "the seed leaves one sector without a grid worker"
    page = sign_in(admin_site, PHONE)
    page.click('[data-link="admin.people"]')
    page.wait_for_url("**/admin/people")
    assert page.text_content("h1") == "人员与组织"
    assert page.get_attribute('nav.tabs [aria-current="page"]', "data-kind") == "grid_worker"
    shoot(page, "people_phone_before")

    page.fill("#add-person [name=name_zh]", "张新网格")
    page.fill("#add-person [name=phone]", "13912345678")
    page.select_option("#add-serves", sector)
    page.click("#add-person button[type=submit]")
    page.wait_for_selector("#admin-status.ok")
    assert page.text_content("#admin-status") == "已保存。"
    record = page.locator("#people li.record", has_text="张新网格")
    worker = record.get_attribute("data-id")
    assert record.get_attribute("data-serves") == sector
    row = page.locator(f'#sectors tr[data-code="{sector}"]')
    assert row.locator(f'.workers [data-id="{worker}"]').count() == 1
    assert row.get_attribute("data-team") == worker
    shoot(page, "people_phone_added")
    assert report_case(admin_site.base_url, fresh_engine, sector) == [worker]

    record.locator("summary").click()
    record.locator("form.retire [name=reason]").fill("调离")
    page.once("dialog", lambda dialog: dialog.accept())
    record.locator("form.retire button[type=submit]").click()
    page.wait_for_selector("#admin-status.ok")
    assert page.locator(f'#people li[data-id="{worker}"]').count() == 0
    assert page.locator(f'#retired li[data-id="{worker}"]').count() == 1
    row = page.locator(f'#sectors tr[data-code="{sector}"]')
    assert row.locator(f'[data-id="{worker}"]').count() == 0
    assert worker not in (row.get_attribute("data-team") or "").split()
    assert row.locator(".fallback").count() == 1  # back to the level-2 grid's workers
    assert worker not in report_case(admin_site.base_url, fresh_engine, sector)
    with fresh_engine.connect() as conn:
        actions = conn.execute(
            text("SELECT action FROM audit_log WHERE target = :w ORDER BY id"), {"w": worker}
        ).scalars()
        assert list(actions) == ["person_add", "person_retire"]
    page.locator("#retired summary").click()
    shoot(page, "people_phone_retired")
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    assert page.problems == []


def test_an_admin_adds_and_retires_a_category_and_sees_a_refusal(admin_site):
    page = sign_in(admin_site, PHONE)
    page.click('[data-link="admin.categories"]')
    page.wait_for_url("**/admin/categories")
    form = page.locator("#add-category")
    form.locator("[name=code]").fill("noise")
    form.locator("[name=name_zh]").fill("噪声扰民")
    form.locator("[name=name_en]").fill("noise nuisance")
    form.locator("[name=dispatch_minutes]").fill("60")
    form.locator("[name=close_working_days]").fill("2")
    form.locator("button[type=submit]").click()
    page.wait_for_selector("#admin-status.ok")
    card = page.locator('#categories li[data-code="noise"]')
    assert card.locator(".limit").text_content().strip() == "派遣 60 分钟，办结 2 个工作日"
    shoot(page, "categories_phone_added")

    # a taken code: refused, the field marked, nothing added
    form = page.locator("#add-category")
    form.locator("[name=code]").fill("sanitation")
    form.locator("[name=name_zh]").fill("又一个")
    form.locator("[name=name_en]").fill("another")
    form.locator("[name=dispatch_minutes]").fill("60")
    form.locator("[name=close_working_days]").fill("1")
    form.locator("button[type=submit]").click()
    page.wait_for_selector("#admin-status.error")
    assert "sanitation" in page.text_content("#admin-status")
    assert form.locator("[name=code]").get_attribute("aria-invalid") == "true"
    shoot(page, "categories_phone_refused")

    card.locator("summary").click()
    page.once("dialog", lambda dialog: dialog.accept())
    card.locator("form.retire button[type=submit]").click()
    page.wait_for_selector("#admin-status.ok")
    assert page.locator('#categories li[data-code="noise"]').count() == 0
    assert page.locator('#retired li[data-code="noise"]').count() == 1
    reportable = httpx.get(
        f"{admin_site.base_url}/api/categories",
        headers={"Authorization": f"Bearer {TOKENS['patrol']}"},
    ).json()
    assert "noise" not in [c["code"] for c in reportable]
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    assert page.problems == []


def test_the_admin_screens_on_a_desktop_in_english_and_360_pixels_wide(admin_site):
    page = sign_in(admin_site, DESKTOP)
    page.goto("/admin/people?kind=stationed_officer")
    shoot(page, "people_desktop_officers")
    page.click("#lang-switch")
    page.wait_for_url("**lang=en")
    assert page.text_content("h1") == "People and organisations"
    assert page.text_content('nav.tabs [aria-current="page"]').strip() == "stationed officers"
    shoot(page, "people_desktop_en")
    page.goto("/admin/categories")
    assert page.text_content("h1") == "Incident categories"
    assert "dispatch within 30 min" in page.text_content("#categories")
    shoot(page, "categories_desktop_en")
    assert page.problems == []

    narrow = sign_in(admin_site, {"width": 360, "height": 740})
    for kind in ("grid_worker", "stationed_officer", "party_branch", "cobuilding_unit"):
        narrow.goto(f"/admin/people?kind={kind}")
        assert narrow.locator("#people li.record").count() > 0, kind
        assert narrow.evaluate("document.documentElement.scrollWidth") <= 360, kind
    narrow.goto("/admin/categories")
    assert narrow.evaluate("document.documentElement.scrollWidth") <= 360
    assert narrow.problems == []

    official = sign_in(admin_site, DESKTOP, "official")
    assert official.locator('[data-link^="admin."]').count() == 0
    refused = official.goto("/admin/people")
    assert refused.status == 403 and "领导干部" in official.text_content("main")

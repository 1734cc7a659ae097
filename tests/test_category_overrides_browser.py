"""The categories page of a sub-district's admin in a real browser (Debian's Chromium at
390 px, the network beyond 127.0.0.1 blocked, `gridmap serve` on a private copy of the
district): the admin shortens a limit, sees it saved for their sub-district with the default
beside it, switches to English, and goes back to the default. Screenshots go to
test-artifacts/category_overrides/.
"""

from __future__ import annotations

from sqlalchemy import text

from tests.conftest import ARTIFACTS
from tests.conftest import sign_in as conftest_sign_in
from tests.test_admin_browser import admin_site  # noqa: F401 (the fixture: served offline)

SHOTS = ARTIFACTS / "category_overrides"
PHONE = {"width": 390, "height": 844}


def shoot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SHOTS / f"{name}.png", full_page=True)


def test_an_admin_changes_a_limit_for_their_sub_district_on_a_phone(
    admin_site,  # noqa: F811 (the fixture imported above)
    fresh_engine,
):
    context = admin_site.context(viewport=PHONE, has_touch=True)
    page = context.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(str(error)))
    conftest_sign_in(page, "admin", "/admin/categories")
    assert page.text_content("h1") == "事件类别"
    assert "只对本街道生效" in page.text_content("#categories-scope")
    card = page.locator('#categories li[data-code="sanitation"]')
    card.locator("summary").click()
    form = card.locator("form.edit")
    form.locator('input[name="close_working_days"]').fill("")
    form.locator('input[name="close_minutes"]').fill("240")
    form.locator("button[type=submit]").click()
    page.wait_for_selector("#admin-status.ok")
    assert page.text_content("#admin-status") == "已保存。"
    card = page.locator('#categories li[data-code="sanitation"]')
    assert "本街道设置" in card.text_content()
    assert "办结 240 分钟" in card.locator(".limit").text_content()
    assert "默认：派遣 120 分钟，办结 1 个工作日" in card.locator(".default-values").text_content()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    card.locator("summary").click()
    shoot(page, "categories_phone_own_setting")
    with fresh_engine.connect() as conn:
        row = conn.execute(
            text(
                "SELECT close_minutes, close_working_days FROM category_overrides "
                "WHERE code = 'sanitation'"
            )
        ).one()
        default = conn.execute(
            text("SELECT close_working_days FROM incident_categories WHERE code = 'sanitation'")
        ).scalar_one()
    assert tuple(row) == (240, None) and default == 1

    page.click("#lang-switch")
    page.wait_for_url("**lang=en")
    assert page.text_content("h1") == "Incident categories"
    card = page.locator('#categories li[data-code="sanitation"]')
    assert "own setting" in card.text_content()
    assert "Default: dispatch within 120 min, close within 1 working day" in card.text_content()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    shoot(page, "categories_phone_own_setting_en")

    page.on("dialog", lambda dialog: dialog.accept())
    card.locator("summary").click()
    card.locator("form.reset button[type=submit]").click()
    page.wait_for_selector("#admin-status.ok")
    card = page.locator('#categories li[data-code="sanitation"]')
    assert "own setting" not in card.text_content()
    assert card.locator(".default-values").count() == 0
    with fresh_engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM category_overrides")).scalar_one() == 0
    assert problems == []

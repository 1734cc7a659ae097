"""The evaluation page in Debian's Chromium, offline: change the period, drill down from a
community to a sector's cases, charts drawn; at 390 px and on a desktop."""

from __future__ import annotations

import httpx

from tests.conftest import ARTIFACTS, TOKENS
from tests.conftest import sign_in as conftest_sign_in

SHOTS = ARTIFACTS / "web"
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}


def sign_in(offline_browser, role: str, viewport: dict):
    """A browser context signed in as `role` through /login with name and password;
    `page.problems` collects script errors and failures."""
    context = offline_browser.context(viewport=viewport)
    page = context.new_page()
    page.problems = []
    page.on("pageerror", lambda error: page.problems.append(f"script error: {error}"))
    page.on("response", lambda r: r.status >= 400 and page.problems.append(f"{r.status} {r.url}"))
    return conftest_sign_in(page, role)


def _rows(page) -> list[str]:
    return page.eval_on_selector_all(
        "#evaluation tbody tr", "rows => rows.map(r => r.dataset.code)"
    )


def _api(live_url: str, **params) -> dict:
    return httpx.get(
        f"{live_url}/api/evaluation",
        params=params,
        headers={"Authorization": f"Bearer {TOKENS['official']}"},
    ).json()


def test_an_official_changes_the_period_and_drills_down_to_a_sectors_cases(
    offline_browser, live_url
):
    page = sign_in(offline_browser, "official", DESKTOP)
    page.goto("/evaluation?since=2026-10-01&until=2026-10-31")
    page.wait_for_selector("#status[data-since='2026-10-01']")
    october = _api(live_url, level="community", since="2026-10-01", until="2026-10-31")
    assert sorted(_rows(page)) == sorted(r["code"] for r in october["rows"])
    first = page.text_content("#evaluation tbody tr:first-child td:nth-of-type(1)")
    best = max(october["rows"], key=lambda r: r["score"] or -1)
    assert first == str(best["filed"])  # sorted by score, best first

    # another period: September
    page.fill("#since", "2026-09-01")
    page.fill("#until", "2026-09-30")
    page.click("#period button[type=submit]")
    page.wait_for_selector("#status[data-since='2026-09-01']")
    september = _api(live_url, level="community", since="2026-09-01", until="2026-09-30")
    shown = page.eval_on_selector_all(
        "#evaluation tbody tr",
        "rows => rows.map(r => [r.dataset.code, r.querySelector('td').textContent])",
    )
    assert {c: int(n) for c, n in shown} == {r["code"]: r["filed"] for r in september["rows"]}
    for chart in ("chart-trend", "chart-in-time", "chart-rank"):
        page.wait_for_selector(f"#{chart} canvas")
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SHOTS / "evaluation-desktop.png", full_page=True)

    # drill down: community → level-2 grid → sector → its cases
    community = max(september["rows"], key=lambda r: r["filed"])
    page.click(f"#evaluation tbody tr[data-code='{community['code']}'] a")
    grids = _api(
        live_url, level="grid2", parent=community["code"], since="2026-09-01", until="2026-09-30"
    )
    page.wait_for_function(
        "n => document.querySelectorAll('#evaluation tbody tr').length === n",
        arg=len(grids["rows"]),
    )
    assert sorted(_rows(page)) == sorted(r["code"] for r in grids["rows"])
    grid = max(grids["rows"], key=lambda r: r["filed"])
    page.click(f"#evaluation tbody tr[data-code='{grid['code']}'] a")
    sectors = _api(
        live_url, level="sector", parent=grid["code"], since="2026-09-01", until="2026-09-30"
    )
    page.wait_for_function(
        "codes => [...document.querySelectorAll('#evaluation tbody tr')]"
        ".map(r => r.dataset.code).sort().join() === codes",
        arg=",".join(sorted(r["code"] for r in sectors["rows"])),
    )
    sector = max(sectors["rows"], key=lambda r: r["filed"])
    page.click(f"#evaluation tbody tr[data-code='{sector['code']}'] a")
    page.wait_for_selector("#cases-section:not([hidden]) tr[data-case]")
    cases = page.eval_on_selector_all("#cases tr[data-case]", "rows => rows.length")
    assert cases == sector["filed"] + sector["voided"]
    assert page.get_attribute("#cases tr[data-case] a", "href").startswith("/cases/")
    assert len(page.query_selector_all("#crumbs a")) == 4  # all, community, grid, sector
    page.screenshot(path=SHOTS / "evaluation-drilled-desktop.png", full_page=True)
    assert page.problems == []


def test_the_evaluation_page_fits_a_phone(offline_browser):
    page = sign_in(offline_browser, "official", PHONE)
    page.goto("/evaluation?since=2026-10-01&until=2026-10-31&level=grid2")
    page.wait_for_selector("#status[data-since='2026-10-01']")
    page.wait_for_selector("#chart-rank canvas")
    assert len(_rows(page)) == 12
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, "the page scrolls sideways (only the table may)"
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SHOTS / "evaluation-phone.png", full_page=True)
    assert page.problems == []


def test_the_monthly_report_reads_on_a_phone_and_a_desktop(offline_browser):
    for name, viewport in (("phone", PHONE), ("desktop", DESKTOP)):
        page = sign_in(offline_browser, "official", viewport)
        page.goto("/reports/monthly?month=2026-10")
        assert "2026年10月月度分析报告" in page.text_content("h1")
        assert page.query_selector("#headline tr[data-figure='filed']")
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= viewport["width"], "the report scrolls sideways (only tables may)"
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=SHOTS / f"monthly-report-{name}.png", full_page=True)
        assert page.problems == []

"""The case loop in a phone's browser (390 × 844, Debian's Chromium, the network beyond
127.0.0.1 blocked): a patrol reports a case with a tapped location and a photo carrying
EXIF GPS tags → it is first in the assigned worker's "my cases" → the worker accepts it,
then resolves it with an after-photo → a supervisor verifies it on /desk. The stored
photos carry no EXIF; the history names each step's actor. Screenshots go to docs/."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image
from sqlalchemy import create_engine, text

from tests.conftest import OfflineBrowser, serve
from tests.conftest import sign_in as conftest_sign_in
from tests.incident_support import inside, worker_sector
from tests.test_photos import jpeg_with_gps

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}
DOCS = Path(__file__).resolve().parent.parent / "docs" / "screenshots"


def shoot(page, name: str) -> None:
    DOCS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=DOCS / f"{name}.png", full_page=True)


def sign_in(offline: OfflineBrowser, role: str, viewport: dict = PHONE):
    """A context signed in as `role` through the /login form with name and password;
    script errors are collected."""
    context = offline.context(viewport=viewport, has_touch=viewport is PHONE)
    page = context.new_page()
    page.problems = []
    page.on("pageerror", lambda error: page.problems.append(f"script error: {error}"))
    page.on("response", lambda r: r.status >= 400 and page.problems.append(f"{r.status} {r.url}"))
    return conftest_sign_in(page, role)


def tap_map(page, map_id: str, lon: float, lat: float) -> None:
    """Tap the map where (lon, lat) is, as a finger would."""
    page.locator(f"#{map_id} path").first.wait_for()  # the sectors are drawn
    x, y = page.evaluate(
        """([id, lon, lat]) => {
            const el = document.getElementById(id), map = el.gridmapMap;
            map.setView([lat, lon], 16, {animate: false});
            const p = map.latLngToContainerPoint([lat, lon]), box = el.getBoundingClientRect();
            return [box.left + p.x, box.top + p.y];
        }""",
        [map_id, lon, lat],
    )
    page.mouse.click(x, y)


def close_seeded_cases(engine, keep: int = 12) -> None:
    """Close the worker's earlier cases (the seeded history, all long overdue), so that a
    new report's place in their list is what a test looks at, and all but `keep` of the
    others, so that the command centre's first page (overdue first) holds the new ones."""
    sector = worker_sector(engine)
    with engine.begin() as conn:
        conn.execute(
            text(
                "UPDATE incidents SET status = 'verified', closed_at = now() "
                "WHERE status NOT IN ('verified', 'rejected', 'duplicate') "
                "AND (sector_code = :s OR 'W001' = ANY(assigned_to) OR id NOT IN ("
                " SELECT id FROM incidents WHERE status NOT IN ('verified', 'rejected', "
                " 'duplicate') AND sector_code <> :s AND NOT EXISTS (SELECT 1 FROM resources r"
                " WHERE r.id = ANY(assigned_to) AND r.serves_code = :s)"
                " ORDER BY due_at, id LIMIT :keep))"
            ),
            {"s": sector, "keep": keep},
        )


@pytest.fixture
def desk_site(fresh_url, browser, tmp_path, monkeypatch):
    """The service on a private database and photo store, and an offline browser on it;
    the seeded open cases closed but a few (`close_seeded_cases`)."""
    monkeypatch.setenv("GRIDMAP_HOME", str(tmp_path))
    engine = create_engine(fresh_url)
    close_seeded_cases(engine)
    with serve(fresh_url) as url:
        offline = OfflineBrowser(browser, url)
        yield offline, engine, tmp_path
        offline.close()
        assert offline.outside_requests == [], "a page tried to reach beyond 127.0.0.1"
    engine.dispose()


def test_report_accept_resolve_verify_in_the_browser(desk_site):
    offline, engine, home = desk_site
    lon, lat = inside(engine, worker_sector(engine))

    # a patrol reports: a tapped place, a category, a description, a photo with GPS tags
    patrol = sign_in(offline, "patrol")
    patrol.click('[data-link="cases.report_nav"]')
    patrol.wait_for_url("**/cases/new")
    patrol.wait_for_selector("body[data-ready]")
    tap_map(patrol, "report-map", lon, lat)
    assert abs(float(patrol.input_value("#lon")) - lon) < 1e-4
    assert abs(float(patrol.input_value("#lat")) - lat) < 1e-4
    patrol.select_option("#category", "sanitation")
    patrol.fill("#description", "楼道口垃圾堆放")
    patrol.set_input_files(
        "#photos", files=[{"name": "site.jpg", "mimeType": "image/jpeg", "buffer": jpeg_with_gps()}]
    )
    patrol.wait_for_selector("#duplicates:not([hidden])")
    # the picker speaks the page's language, not the browser's ("Choose File")
    assert patrol.locator("label.file-pick[for='photos']").text_content() == "选择照片"
    assert patrol.locator(".file-chosen[data-for='photos']").text_content() == "site.jpg"
    shoot(patrol, "case-new-390")
    patrol.click("#submit-report")
    patrol.wait_for_url("**/cases/I*")
    case_id = patrol.url.rsplit("/", 1)[-1].split("?")[0]
    assert patrol.locator("#photos img").count() == 1
    assert patrol.problems == []

    # first in the assigned worker's "my cases", reached from the home page's count
    worker = sign_in(offline, "grid_worker")
    worker.click("#own-cases-link")
    worker.wait_for_url("**/cases")
    first = worker.locator("#case-list li").first
    assert first.get_attribute("data-id") == case_id
    assert worker.locator("#case-list .countdown").first.text_content().strip()
    shoot(worker, "cases-390")
    first.locator("a").click()
    worker.wait_for_url(f"**/cases/{case_id}")
    worker.wait_for_selector("body[data-ready]")
    assert worker.locator("[data-move='duplicate']").count() == 1
    assert worker.locator("[data-move='verified']").count() == 0  # not offered: not theirs
    worker.click("[data-move='in_progress']")
    worker.wait_for_selector("#case-state[data-state='in_progress']")
    worker.wait_for_selector("body[data-ready]")
    after = io.BytesIO()
    Image.new("RGB", (640, 480), (40, 160, 60)).save(after, "JPEG")
    worker.set_input_files(
        "#after-photo",
        files=[{"name": "after.jpg", "mimeType": "image/jpeg", "buffer": after.getvalue()}],
    )
    worker.fill("#action-note", "已清运")
    worker.click("[data-move='resolved']")
    worker.wait_for_selector("#case-state[data-state='resolved']")
    worker.wait_for_selector("body[data-ready]")
    assert worker.locator("#photos img").count() == 2
    assert worker.locator("#case-map .leaflet-marker-icon").count() == 1
    for img in worker.locator("#photos img").all():
        assert img.evaluate("i => i.decode().then(() => i.naturalWidth)") > 0
    shoot(worker, "case-390")
    assert worker.problems == []

    # a supervisor verifies it on the command centre
    desk = sign_in(offline, "supervisor")
    desk.goto("/desk")
    desk.wait_for_selector("body[data-ready]")
    row = desk.locator(f"#desk-list li[data-id='{case_id}']")
    assert row.get_attribute("data-state") == "resolved"
    shoot(desk, "desk-390")
    # cases two days and more overdue read in days alone ("已超期 743天"), easier to scan
    waits = [c.strip() for c in desk.locator("#desk-list .countdown").all_text_contents()]
    long_overdue = [w for w in waits if "天" in w]
    assert long_overdue, waits
    assert all("小时" not in w and "分" not in w for w in long_overdue), long_overdue
    row.locator("[data-move='verified']").click()
    desk.wait_for_load_state("load")
    row.wait_for(state="detached", timeout=15000)
    assert desk.problems == []
    wide = sign_in(offline, "supervisor", DESKTOP)
    wide.goto("/desk")
    wide.wait_for_timeout(500)
    shoot(wide, "desk-desktop")

    # the history names each step's actor; the stored photos carry no EXIF
    with engine.connect() as conn:
        steps = conn.execute(
            text(
                "SELECT kind, to_status, actor FROM incident_events WHERE incident_id = :id "
                "ORDER BY at, id"
            ),
            {"id": case_id},
        ).all()
        stages = (
            conn.execute(
                text("SELECT stage FROM incident_photos WHERE incident_id = :id ORDER BY id"),
                {"id": case_id},
            )
            .scalars()
            .all()
        )
    assert [(s.kind, s.to_status, s.actor) for s in steps] == [
        ("report", "reported", "patrol:test patrol"),
        ("dispatch", "dispatched", "system"),
        ("transition", "in_progress", "grid_worker:test grid_worker"),
        ("transition", "resolved", "grid_worker:test grid_worker"),
        ("transition", "verified", "supervisor:test supervisor"),
    ]
    assert stages == ["report", "after"]
    stored = [p for p in (home / "photos").rglob("*") if p.is_file()]
    assert len(stored) == 4  # two photos, two thumbnails
    for path in stored:
        assert not Image.open(path).getexif(), f"{path.name} carries EXIF"

"""Bad input on the case desk's pages, in a phone's browser (390 × 844, Debian's Chromium,
the network beyond 127.0.0.1 blocked): a case that moved on in another session (409) is
said in the page's language and the page shows the case as it is now; a place outside the
district says how far and offers the map again; a photo that is not an image or is too
large is refused with the server's message. Each time nothing is written."""

from __future__ import annotations

import io
import os
from pathlib import Path

import httpx
import pytest
from PIL import Image
from sqlalchemy import create_engine, text

from geo.publish.messages import message
from tests.conftest import TOKENS, OfflineBrowser, serve
from tests.conftest import sign_in as conftest_sign_in
from tests.incident_support import inside, offset, report_body, worker_sector
from tests.test_casedesk_browser import PHONE, close_seeded_cases, tap_map

#: the server's photo limit in these tests: a noisy PNG of 400 × 400 is above it
PHOTO_MAX_BYTES = 300_000


@pytest.fixture
def site(fresh_url, browser, tmp_path, monkeypatch):
    """The service on a private database and photo store (photos up to 300 kB), the
    seeded open cases closed but a few, an offline browser on it, and an engine on it."""
    monkeypatch.setenv("GRIDMAP_HOME", str(tmp_path))
    monkeypatch.setenv("GRIDMAP_PHOTO_MAX_BYTES", str(PHOTO_MAX_BYTES))
    engine = create_engine(fresh_url)
    close_seeded_cases(engine)
    with serve(fresh_url) as url:
        offline = OfflineBrowser(browser, url)
        yield offline, engine, url, tmp_path
        offline.close()
        assert offline.outside_requests == [], "a page tried to reach beyond 127.0.0.1"
    engine.dispose()


def phone(offline: OfflineBrowser, role: str, next_path: str = "/"):
    """A phone-sized page signed in as `role`; script errors are collected."""
    page = offline.context(viewport=PHONE, has_touch=True).new_page()
    page.problems = []
    page.on("pageerror", lambda error: page.problems.append(f"script error: {error}"))
    return conftest_sign_in(page, role, next_path)


def api(url: str, role: str, method: str, path: str, **kwargs) -> httpx.Response:
    """Another session: the service's API with the test token of `role`."""
    headers = {"Authorization": f"Bearer {TOKENS[role]}"}
    return httpx.request(method, url + path, headers=headers, timeout=60, **kwargs)


def move(url: str, role: str, case_id: str, to: str) -> None:
    """Another session of `role` moves the case to `to`."""
    moved = api(url, role, "POST", f"/api/incidents/{case_id}/transitions", json={"to": to})
    assert moved.status_code == 200, moved.text


def written(engine) -> tuple[int, int, int]:
    """(incidents, events, photos): what a refused action must leave as it was."""
    with engine.connect() as conn:
        return tuple(
            conn.execute(text(f"SELECT count(*) FROM {table}")).scalar()
            for table in ("incidents", "incident_events", "incident_photos")
        )


def stored_files(home: Path) -> list[Path]:
    return [p for p in (home / "photos").rglob("*") if p.is_file()]


def noisy_png(side: int = 400) -> bytes:
    """A PNG that does not compress: above PHOTO_MAX_BYTES."""
    out = io.BytesIO()
    Image.frombytes("RGB", (side, side), os.urandom(side * side * 3)).save(out, "PNG")
    assert len(out.getvalue()) > PHOTO_MAX_BYTES
    return out.getvalue()


def test_a_case_that_moved_on_is_said_in_the_pages_language_and_reloaded(site):
    offline, engine, url, _ = site
    filed = api(
        url,
        "patrol",
        "POST",
        "/api/incidents",
        json=report_body(*inside(engine, worker_sector(engine))),
    )
    assert filed.status_code == 201, filed.text
    case_id = filed.json()["id"]

    # the worker opens the case; meanwhile another session of theirs accepts it
    worker = phone(offline, "grid_worker", f"/cases/{case_id}")
    worker.wait_for_selector("body[data-ready]")
    assert worker.get_attribute("#case-state", "data-state") == "dispatched"
    move(url, "grid_worker", case_id, "in_progress")
    before = written(engine)
    with worker.expect_response(lambda r: r.url.endswith("/transitions")) as refused:
        worker.click("[data-move='in_progress']")
    assert refused.value.status == 409
    worker.wait_for_selector("#case-state[data-state='in_progress']")  # reloaded, as it is now
    said = worker.locator("#case-message[data-stale]")
    said.wait_for()
    assert said.text_content() == message("case.stale", "zh")
    assert worker.locator("[data-move='resolved']").count() == 1  # what may be done now
    assert written(engine) == before
    assert worker.problems == []

    # in English on the command centre: the case was resolved, then verified in another session
    move(url, "grid_worker", case_id, "resolved")
    desk = phone(offline, "supervisor", "/desk?lang=en")
    desk.wait_for_selector("body[data-ready]")
    row = desk.locator(f"#desk-list li[data-id='{case_id}']")
    assert row.get_attribute("data-state") == "resolved"
    move(url, "supervisor", case_id, "verified")
    before = written(engine)
    with desk.expect_response(lambda r: r.url.endswith("/transitions")) as refused:
        row.locator("[data-move='verified']").click()
    assert refused.value.status == 409
    said = desk.locator("#case-message[data-stale]")
    said.wait_for()
    assert said.text_content() == message("case.stale", "en")
    assert desk.locator(f"#desk-list li[data-id='{case_id}']").count() == 0  # closed: gone
    assert written(engine) == before
    assert desk.problems == []


def test_a_place_outside_the_district_says_how_far_and_offers_the_map(site):
    offline, engine, _, _ = site
    with engine.connect() as conn:
        east, middle = conn.execute(
            text(
                "SELECT ST_XMax(e), ST_Y(ST_Centroid(e)) FROM (SELECT ST_Extent(geom)::geometry "
                "AS e FROM units WHERE level = 'sector' AND valid_to IS NULL) q"
            )
        ).one()
    lon, lat = offset(east, middle, 700)  # at least 700 m east of the easternmost sector
    patrol = phone(offline, "patrol", "/cases/new")
    patrol.wait_for_selector("body[data-ready]")
    tap_map(patrol, "report-map", lon, lat)
    patrol.select_option("#category", "sanitation")
    patrol.fill("#description", "路边垃圾")
    before = written(engine)
    with patrol.expect_response(lambda r: r.url.endswith("/api/incidents")) as refused:
        patrol.click("#submit-report")
    assert refused.value.status == 422
    metres = refused.value.json()["distance_m"]
    assert metres >= 690
    said = patrol.locator("#report-message")
    said.wait_for()
    shown = f"{round(metres):,}"
    assert said.text_content() == message("cases.new.outside", "zh", m=shown)
    assert written(engine) == before
    patrol.screenshot(
        path=Path(__file__).resolve().parent.parent
        / "docs"
        / "screenshots"
        / "case-new-outside-390.png",
        full_page=True,
    )

    # the map again, to tap a place inside, and the report goes through
    patrol.click("#back-to-map")
    box = patrol.locator("#report-map").bounding_box()
    assert 0 <= box["y"] < PHONE["height"] and box["y"] + box["height"] > 0  # in view
    tap_map(patrol, "report-map", *inside(engine, worker_sector(engine)))
    patrol.click("#submit-report")
    patrol.wait_for_url("**/cases/I*")
    assert written(engine)[0] == before[0] + 1
    assert patrol.problems == []


def test_a_photo_that_is_not_an_image_or_too_large_is_refused_with_the_servers_message(site):
    offline, engine, url, home = site
    place = inside(engine, worker_sector(engine))

    # the report page checks its photos before filing: a text file named .jpg files nothing
    patrol = phone(offline, "patrol", "/cases/new")
    patrol.wait_for_selector("body[data-ready]")
    tap_map(patrol, "report-map", *place)
    patrol.set_input_files(
        "#photos",
        files=[{"name": "notes.jpg", "mimeType": "image/jpeg", "buffer": b"not a photo at all"}],
    )
    before = written(engine)
    with patrol.expect_response(lambda r: r.url.endswith("/api/photos/check")) as refused:
        patrol.click("#submit-report")
    assert refused.value.status == 422 and refused.value.json()["problem"] == "not_image"
    said = patrol.locator("#report-message")
    said.wait_for()
    reason = "notes.jpg: " + message("case.problem.not_image", "zh")
    assert said.text_content() == message("cases.new.photo_failed", "zh", reason=reason)
    assert written(engine) == before and stored_files(home) == []

    # resolving with an after-photo above the server's limit: refused, the case stays open
    filed = api(url, "patrol", "POST", "/api/incidents", json=report_body(*place))
    case_id = filed.json()["id"]
    move(url, "grid_worker", case_id, "in_progress")
    worker = phone(offline, "grid_worker", f"/cases/{case_id}?lang=en")
    worker.wait_for_selector("body[data-ready]")
    big = noisy_png()
    worker.set_input_files(
        "#after-photo", files=[{"name": "after.png", "mimeType": "image/png", "buffer": big}]
    )
    before = written(engine)
    with worker.expect_response(lambda r: r.url.endswith("/photos")) as refused:
        worker.click("[data-move='resolved']")
    assert refused.value.status == 422 and refused.value.json()["problem"] == "too_large"
    said = worker.locator("#case-message")
    said.wait_for()
    reason = message("case.problem.too_large", "en", limit=f"{PHOTO_MAX_BYTES:,}")
    assert said.text_content() == message("case.failed", "en", reason=reason)
    assert worker.get_attribute("#case-state", "data-state") == "in_progress"
    assert written(engine) == before and stored_files(home) == []
    worker.screenshot(
        path=Path(__file__).resolve().parent.parent
        / "docs"
        / "screenshots"
        / "case-photo-refused-390.png",
        full_page=True,
    )
    assert worker.problems == []

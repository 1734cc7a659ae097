"""The field app in Debian's Chromium (390 × 844, the network beyond 127.0.0.1 blocked):
the browser reports the manifest and an active service worker; a worker offline reports a
case with a photo and accepts another, sees both waiting, and back online the server has
exactly one new case and one transition; a worker's open page shows a new dispatch's
notification within 5 seconds without reloading. Screenshots of the queue and the bell
go to docs/screenshots/."""

from __future__ import annotations

import io
import time
from pathlib import Path

import pytest
from PIL import Image
from sqlalchemy import create_engine, text

from tests.conftest import OfflineBrowser, auth, serve
from tests.conftest import sign_in as conftest_sign_in
from tests.incident_support import inside, report_body, worker_sector

PHONE = {"width": 390, "height": 844}
DOCS = Path(__file__).resolve().parent.parent / "docs" / "screenshots"


def shoot(page, name: str) -> None:
    DOCS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=DOCS / f"{name}.png", full_page=True)


@pytest.fixture
def field_site(fresh_url, browser, tmp_path, monkeypatch):
    """The service on a private database and photo store, and an offline browser on it."""
    monkeypatch.setenv("GRIDMAP_HOME", str(tmp_path))
    engine = create_engine(fresh_url)
    with serve(fresh_url) as url:
        offline = OfflineBrowser(browser, url)
        yield offline, engine, url
        offline.close()
        assert offline.outside_requests == [], "a page tried to reach beyond 127.0.0.1"
    engine.dispose()


def worker_page(offline: OfflineBrowser, path: str = "/cases"):
    context = offline.context(viewport=PHONE, has_touch=True)
    page = context.new_page()
    page.problems = []
    page.on("pageerror", lambda error: page.problems.append(f"script error: {error}"))
    conftest_sign_in(page, "grid_worker", path)
    # the service worker is installed and controls the page (first visit: it claims it)
    page.evaluate("() => navigator.serviceWorker.ready.then(() => true)")
    page.wait_for_function("() => navigator.serviceWorker.controller !== null")
    return context, page


def file_case(engine, url: str) -> str:
    import httpx

    body = report_body(*inside(engine, worker_sector(engine)))
    answer = httpx.post(f"{url}/api/incidents", json=body, headers=auth("patrol"))
    assert answer.status_code == 201, answer.text
    return answer.json()["id"]


def test_the_browser_reports_the_manifest_and_an_active_service_worker(field_site):
    offline, _engine, _url = field_site
    _context, page = worker_page(offline)
    state = page.evaluate(
        """async () => {
            const registration = await navigator.serviceWorker.ready;
            const link = document.querySelector('link[rel=manifest]');
            const manifest = await (await fetch(link.href)).json();
            const icon = await fetch(manifest.icons[1].src);
            const bitmap = await createImageBitmap(await icon.blob());
            return {state: registration.active.state, scope: registration.scope,
                    script: registration.active.scriptURL, manifest,
                    icon: [icon.headers.get('content-type'), bitmap.width, bitmap.height],
                    caches: await caches.keys()};
        }"""
    )
    assert state["state"] == "activated"
    assert state["script"].endswith("/sw.js") and state["scope"].endswith("/")
    assert state["manifest"]["name"] == "西北街网格"
    assert state["manifest"]["short_name"] == "Xibeijie Grid"
    assert state["manifest"]["display"] == "standalone"
    assert [i["sizes"] for i in state["manifest"]["icons"]] == ["192x192", "512x512"]
    assert state["icon"] == ["image/png", 512, 512]
    shell = [name for name in state["caches"] if name.startswith("gridmap-shell-")]
    assert len(shell) == 1 and shell[0].startswith("gridmap-shell-0.1.0-")
    assert page.problems == []


def test_offline_report_and_accept_wait_then_reach_the_server_once(field_site):
    offline, engine, url = field_site
    other = file_case(engine, url)  # dispatched to the worker's team: theirs to accept
    context, page = worker_page(offline)
    # read online once: the case, the report page (and the boundaries they draw)
    for path in (f"/cases/{other}", "/cases/new"):
        page.goto(path)
        page.wait_for_selector("body[data-ready]")
        page.locator(".leaflet-interactive").first.wait_for()
    with engine.connect() as conn:
        before = conn.execute(text("SELECT count(*) FROM incidents")).scalar()

    context.set_offline(True)
    page.wait_for_function("() => !navigator.onLine")
    lon, lat = inside(engine, worker_sector(engine))
    page.evaluate(
        """([lon, lat]) => {
            const map = document.getElementById('report-map').gridmapMap;
            map.fire('click', {latlng: L.latLng(lat, lon)});
        }""",
        [lon, lat],
    )
    page.select_option("#category", "sanitation")
    page.fill("#description", "地下室漏水, 无信号")
    photo = io.BytesIO()
    Image.new("RGB", (800, 600), (200, 80, 40)).save(photo, "JPEG")
    page.set_input_files(
        "#photos",
        files=[{"name": "basement.jpg", "mimeType": "image/jpeg", "buffer": photo.getvalue()}],
    )
    page.click("#submit-report")
    page.wait_for_selector("#queue-waiting li")
    assert page.locator("#report-message").text_content().strip() == "已保存在本机, 等待发送"

    page.goto(f"/cases/{other}")  # from the service worker's cache
    page.wait_for_selector("body[data-ready]")
    # its map draws from the cache too: the streets under the marker
    page.wait_for_selector("#case-map.gm-has-streets", timeout=5000)
    page.click("[data-move='in_progress']")
    page.wait_for_function("() => document.querySelectorAll('#queue-waiting li').length === 2")
    waiting = page.locator("#queue-waiting li").all_text_contents()
    assert any("上报" in w and "1 张照片" in w for w in waiting), waiting
    assert any(other in w for w in waiting), waiting
    assert "等待发送 (2)" in page.locator("#offline-queue").text_content()
    shoot(page, "offline-queue-390")
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM incidents")).scalar() == before

    context.set_offline(False)
    page.wait_for_function("() => document.body.getAttribute('data-queue') === '0'", timeout=20000)
    # a second flush (another tab, Background Sync) sends nothing again
    page.evaluate(
        "() => GridmapQueue.flush('', document.querySelector('meta[name=csrf-token]').content)"
    )
    with engine.connect() as conn:
        new = conn.execute(
            text("SELECT id, description FROM incidents WHERE id > :last ORDER BY id"),
            {"last": other},
        ).all()
        photos = conn.execute(
            text("SELECT count(*) FROM incident_photos WHERE incident_id = :id"), {"id": new[0].id}
        ).scalar()
        accepted = conn.execute(
            text(
                "SELECT count(*) FROM incident_events WHERE incident_id = :id "
                "AND kind = 'transition' AND to_status = 'in_progress'"
            ),
            {"id": other},
        ).scalar()
    assert [row.description for row in new] == ["地下室漏水, 无信号"]
    assert photos == 1 and accepted == 1
    assert page.problems == []


def test_a_workers_open_page_shows_a_new_dispatch_within_five_seconds(field_site):
    offline, engine, url = field_site
    _context, page = worker_page(offline)
    page.wait_for_function("() => document.getElementById('bell').hasAttribute('data-unread')")
    unread = int(page.get_attribute("#bell", "data-unread"))
    time.sleep(1.5)  # the stream is open
    started = time.monotonic()
    case = file_case(engine, url)
    page.wait_for_selector(
        f"#notification-list li[data-kind='dispatch'] >> text={case}",
        state="attached",
        timeout=5000,
    )
    assert time.monotonic() - started < 5
    page.wait_for_function(
        f"() => Number(document.getElementById('bell').dataset.unread) === {unread + 1}"
    )
    assert page.url.endswith("/cases")  # no reload
    page.click("#bell")
    page.wait_for_selector("#notifications:not([hidden])")
    page.wait_for_selector(f"#notification-list li.unread >> text={case}")
    shoot(page, "notifications-390")
    page.click(f"#notification-list li >> text={case}")
    page.wait_for_url(f"**/cases/{case}")
    page.wait_for_function(
        f"() => Number(document.getElementById('bell').dataset.unread) === {unread}"
    )
    assert page.problems == []


def test_an_admin_adds_a_webhook_on_its_page_and_sees_the_log(field_site):
    offline, engine, _url = field_site
    with engine.connect() as conn:
        community = conn.execute(
            text("SELECT code FROM units WHERE level = 'community' AND valid_to IS NULL LIMIT 1")
        ).scalar()
    for viewport, name in (
        (PHONE, "webhooks-390"),
        ({"width": 1280, "height": 900}, "webhooks-desktop"),
    ):
        page = offline.context(viewport=viewport).new_page()
        problems = []
        page.on("pageerror", lambda error, problems=problems: problems.append(str(error)))
        conftest_sign_in(page, "admin", "/admin/webhooks")
        page.fill("#add-webhook [name=name]", f"社区值班群 {name}")
        page.fill("#add-webhook [name=unit_code]", community)
        page.select_option("#add-webhook [name=format]", "dingtalk")
        page.fill("#add-webhook [name=url]", "https://oapi.dingtalk.com/robot/send?access_token=t")
        page.fill("#add-webhook [name=secret]", "SEC123")
        page.click("#add-webhook button[type=submit]")
        page.wait_for_selector(f"#webhooks li.record >> text=社区值班群 {name}")
        shoot(page, name)
        assert problems == []
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT format, unit_code, secret FROM webhooks")).all()
    assert sorted(rows) == [("dingtalk", community, "SEC123")] * 2

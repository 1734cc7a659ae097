"""Behind Debian's nginx, at `/` and under a sub-path: pages, redirects, static assets, map
pages and the OGC API's links all work through the proxy, with the site configuration
`gridmap deploy nginx` writes (TLS left out: the test listens on plain loopback)."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import httpx
import pytest

from geo.ops.deploy import nginx_site
from geo.ops.localdb import free_port
from tests.conftest import auth, serve, sign_in

NGINX = "/usr/sbin/nginx"


@contextlib.contextmanager
def nginx(upstream: str, root_path: str):
    """Debian's nginx in the foreground on a free loopback port, its files in a temp dir."""
    if not Path(NGINX).exists():
        pytest.fail("the deployment test needs Debian's nginx (apt-get install nginx)")
    port = free_port()
    site = nginx_site(
        server_name="127.0.0.1", upstream=upstream, root_path=root_path, listen=f"127.0.0.1:{port}"
    )
    home = Path(tempfile.mkdtemp(prefix="gridmap-nginx-"))
    temps = "\n".join(
        f"    {kind}_temp_path {home}/{kind};"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    (home / "nginx.conf").write_text(
        f"""
worker_processes 1;
pid {home}/nginx.pid;
error_log {home}/error.log warn;
{"user root root;" if os.geteuid() == 0 else ""}
events {{ worker_connections 64; }}
http {{
    include /etc/nginx/mime.types;
    access_log {home}/access.log;
{temps}
{site}
}}
"""
    )
    process = subprocess.Popen(
        [NGINX, "-p", str(home), "-c", str(home / "nginx.conf"), "-g", "daemon off;"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while True:
        try:
            urllib.request.urlopen(f"{url}{root_path}/api/health", timeout=2)
            break
        except urllib.error.HTTPError:
            break
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                raise RuntimeError(f"nginx did not start: {process.stderr.read()}") from None
            time.sleep(0.2)
    try:
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)
        shutil.rmtree(home, ignore_errors=True)


@pytest.fixture(params=["", "/gridmap"], ids=["at-root", "under-sub-path"])
def proxied(request, seeded_url, monkeypatch):
    """(base URL through nginx, root path) with the service behind it."""
    root_path = request.param
    monkeypatch.setenv("GRIDMAP_ROOT_PATH", root_path)
    with serve(seeded_url) as direct:
        upstream = direct.removeprefix("http://")
        with nginx(upstream, root_path) as url:
            yield url + root_path, root_path


def test_pages_redirects_and_assets_work_through_nginx(proxied):
    base, root = proxied
    with httpx.Client(timeout=120) as web:
        health = web.get(f"{base}/api/health")
        assert health.status_code == 200 and health.headers["x-request-id"]
        # a person opening the home page is sent to sign in, under the same prefix
        home = web.get(f"{base}/", headers={"Accept": "text/html"})
        assert home.status_code == 303
        assert home.headers["location"] == f"{root}/login?next=/"
        login = web.get(f"{base}/login")
        assert login.status_code == 200
        assets = re.findall(r'(?:href|src|action)="(/[^"/][^"]*)"', login.text)
        assert assets and all(a.startswith(f"{root}/") for a in assets), assets
        origin = base.removesuffix(root) if root else base
        css = next(a for a in assets if a.endswith(".css"))
        sheet = web.get(origin + css)
        assert sheet.status_code == 200 and "text/css" in sheet.headers["content-type"]
        # a map page: every root-relative asset carries the prefix and loads
        page = web.get(f"{base}/maps/coverage", headers=auth("official"))
        assert page.status_code == 200
        scripts = re.findall(r'<script src="(/[^"]+)"', page.text)
        assert scripts and all(s.startswith(f"{root}/static/") for s in scripts)
        assert web.get(origin + scripts[0]).status_code == 200
        if root:
            assert 'src="/static/' not in page.text


def test_the_ogc_api_links_point_through_nginx(proxied):
    base, root = proxied
    with httpx.Client(timeout=120, headers={**auth("admin"), "Accept-Encoding": "gzip"}) as gis:
        landing = gis.get(f"{base}/ogc").json()
        hrefs = [link["href"] for link in landing["links"]]
        assert all(h.startswith(f"{base}/") for h in hrefs), hrefs
        data = next(link["href"] for link in landing["links"] if link["rel"] == "data")
        sectors = next(c for c in gis.get(data).json()["collections"] if c["id"] == "sectors")
        items_href = next(
            link["href"]
            for link in sectors["links"]
            if link["rel"] == "items" and link["type"] == "application/geo+json"
        )
        assert items_href == f"{base}/ogc/collections/sectors/items"
        items = gis.get(items_href, params={"limit": 5})
        assert items.headers["content-encoding"] == "gzip"
        body = items.json()
        assert body["numberReturned"] == 5
        nxt = next(link["href"] for link in body["links"] if link["rel"] == "next")
        assert nxt.startswith(f"{base}/ogc/collections/sectors/items?")
        assert gis.get(nxt).status_code == 200
        one = body["features"][0]
        self_link = gis.get(f"{base}/ogc/collections/sectors/items/{one['id']}").json()
        assert next(x for x in self_link["links"] if x["rel"] == "self")["href"].startswith(base)
        assert gis.head(f"{base}/ogc/collections/sectors").status_code == 200


def test_the_committed_nginx_examples_are_what_the_command_writes():
    deploy = Path(__file__).resolve().parent.parent / "deploy" / "nginx"
    assert (deploy / "gridmap.conf").read_text() == nginx_site(
        server_name="grid.example.cn",
        upstream="127.0.0.1:8000",
        root_path="",
        max_body_bytes=64 * 1024 * 1024,
    )
    sub = (deploy / "gridmap-subpath.conf").read_text()
    assert "location /gridmap/ {" in sub and "client_max_body_size 67108864;" in sub


@pytest.fixture
def behind_sub_path(seeded_url, monkeypatch):
    monkeypatch.setenv("GRIDMAP_ROOT_PATH", "/gridmap")
    with serve(seeded_url) as direct:
        with nginx(direct.removeprefix("http://"), "/gridmap") as url:
            yield url


def test_the_planners_editor_loads_its_data_under_a_sub_path_in_chromium(browser, behind_sub_path):
    from tests.conftest import ARTIFACTS, OfflineBrowser

    offline = OfflineBrowser(browser, behind_sub_path)
    try:
        for name, viewport in (("390", {"width": 390, "height": 844}), ("desktop", None)):
            context = offline.context(**({"viewport": viewport} if viewport else {}))
            sign_in(context, "planner", "/maps/planner", f"{behind_sub_path}/gridmap").close()
            page = context.new_page()
            failed: list[str] = []
            page.on(
                "response",
                lambda r, failed=failed: failed.append(r.url) if r.status >= 400 else None,
            )
            page.goto(f"{behind_sub_path}/gridmap/maps/planner")
            page.wait_for_load_state("networkidle")
            page.wait_for_selector("path.leaflet-interactive", timeout=30_000)
            assert page.locator("path.leaflet-interactive").count() >= 22
            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / f"deploy-subpath-editor-{name}.png"))
            api = [u for u in offline.requested if "/api/" in u]
            assert api and all("/gridmap/api/" in u for u in api), api
            assert failed == []
    finally:
        offline.close()
    assert offline.outside_requests == []

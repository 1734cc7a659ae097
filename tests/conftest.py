"""Test set-up: a real PostGIS, always.

The session starts the project's local cluster (or uses GRIDMAP_DATABASE_URL's server),
creates a throwaway database, migrates and seeds it once with a fixed history end, and
keeps it as a template: tests that write get their own copy (`fresh_engine`), tests that
only read share `seeded_engine`. At the end the databases are dropped and a cluster this
session started is stopped.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote, urlsplit

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine, make_url

from geo.core.settings import get_settings
from geo.ops.localdb import LocalCluster, free_port

#: the seeded history ends here in every test run, so figures are reproducible
SEED_END = datetime(2026, 11, 2, 4, 0, tzinfo=UTC)


def _server_url() -> tuple[str, LocalCluster | None]:
    external = os.environ.get("GRIDMAP_DATABASE_URL")
    if external:
        return external, None
    cluster = LocalCluster.from_settings()
    return cluster.url(), cluster


@pytest.fixture(autouse=True)
def _settings_follow_the_environment() -> Iterator[None]:
    """Settings are cached; a test's `monkeypatch.setenv` is undone only after the fixtures
    that cleared the cache have been torn down, and a thread of the test's app (notification
    sender, database watch) may read the settings in between and cache the test's own, by
    then dropped, database. Requested first, this is torn down last: after every undo."""
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.fixture(scope="session")
def pg_server() -> Iterator[str]:
    """URL of a running PostGIS server (its default database)."""
    started = None
    if not os.environ.get("GRIDMAP_DATABASE_URL"):
        cluster = LocalCluster.from_settings()
        was_running = cluster.is_running()
        cluster.up()
        started = None if was_running else cluster
    url, _ = _server_url()
    yield url
    if started is not None:
        started.down()


class Databases:
    """Creates and drops throwaway databases on the test server."""

    def __init__(self, server_url: str) -> None:
        self.server = make_url(server_url)
        self.admin = create_engine(
            self.server.set(database="postgres"), isolation_level="AUTOCOMMIT"
        )
        self.created: list[str] = []

    def url(self, name: str) -> str:
        return self.server.set(database=name).render_as_string(hide_password=False)

    def create(self, template: str | None = None) -> str:
        name = f"gridmap_test_{uuid.uuid4().hex[:10]}"
        tpl = f' TEMPLATE "{template}" STRATEGY FILE_COPY' if template else ""
        with self.admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"{tpl}'))
        self.created.append(name)
        return name

    def drop(self, name: str) -> None:
        with self.admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        self.created.remove(name)

    def drop_all(self) -> None:
        with self.admin.connect() as conn:
            for name in self.created:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        self.admin.dispose()


@pytest.fixture(scope="session")
def databases(pg_server: str) -> Iterator[Databases]:
    dbs = Databases(pg_server)
    yield dbs
    dbs.drop_all()


#: one token per role, created in the template (so every copy has them): role → token
TOKENS: dict[str, str] = {}
#: the grid worker token's worker and the sector they serve
GRID_WORKER_ID = "W001"
#: one signed-in person per role, created in the template: role → login name (password below)
USERS: dict[str, str] = {}
TEST_PASSWORD = "Test-password-2026"


@pytest.fixture(scope="session")
def template_db(databases: Databases) -> str:
    """A migrated, seeded database with a token per role, the template of every other."""
    from geo.access.accounts import create_user, set_password
    from geo.access.roles import Role, create_token
    from geo.ops.migrate import upgrade
    from geo.ops.seed import seed

    name = databases.create()
    engine = create_engine(databases.url(name))
    upgrade(engine)
    seed(engine, end=SEED_END)
    with engine.begin() as conn:
        for role in Role:
            worker = GRID_WORKER_ID if role == Role.GRID_WORKER else None
            TOKENS[role.value] = create_token(conn, role, f"test {role.value}", worker_id=worker)
            login = f"test_{role.value}"
            user_id, _ = create_user(conn, login, [role.value], f"test {role.value}", worker)
            set_password(conn, user_id, TEST_PASSWORD, must_change=False)
            USERS[role.value] = login
    engine.dispose()
    return name


def auth(role: str) -> dict[str, str]:
    """The Authorization header of the test token of `role`."""
    return {"Authorization": f"Bearer {TOKENS[role]}"}


def sign_in(context_or_page, role: str, next_path: str = "/", base_url: str = ""):
    """Sign the browser in as the test user of `role` through the /login form, like a
    person; returns the page, on `next_path` (the role's home by default). `base_url` is
    needed only by a context created without one, or under a path prefix (`/gridmap`)."""
    page = context_or_page.new_page() if hasattr(context_or_page, "new_page") else context_or_page
    page.goto(f"{base_url}/login?next={quote(next_path, safe='/')}")
    page.fill("#username", USERS[role])
    page.fill("#password", TEST_PASSWORD)
    with page.expect_navigation():  # (the form's action carries the prefix, if any)
        page.click("form[action$='/login'] button[type=submit]")
    if "/login" in page.url:  # say why: the form's own message (throttled, wrong password, …)
        error = page.locator("#login-error")
        shown = error.inner_text() if error.count() else page.locator("body").inner_text()[:400]
        # on /login?next=… with no error: the next page did not see the session
        cookies = sorted(c["name"] for c in page.context.cookies())
        raise AssertionError(
            f"signing in as {role} failed: still on {page.url}: {shown!r}; cookies {cookies}"
        )
    return page


def login(client, role: str, password: str = TEST_PASSWORD):
    """Sign an HTTP test client in as the test user of `role` (the session cookie stays
    in the client); returns the /login answer."""
    return client.post(
        "/login", data={"username": USERS[role], "password": password}, follow_redirects=False
    )


def csrf_of(client, path: str = "/") -> str:
    """The CSRF token a signed-in client's page carries (`<meta name="csrf-token">`)."""
    import re

    page = client.get(path).text
    found = re.search(r'<meta name="csrf-token" content="([^"]+)"', page)
    assert found, f"no csrf-token meta tag on {path}"
    return found.group(1)


def busiest_sectors(conn) -> tuple[str, str]:
    """The two sectors holding the most incidents (a move between them changes many rows)."""
    a, b = conn.execute(
        text(
            "SELECT sector_code FROM incidents WHERE sector_code IS NOT NULL "
            "GROUP BY 1 ORDER BY count(*) DESC LIMIT 2"
        )
    ).scalars()
    return a, b


def sector_surface_points(engine: Engine, n: int):
    """WGS 84 lon/lat (an n × 2 array) of a point well inside each of the first `n` current
    sectors by code (their surface points), for rows that must land inside the district."""
    import numpy as np

    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_PointOnSurface(geom) AS p FROM units "
                "WHERE level = 'sector' AND valid_to IS NULL ORDER BY code LIMIT :n) s"
            ),
            {"n": n},
        ).all()
    return np.array(rows, dtype=float)


@pytest.fixture(scope="session")
def seeded_url(databases: Databases, template_db: str) -> Iterator[str]:
    """URL of the shared seeded database (read-only by convention); GRIDMAP_DATABASE_URL
    points at it for the whole session, so the app and the CLI use it too."""
    url = databases.url(databases.create(template=template_db))
    previous = os.environ.get("GRIDMAP_DATABASE_URL")
    os.environ["GRIDMAP_DATABASE_URL"] = url
    get_settings.cache_clear()
    yield url
    if previous is None:
        os.environ.pop("GRIDMAP_DATABASE_URL", None)
    else:
        os.environ["GRIDMAP_DATABASE_URL"] = previous
    get_settings.cache_clear()


@pytest.fixture(scope="session")
def seeded_engine(seeded_url: str) -> Iterator[Engine]:
    engine = create_engine(seeded_url)
    yield engine
    engine.dispose()


@pytest.fixture
def fresh_url(databases: Databases, template_db: str, monkeypatch) -> str:
    """A private copy of the seeded database for a test that writes; the app and CLI
    see it through GRIDMAP_DATABASE_URL."""
    name = databases.create(template=template_db)
    url = databases.url(name)
    monkeypatch.setenv("GRIDMAP_DATABASE_URL", url)
    get_settings.cache_clear()
    yield url
    get_settings.cache_clear()
    databases.drop(name)


@pytest.fixture
def fresh_engine(fresh_url: str) -> Iterator[Engine]:
    engine = create_engine(fresh_url)
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def client(seeded_url: str) -> Iterator:
    """An HTTP client of the app on the shared seeded database."""
    from fastapi.testclient import TestClient

    from api.main import create_app

    with TestClient(create_app()) as test_client:
        yield test_client


@pytest.fixture
def fresh_client(fresh_url: str) -> Iterator:
    """An HTTP client of the app on a private copy of the seeded database."""
    from fastapi.testclient import TestClient

    from api.main import create_app

    with TestClient(create_app()) as test_client:
        yield test_client


@pytest.fixture
def empty_engine(databases: Databases) -> Iterator[Engine]:
    """A new database with nothing in it (not even PostGIS)."""
    name = databases.create()
    engine = create_engine(databases.url(name))
    yield engine
    engine.dispose()
    databases.drop(name)


@contextlib.contextmanager
def serve(database_url: str):
    """`gridmap serve` on `database_url` in a subprocess on a free loopback port, with no
    basemap tiles and a private map cache; yields its base URL and stops it afterwards."""
    import subprocess
    import sys
    import tempfile
    import time
    import urllib.request

    port = free_port()
    gridmap = Path(sys.executable).parent / "gridmap"
    env = {
        **os.environ,
        "GRIDMAP_DATABASE_URL": database_url,
        "GRIDMAP_TILES": "none",
        "GRIDMAP_MAP_CACHE_DIR": tempfile.mkdtemp(prefix="gridmap-map-cache-"),
    }
    # its JSON log lines go to a file: a pipe nobody reads would fill and stall the server
    log = tempfile.TemporaryFile("w+", prefix="gridmap-serve-", suffix=".log")
    server = subprocess.Popen(
        [str(gridmap), "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=log,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            urllib.request.urlopen(f"{url}/api/health", timeout=2)
            break
        except OSError:
            if server.poll() is not None or time.monotonic() > deadline:
                server.kill()
                log.seek(0)
                raise RuntimeError(f"gridmap serve did not start: {log.read()[-2000:]}") from None
            time.sleep(0.2)
    try:
        yield url
    finally:
        server.terminate()
        server.wait(timeout=20)
        log.close()


@pytest.fixture(scope="session")
def live_url(seeded_url: str) -> Iterator[str]:
    """`gridmap serve` in its own process on a free loopback port, on the shared seeded
    database, for real HTTP clients (GDAL, OWSLib, a browser). A separate process, because
    GDAL holds the GIL while it reads and would starve an in-process server."""
    with serve(seeded_url) as url:
        yield url


#: Debian's Chromium (the browser tests never download one), and how the tests run it
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
#: screenshots and downloads of the browser tests (git-ignored)
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"


@pytest.fixture(scope="session")
def browser() -> Iterator:
    """Debian's Chromium driven by Playwright, headless, with a fresh profile of its own."""
    if not Path(CHROMIUM).exists():
        pytest.fail(
            f"the browser tests need Debian's Chromium at {CHROMIUM}: `make test` installs it "
            "when run as root, or run `apt-get install chromium chromium-driver`"
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
        )
        yield launched
        launched.close()


def _loopback(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme in ("data", "blob", "about") or parts.hostname == "127.0.0.1"


class OfflineBrowser:
    """Browser contexts on the live service that reach nothing but 127.0.0.1: every other
    request is aborted and remembered in `outside_requests`."""

    def __init__(self, browser, base_url: str) -> None:
        self.browser, self.base_url = browser, base_url
        self.requested: list[str] = []
        self.contexts: list = []

    def context(self, **options):
        """A new context (its own cookies), e.g. `context(viewport={"width": 360, ...})`."""
        context = self.browser.new_context(base_url=self.base_url, **options)
        context.on("request", lambda request: self.requested.append(request.url))
        context.route(
            "**/*",
            lambda route: route.continue_() if _loopback(route.request.url) else route.abort(),
        )
        self.contexts.append(context)
        return context

    @property
    def outside_requests(self) -> list[str]:
        return [url for url in self.requested if not _loopback(url)]

    def close(self) -> None:
        for context in self.contexts:
            context.close()


@pytest.fixture
def offline_browser(browser, live_url: str) -> Iterator[OfflineBrowser]:
    """Contexts of the browser on `live_url` with the network beyond 127.0.0.1 blocked; the
    test fails if any request even tried to leave."""
    offline = OfflineBrowser(browser, live_url)
    yield offline
    offline.close()
    assert offline.outside_requests == [], "a page tried to reach beyond 127.0.0.1"

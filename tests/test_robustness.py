"""Robustness (issue 15, items 9-15): bounded import reports, decompression limits, 413 for
streamed bodies, NUL bytes and huge numbers at the edge, a last-resort handler, the database
down or frozen, the API documentation served locally and the OpenAPI document telling the
truth about errors."""

from __future__ import annotations

import contextlib
import http.client
import io
import json
import socket
import threading
import time
import zipfile
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from openpyxl import Workbook
from sqlalchemy import text
from sqlalchemy.engine import make_url

from api.main import create_app
from geo.core.settings import get_settings
from geo.ops.localdb import free_port
from tests.conftest import auth

PROBLEM = "application/problem+json"


@contextlib.contextmanager
def app_client(monkeypatch, **settings) -> Iterator[TestClient]:
    """A client of a new app with `settings` (GRIDMAP_*) set for it."""
    for name, value in settings.items():
        monkeypatch.setenv(f"GRIDMAP_{name.upper()}", str(value))
    get_settings.cache_clear()
    try:
        with TestClient(create_app()) as client:
            yield client
    finally:
        for name in settings:
            monkeypatch.delenv(f"GRIDMAP_{name.upper()}")
        get_settings.cache_clear()


def upload(client, kind: str, name: str, data: bytes, form: dict | None = None, **params):
    return client.post(
        f"/api/imports/{kind}",
        headers=auth("admin"),
        files={"file": (name, data)},
        data=form or {},
        params=params,
    )


def is_problem(response, status: int) -> dict:
    assert response.status_code == status, response.text[:500]
    assert response.headers["content-type"].startswith(PROBLEM), response.headers
    return response.json()


# -- 9: reports bounded and linear ----------------------------------------------------------


def duplicate_households(n: int) -> bytes:
    lines = ["id,address,lon,lat"] + ["H1,西北街1号,98.49,39.75"] * n
    return ("\n".join(lines) + "\n").encode()


def test_a_file_of_20000_duplicate_ids_gets_a_bounded_report_with_totals(client):
    data = duplicate_households(20_000)
    started = time.monotonic()
    response = upload(client, "households", "dups.csv", data)
    body = is_problem(response, 422)
    assert time.monotonic() - started < 60
    # the answer is bounded by the setting, not by rows × rows (129 MB before)
    assert len(response.content) < 1_000_000
    assert len(body["rows"]) <= get_settings().import_max_problems
    assert body["report"]["rejected"] == 20_000
    assert body["report"]["problems_total"] >= 20_000
    reasons = {p["reason"] for p in body["rows"] if p["column"] == "id"}
    assert reasons == {
        "duplicate id: it appears on rows 2, 3, 4, 5, 6 and 19,995 more (20,000 in all)"
    }


def test_the_csv_report_lists_at_most_the_setting_and_counts_the_rest(fresh_client):
    data = duplicate_households(3000)
    form = {"skip_invalid": "true"}
    response = upload(fresh_client, "households", "dups.csv", data, form, format="csv")
    assert response.status_code == 200, response.text[:300]
    lines = response.text.strip().splitlines()
    limit = get_settings().import_max_problems
    assert len(lines) == 1 + limit + 1  # header, the listed problems, the count of the rest
    assert "more problems not listed" in lines[-1] and "GRIDMAP_IMPORT_MAX_PROBLEMS" in lines[-1]


# -- 10: decompression bombs ----------------------------------------------------------------


def xlsx_of(rows: int, header=("id", "address", "lon", "lat"), sized: bool = False) -> bytes:
    """A workbook of `rows` households; `sized` ones declare their size (<dimension>), as
    Excel writes them, the others do not (openpyxl's write-only mode)."""
    book = Workbook(write_only=not sized)
    sheet = book.create_sheet("data") if not sized else book.active
    sheet.append(list(header))
    for k in range(rows):
        sheet.append([f"H{k}", "西北街1号", 98.49, 39.75][: len(header)])
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


@pytest.mark.parametrize("sized", [True, False], ids=["declared", "undeclared"])
def test_an_xlsx_over_the_row_limit_is_refused_before_its_rows_are_read(
    monkeypatch, seeded_url, sized
):
    data = xlsx_of(20_000, sized=sized)
    with app_client(monkeypatch, import_max_rows=1000) as client:
        started = time.monotonic()
        body = is_problem(upload(client, "households", "many.xlsx", data), 413)
        assert time.monotonic() - started < 3
    assert "GRIDMAP_IMPORT_MAX_ROWS" in body["detail"] and "20,000 rows" in body["detail"]


def test_a_big_xlsx_missing_a_column_is_refused_on_its_header(client, monkeypatch):
    from openpyxl.worksheet._read_only import ReadOnlyWorksheet

    rows_parsed = []
    cells_by_row = ReadOnlyWorksheet._cells_by_row

    def counted(self, *args, **kwargs):
        for row in cells_by_row(self, *args, **kwargs):
            rows_parsed.append(1)
            yield row

    monkeypatch.setattr(ReadOnlyWorksheet, "_cells_by_row", counted)
    data = xlsx_of(30_000, header=("编号", "地址", "经度"))
    body = is_problem(upload(client, "households", "wrong.xlsx", data), 422)
    assert body["where"] == "columns" and "lat" in body["missing"]
    # the header is checked first: not one of the 30,000 rows below it was parsed
    assert 1 <= len(rows_parsed) <= 2


def zip_bomb(members: dict[str, int]) -> bytes:
    """A zip whose members are `size` zero bytes each: tiny packed, huge unpacked."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for name, size in members.items():
            archive.writestr(name, b"\0" * size)
    return buffer.getvalue()


@pytest.mark.parametrize(
    "name, members",
    [
        ("bomb.zip", {"points.shp": 40_000_000, "points.shx": 100, "points.dbf": 100}),
        ("bomb.xlsx", {"[Content_Types].xml": 100, "xl/worksheets/sheet1.xml": 40_000_000}),
    ],
)
def test_a_zip_bomb_is_refused_before_it_is_unpacked(monkeypatch, seeded_url, name, members):
    data = zip_bomb(members)
    assert len(data) < 100_000
    with app_client(monkeypatch, import_max_uncompressed_bytes=10_000_000) as client:
        body = is_problem(upload(client, "households", name, data), 413)
    assert "GRIDMAP_IMPORT_MAX_UNCOMPRESSED_BYTES" in body["detail"]


# -- 11: streamed bodies over the limit -------------------------------------------------------


def test_a_chunked_upload_over_the_body_limit_gets_413(monkeypatch, seeded_url):
    def chunks():
        for _ in range(64):
            yield b"x" * 16_384

    with app_client(monkeypatch, max_body_bytes=100_000) as client:
        response = client.post(
            "/api/imports/households",
            headers={**auth("admin"), "Content-Type": "multipart/form-data; boundary=b"},
            content=chunks(),
        )
    body = is_problem(response, 413)
    assert "GRIDMAP_MAX_BODY_BYTES" in body["detail"]


# -- 12: NUL bytes, huge numbers, long paths, the last-resort handler -------------------------


@pytest.mark.parametrize(
    "path, loc",
    [
        ("/api/businesses?category=a%00b", ["query", "category"]),
        ("/api/incidents/I%00", ["path"]),
        ("/api/audit?actor=%00", ["query", "actor"]),
    ],
)
def test_a_nul_byte_in_the_query_or_path_is_a_422_naming_it(client, path, loc):
    body = is_problem(client.get(path, headers=auth("admin")), 422)
    assert body["errors"][0]["loc"] == loc


def test_a_nul_byte_in_a_json_body_is_a_422_naming_the_field(fresh_client):
    report = {
        "category": "dispute",
        "description": "noise\u0000",
        "lon": 98.49,
        "lat": 39.75,
        "observed_at": "2026-11-01T10:00:00+08:00",
    }
    response = fresh_client.post("/api/incidents", headers=auth("patrol"), json=report)
    body = is_problem(response, 422)
    assert body["errors"][0]["loc"] == ["body", "description"]


def test_a_nul_byte_in_an_import_cell_is_named_by_row_and_column(client):
    data = "id,address,lon,lat\nH1,西北街\x001号,98.49,39.75\n".encode()
    body = is_problem(upload(client, "households", "nul.csv", data), 422)
    assert any(
        p["row"] == 2 and p["column"] == "address" and "NUL" in p["reason"] for p in body["rows"]
    ), body["rows"]


@pytest.mark.parametrize("offset", [2**63, 2**70])
def test_an_offset_above_the_largest_bigint_is_a_422(client, offset):
    body = is_problem(client.get(f"/api/audit?offset={offset}", headers=auth("admin")), 422)
    assert body["errors"][0]["loc"] == ["query", "offset"]


def test_a_write_to_a_long_path_keeps_its_audit_row(fresh_client, fresh_engine):
    path = "/api/incidents/" + "I" * 120 + "/notes"
    response = fresh_client.post(path, headers=auth("admin"), json={"note": "x"})
    assert response.status_code in (404, 422)
    with fresh_engine.connect() as conn:
        action = conn.execute(
            text("SELECT action FROM audit_log WHERE action LIKE 'POST /api/incidents/III%'")
        ).scalar()
    assert action == f"POST {path}"


@contextlib.contextmanager
def uvicorn_server(app) -> Iterator[int]:
    """`app` served by uvicorn in a thread on a free loopback port."""
    import uvicorn

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    try:
        yield port
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def test_an_unhandled_error_is_a_500_problem_and_the_connection_stays_open(seeded_url):
    app = create_app()

    @app.get("/api/boom", include_in_schema=False)
    def boom():
        raise RuntimeError("a bug")

    with uvicorn_server(app) as port:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        connection.request("GET", "/api/boom")
        response = connection.getresponse()
        body = json.loads(response.read())
        assert response.status == 500
        assert response.getheader("content-type") == PROBLEM
        assert body["status"] == 500 and "a bug" not in json.dumps(body)
        # the same connection serves the next request
        connection.request("GET", "/api/health")
        again = connection.getresponse()
        again.read()
        assert again.status == 200
        connection.close()


# -- 13: the database down or frozen ----------------------------------------------------------


class Proxy:
    """A TCP proxy in front of the test database that can refuse connections (`down`) or
    stop passing bytes while keeping them open (`freeze`, as a SIGSTOPped server would)."""

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.frozen = threading.Event()
        self.refusing = threading.Event()
        self.sockets: list[socket.socket] = []
        self.lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if self.refusing.is_set():
                client.close()
                continue
            try:
                upstream = socket.create_connection(self.target)
            except OSError:
                client.close()
                continue
            with self.lock:
                self.sockets += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    def _pipe(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while True:
                data = source.recv(65536)
                if not data:
                    break
                while self.frozen.is_set():
                    time.sleep(0.05)
                sink.sendall(data)
        except OSError:
            pass
        for s in (source, sink):
            with contextlib.suppress(OSError):
                s.close()

    def down(self) -> None:
        """Refuse new connections and cut the open ones (a killed server)."""
        self.refusing.set()
        with self.lock:
            for s in self.sockets:
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)
            self.sockets.clear()

    def up(self) -> None:
        self.refusing.clear()
        self.frozen.clear()

    def close(self) -> None:
        self.down()
        self.listener.close()


@pytest.fixture
def proxied(seeded_url, monkeypatch) -> Iterator[tuple[Proxy, TestClient]]:
    url = make_url(seeded_url)
    proxy = Proxy(url.host or "127.0.0.1", url.port or 5432)
    through = url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    monkeypatch.setenv("GRIDMAP_DATABASE_URL", through)
    with app_client(
        monkeypatch, db_watch_interval_s=0.3, db_connect_timeout_s=1, db_retry_after_s=7
    ) as client:
        yield proxy, client
    proxy.close()
    get_settings.cache_clear()


def wait_for(predicate, seconds: float = 15.0):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        time.sleep(0.2)
    raise AssertionError("timed out")


ROUTES = ["/api/health", "/api/businesses?limit=1", "/api/coverage", "/api/me"]


def test_a_database_that_is_down_gives_503_with_retry_after_then_recovers(proxied):
    proxy, client = proxied
    assert client.get("/api/businesses?limit=1", headers=auth("admin")).status_code == 200
    proxy.down()
    for route in ROUTES:
        started = time.monotonic()
        response = client.get(route, headers=auth("admin"))
        body = is_problem(response, 503)
        assert response.headers["retry-after"] == "7"
        assert body["title"] == "Database unreachable"
        assert time.monotonic() - started < 5
    proxy.up()
    wait_for(lambda: client.get("/api/health").status_code == 200)
    for route in ROUTES:
        answer = client.get(route, headers=auth("admin"))
        assert answer.status_code == 200, (route, answer.text[:300])


def test_a_frozen_database_gives_503_within_seconds_not_a_hang_then_recovers(proxied):
    proxy, client = proxied
    assert client.get("/api/me", headers=auth("admin")).status_code == 200
    proxy.frozen.set()
    started = time.monotonic()
    response = client.get("/api/businesses?limit=1", headers=auth("admin"))
    is_problem(response, 503)
    assert response.headers["retry-after"] == "7"
    assert time.monotonic() - started < 6
    proxy.frozen.clear()
    wait_for(lambda: client.get("/api/health").status_code == 200)
    assert client.get("/api/businesses?limit=1", headers=auth("admin")).status_code == 200


# -- 14: the API documentation, served locally, for signed-in callers --------------------------


@pytest.mark.parametrize("path", ["/docs", "/redoc", "/openapi.json"])
def test_the_api_documentation_needs_a_token(client, path):
    is_problem(client.get(path, headers={"Accept": "application/json"}), 401)
    assert client.get(path, headers=auth("patrol")).status_code == 200


@pytest.mark.parametrize("path", ["/docs", "/redoc"])
def test_the_documentation_pages_load_only_vendored_assets(client, path):
    import re

    page = client.get(path, headers=auth("patrol")).text
    sources = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert sources and all(s.startswith(("/static/", "/openapi.json")) for s in sources), sources
    assert "cdn" not in page and "googleapis" not in page
    for source in sources:
        if source.startswith("/static/"):
            assert client.get(source).status_code == 200, source


def test_swagger_ui_and_redoc_render_offline_in_a_browser(offline_browser, live_url):
    context = offline_browser.context(
        viewport={"width": 1280, "height": 900},
        extra_http_headers=auth("admin"),
    )
    for path, ready in [("/docs", ".opblock"), ("/redoc", "[data-section-id]")]:
        page = context.new_page()
        page.goto(path)
        page.wait_for_selector(ready, timeout=30_000)
        page.screenshot(path=f"/tmp/gridmap-docs{path.replace('/', '-')}.png")
        page.close()
    assert offline_browser.outside_requests == []


# -- 15: the OpenAPI document declares the errors, and dates must be plausible -----------------


def test_openapi_declares_problem_answers_once_for_every_route(client):
    document = client.get("/openapi.json", headers=auth("admin")).json()
    shared = document["components"]["responses"]
    for status in ("401", "403", "404", "409", "412", "422", "428", "503"):
        assert list(shared[status]["content"]) == [PROBLEM]
    operations = [
        (path, method, op) for path, ops in document["paths"].items() for method, op in ops.items()
    ]
    for path, method, operation in operations:
        responses = operation["responses"]
        assert responses["422"] == {"$ref": "#/components/responses/422"}, (path, method)
        if path != "/api/health":
            assert "401" in responses and "403" in responses, (path, method)
    edit = document["paths"]["/api/boundaries/sectors/{code}"]["put"]["responses"]
    assert {"409", "412", "428"} <= set(edit)


@pytest.mark.parametrize(
    "query",
    ["since=0", "since=1", "since=99999999999", "since=0001-01-01", "since=40000-01-01"],
)
def test_nonsense_dates_are_rejected(client, query):
    body = is_problem(client.get(f"/api/audit?{query}", headers=auth("admin")), 422)
    assert body["errors"][0]["loc"] == ["query", "since"]
    coverage = client.get(f"/api/coverage?{query}", headers=auth("admin"))
    assert coverage.status_code == 422


def test_plausible_dates_are_accepted(client):
    assert client.get("/api/audit?since=2026-11-01", headers=auth("admin")).status_code == 200
    since = "2026-11-01T08:00:00%2B08:00"
    assert client.get(f"/api/audit?since={since}", headers=auth("admin")).status_code == 200
    assert client.get("/api/coverage?since=2026-01-01", headers=auth("admin")).status_code == 200

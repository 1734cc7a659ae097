"""Structured logs: one JSON line per request with its id, route, status, duration and
caller; the id comes back in `X-Request-ID` and in problem bodies; no personal data."""

from __future__ import annotations

import json
import logging

import pytest

from geo.core.logs import JsonFormatter
from tests.conftest import auth


class Lines(logging.Handler):
    """The JSON lines the service writes, as the formatter writes them."""

    def __init__(self) -> None:
        super().__init__()
        self.setFormatter(JsonFormatter())
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))

    def records(self) -> list[dict]:
        return [json.loads(line) for line in self.lines]


@pytest.fixture
def log_lines(client):
    lines = Lines()
    logger = logging.getLogger("gridmap")
    logger.addHandler(lines)
    yield lines
    logger.removeHandler(lines)


def test_a_request_logs_one_json_line_with_its_id_route_status_and_caller(client, log_lines):
    response = client.get(
        "/ogc/collections/sectors/items?limit=1",
        headers={**auth("planner"), "X-Request-ID": "trace-abc-123"},
    )
    assert response.headers["x-request-id"] == "trace-abc-123"
    [line] = [r for r in log_lines.records() if r.get("request_id") == "trace-abc-123"]
    assert line["level"] == "info" and line["logger"] == "gridmap.http"
    assert line["method"] == "GET"
    assert line["route"] == "/ogc/collections/{collectionId}/items"
    assert line["status"] == 200
    assert line["duration_ms"] >= 0
    assert line["user"].startswith("planner:token")
    assert line["ts"].endswith("Z")


def test_a_request_without_an_id_gets_a_new_one_also_in_its_problem_body(client, log_lines):
    response = client.get("/api/incidents/999999999", headers=auth("admin"))
    assert response.status_code == 404
    made = response.headers["x-request-id"]
    assert len(made) == 32
    assert response.json()["request_id"] == made
    assert [r["status"] for r in log_lines.records() if r.get("request_id") == made] == [404]
    unauthenticated = client.get("/api/boundaries", headers={"X-Request-ID": "no-token-1"})
    assert unauthenticated.status_code == 401
    assert unauthenticated.json()["request_id"] == "no-token-1"
    # an id that could forge log lines or headers is replaced
    odd = client.get("/api/health", headers={"X-Request-ID": 'a" b'})
    assert odd.headers["x-request-id"] != 'a" b'


def test_log_lines_never_carry_names_phones_or_id_numbers(client, log_lines):
    name, phone, id_number = "王秀英", "13912345678", "620902198001011234"
    client.get(
        f"/api/residents?name={name}&phone={phone}&id_number={id_number}", headers=auth("admin")
    )
    client.post(
        "/api/incidents",
        json={
            "category": "sanitation",
            "description": f"{name} 电话 {phone} 身份证 {id_number}",
            "reporter_name": name,
            "reporter_phone": phone,
            "lon": 98.49,
            "lat": 39.75,
        },
        headers=auth("patrol"),
    )
    client.get(f"/ogc/collections/resources/items?name_zh={name}", headers=auth("admin"))
    written = "\n".join(log_lines.lines)
    assert len(log_lines.lines) >= 3
    for secret in (name, phone, id_number):
        assert secret not in written


def test_the_level_is_configurable(monkeypatch):
    from geo.core import logs

    logs.configure("WARNING")
    try:
        assert logging.getLogger("gridmap").getEffectiveLevel() == logging.WARNING
    finally:
        logs.configure("INFO")


def test_a_failure_is_a_500_problem_with_the_id_and_one_error_line(seeded_url):
    from fastapi.testclient import TestClient

    from api.main import create_app

    def broken() -> None:
        raise RuntimeError("boom with 13912345678 in it")

    app = create_app()
    app.add_api_route("/api/broken-for-test", broken)
    lines = Lines()
    logging.getLogger("gridmap").addHandler(lines)
    try:
        with TestClient(app, raise_server_exceptions=False) as client:
            response = client.get("/api/broken-for-test", headers={"X-Request-ID": "fail-1"})
    finally:
        logging.getLogger("gridmap").removeHandler(lines)
    assert response.status_code == 500
    assert response.headers["x-request-id"] == "fail-1"
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["request_id"] == "fail-1"
    [line] = [r for r in lines.records() if r.get("request_id") == "fail-1"]
    assert line["level"] == "error" and line["status"] == 500
    assert line["error"] == "RuntimeError" and line["where"]
    assert "13912345678" not in "\n".join(lines.lines)

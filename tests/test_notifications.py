"""Notifications, replayable case actions and webhooks (issue 19): a dispatch tells the
worker's account in the same transaction, the deadline sweep tells once, a case action
sent twice with one key moves the case once, and a webhook receiver on 127.0.0.1 gets one
signed message per dispatch — again after answering 500 once."""

from __future__ import annotations

import base64
import hashlib
import hmac
import http.server
import json
import threading
import time
import urllib.parse
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import event, text

from geo.notify import webhooks
from geo.notify.inbox import sweep_deadlines
from tests.conftest import auth, csrf_of, login, serve
from tests.incident_support import inside, report_body, worker_sector


def file(client, engine, role: str = "patrol", **headers) -> dict:
    body = report_body(*inside(engine, worker_sector(engine)))
    response = client.post("/api/incidents", json=body, headers={**auth(role), **headers})
    assert response.status_code == 201, response.json()
    return response.json()


def worker_user_id(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(text("SELECT id FROM users WHERE login = 'test_grid_worker'")).scalar()


def test_a_dispatch_tells_the_workers_account_and_it_is_read_per_user(fresh_client, fresh_engine):
    case = file(fresh_client, fresh_engine)
    assert "W001" in [w["id"] for w in case["assigned_to"]]
    login(fresh_client, "grid_worker")
    unread = fresh_client.get("/api/notifications?unread=true").json()
    mine = [n for n in unread["items"] if n["incident_id"] == case["id"]]
    assert [n["kind"] for n in mine] == ["dispatch"]
    assert case["id"] in mine[0]["message_zh"] and mine[0]["url"] == f"/cases/{case['id']}"
    before = unread["unread"]
    token = csrf_of(fresh_client, "/cases")
    read = fresh_client.post(
        f"/api/notifications/{mine[0]['id']}/read", headers={"X-CSRF-Token": token}
    )
    assert read.status_code == 200 and read.json()["unread"] == before - 1
    # another person cannot mark it (nor see it)
    fresh_client.cookies.clear()
    login(fresh_client, "patrol")
    token = csrf_of(fresh_client, "/cases")
    other = fresh_client.post(
        f"/api/notifications/{mine[0]['id']}/read", headers={"X-CSRF-Token": token}
    )
    assert other.status_code == 404
    assert fresh_client.get("/api/notifications").json()["items"] == [] or all(
        n["incident_id"] != case["id"]
        for n in fresh_client.get("/api/notifications").json()["items"]
    )


def test_assignment_and_a_case_sent_back_tell_the_owner(fresh_client, fresh_engine):
    case = file(fresh_client, fresh_engine)
    assign = fresh_client.post(
        f"/api/incidents/{case['id']}/assign", json={"worker": "W001"}, headers=auth("supervisor")
    )
    assert assign.status_code == 200, assign.json()
    for to in ("in_progress", "resolved"):
        moved = fresh_client.post(
            f"/api/incidents/{case['id']}/transitions", json={"to": to}, headers=auth("grid_worker")
        )
        assert moved.status_code == 200, moved.json()
    back = fresh_client.post(
        f"/api/incidents/{case['id']}/transitions",
        json={"to": "in_progress", "note": "未清理干净"},
        headers=auth("supervisor"),
    )
    assert back.status_code == 200, back.json()
    with fresh_engine.connect() as conn:
        kinds = (
            conn.execute(
                text(
                    "SELECT kind FROM notifications WHERE incident_id = :id AND user_id = :u "
                    "ORDER BY id"
                ),
                {"id": case["id"], "u": worker_user_id(fresh_engine)},
            )
            .scalars()
            .all()
        )
    assert kinds == ["dispatch", "assign", "sent_back"]


def test_the_deadline_sweep_tells_once_per_case_and_kind(fresh_client, fresh_engine):
    soon, late = file(fresh_client, fresh_engine), file(fresh_client, fresh_engine)
    now = datetime.now(UTC)
    with fresh_engine.begin() as conn:
        conn.execute(
            text("UPDATE incidents SET due_at = :d WHERE id = :id"),
            {"d": now + timedelta(minutes=30), "id": soon["id"]},
        )
        conn.execute(
            text("UPDATE incidents SET due_at = :d WHERE id = :id"),
            {"d": now - timedelta(minutes=5), "id": late["id"]},
        )
    with fresh_engine.begin() as conn:
        first = sweep_deadlines(conn, now)
    with fresh_engine.begin() as conn:
        again = sweep_deadlines(conn, now)
    assert first["due_soon"] >= 1 and first["overdue"] >= 1
    assert again == {"due_soon": 0, "overdue": 0}
    with fresh_engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT incident_id, kind FROM notifications WHERE user_id = :u "
                "AND kind IN ('due_soon', 'overdue')"
            ),
            {"u": worker_user_id(fresh_engine)},
        ).all()
    assert (soon["id"], "due_soon") in rows and (late["id"], "overdue") in rows
    assert len([r for r in rows if r[0] in (soon["id"], late["id"])]) == 2


def test_a_case_nobody_can_be_told_about_is_swept_once(fresh_client, fresh_engine):
    """A case whose workers have no account gets no notification; the sweep still writes it
    down and does not take it up again (it did, every 30 s in every process)."""
    case = file(fresh_client, fresh_engine)
    now = datetime.now(UTC)
    with fresh_engine.begin() as conn:
        conn.execute(
            text(
                "UPDATE incidents SET due_at = :d, owner_id = NULL, assigned_to = '{}' "
                "WHERE id = :id"
            ),
            {"d": now - timedelta(minutes=5), "id": case["id"]},
        )
    with fresh_engine.begin() as conn:
        first = sweep_deadlines(conn, now)
    assert first["overdue"] >= 1
    read_again = []

    def looks(conn, cursor, statement, params, context, executemany):
        if isinstance(params, dict) and case["id"] in params.values():
            read_again.append(statement)

    event.listen(fresh_engine, "before_cursor_execute", looks)
    try:
        with fresh_engine.begin() as conn:
            again = sweep_deadlines(conn, now)
    finally:
        event.remove(fresh_engine, "before_cursor_execute", looks)
    assert again == {"due_soon": 0, "overdue": 0} and read_again == []
    with fresh_engine.connect() as conn:
        told = conn.execute(
            text("SELECT count(*) FROM notifications WHERE incident_id = :id AND kind = 'overdue'"),
            {"id": case["id"]},
        ).scalar()
        swept = (
            conn.execute(
                text("SELECT kind FROM deadline_sweeps WHERE incident_id = :id"), {"id": case["id"]}
            )
            .scalars()
            .all()
        )
    assert told == 0 and swept == ["overdue"]


def test_the_stream_without_an_event_stream_accept_is_one_snapshot(fresh_client, fresh_engine):
    file(fresh_client, fresh_engine)
    login(fresh_client, "grid_worker")
    answer = fresh_client.get("/api/notifications/stream")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/event-stream")
    assert "event: unread" in answer.text and "retry: 3000" in answer.text
    count = json.loads(answer.text.split("data: ", 1)[1].split("\n", 1)[0])["unread"]
    assert count == fresh_client.get("/api/notifications?unread=true").json()["unread"] >= 1


def test_a_case_action_sent_twice_with_one_key_moves_the_case_once(fresh_client, fresh_engine):
    case = file(fresh_client, fresh_engine)
    url = f"/api/incidents/{case['id']}/transitions"
    headers = {**auth("grid_worker"), "Idempotency-Key": "offline-accept-1"}
    body = {"to": "in_progress", "expect": "dispatched"}
    first = fresh_client.post(url, json=body, headers=headers)
    second = fresh_client.post(url, json=body, headers=headers)
    assert first.status_code == second.status_code == 200
    assert second.headers.get("Idempotent-Replayed") == "true"
    assert second.json()["status"] == first.json()["status"] == "in_progress"
    assert second.json()["history"] == first.json()["history"]
    with fresh_engine.connect() as conn:
        moves = conn.execute(
            text(
                "SELECT count(*) FROM incident_events WHERE incident_id = :id "
                "AND to_status = 'in_progress'"
            ),
            {"id": case["id"]},
        ).scalar()
    assert moves == 1
    # the same key for another action: 422; an action decided on a state that is gone: 409
    other = fresh_client.post(url, json={"to": "resolved"}, headers=headers)
    assert other.status_code == 422 and other.json()["field"] == "Idempotency-Key"
    stale = fresh_client.post(
        url, json={"to": "resolved", "expect": "dispatched"}, headers=auth("grid_worker")
    )
    assert stale.status_code == 409
    assert stale.json()["current_state"] == "in_progress"


def test_robot_formats_are_signed_as_each_platform_checks(monkeypatch):
    body = json.dumps(
        {"event": "dispatch", "incident": "I1", "text_zh": "【新派遣】事件 I1", "link": "/cases/I1"}
    )
    url, data, _ = webhooks.render(
        "dingtalk", "https://oapi.dingtalk.com/robot/send?access_token=x", "SEC", body
    )
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)
    stamp, sign = query["timestamp"][0], query["sign"][0]
    expected = base64.b64encode(
        hmac.new(b"SEC", f"{stamp}\nSEC".encode(), hashlib.sha256).digest()
    ).decode()
    assert sign == expected and json.loads(data)["msgtype"] == "markdown"
    _, data, _ = webhooks.render("feishu", "https://open.feishu.cn/x", "SEC", body)
    payload = json.loads(data)
    key = f"{payload['timestamp']}\nSEC".encode()
    assert payload["sign"] == base64.b64encode(hmac.new(key, b"", hashlib.sha256).digest()).decode()
    assert payload["msg_type"] == "text" and "I1" in payload["content"]["text"]
    _, data, _ = webhooks.render("wecom", "https://qyapi.weixin.qq.com/x", None, body)
    assert json.loads(data)["msgtype"] == "markdown"
    _, data, headers = webhooks.render("json", "http://127.0.0.1/x", "SEC", body)
    assert (
        headers["X-Gridmap-Signature"]
        == "sha256=" + hmac.new(b"SEC", data, hashlib.sha256).hexdigest()
    )
    monkeypatch.setenv("GRIDMAP_WEBHOOK_RETRY_BASE_S", "10")
    monkeypatch.setenv("GRIDMAP_WEBHOOK_RETRY_MAX_S", "60")
    from geo.core.settings import get_settings

    get_settings.cache_clear()
    assert [webhooks.backoff(n) for n in (1, 2, 3, 4, 5)] == [10, 20, 40, 60, 60]
    get_settings.cache_clear()


def test_a_webhook_needs_a_known_unit_format_and_an_http_url(fresh_client):
    good = {
        "unit_code": "620902003001",
        "format": "json",
        "url": "http://127.0.0.1:9/x",
        "name": "值班群",
    }
    for field, bad in (("unit_code", "999"), ("url", "ftp://example.org/x")):
        answer = fresh_client.post(
            "/api/webhooks", json={**good, field: bad}, headers=auth("admin")
        )
        assert answer.status_code == 422 and field in json.dumps(answer.json())
    assert fresh_client.post("/api/webhooks", json=good, headers=auth("patrol")).status_code == 403
    made = fresh_client.post("/api/webhooks", json=good, headers=auth("admin"))
    assert made.status_code == 201 and made.json()["unit_code"] == "620902003001"
    assert "secret" not in made.json()
    page = fresh_client.get("/admin/webhooks", headers=auth("admin"))
    assert page.status_code == 200 and "值班群" in page.text


class Receiver(http.server.BaseHTTPRequestHandler):
    """A work group's robot on 127.0.0.1: answers 500 to the first post, then 200."""

    posts: list = []
    fail_first = True

    def do_POST(self):  # noqa: N802 - http.server's name
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).posts.append((dict(self.headers), body))
        status = 500 if type(self).fail_first and len(type(self).posts) == 1 else 200
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(b'{"errcode": 0}')

    def log_message(self, *args):
        pass


@pytest.fixture
def receiver():
    Receiver.posts = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()


def test_a_receiver_gets_one_signed_message_per_dispatch_and_again_after_a_500(
    fresh_url, fresh_engine, receiver, monkeypatch
):
    import httpx

    monkeypatch.setenv("GRIDMAP_WEBHOOK_RETRY_BASE_S", "0.5")
    monkeypatch.setenv("GRIDMAP_WEBHOOK_POLL_S", "0.2")
    with fresh_engine.connect() as conn:  # the community of the worker's sector
        community = conn.execute(
            text(
                "SELECT g.parent_code FROM units s JOIN units g ON g.code = s.parent_code "
                "AND g.valid_to IS NULL WHERE s.code = :s AND s.valid_to IS NULL"
            ),
            {"s": worker_sector(fresh_engine)},
        ).scalar()
    with serve(fresh_url) as url, httpx.Client(base_url=url) as web:
        hook = web.post(
            "/api/webhooks",
            json={
                "unit_code": community,
                "format": "json",
                "url": f"http://127.0.0.1:{receiver.server_port}/hook",
                "secret": "s3cret",
                "name": "社区工作群",
            },
            headers=auth("admin"),
        )
        assert hook.status_code == 201, hook.text
        cases = []
        for _ in range(2):
            body = report_body(*inside(fresh_engine, worker_sector(fresh_engine)))
            answer = web.post("/api/incidents", json=body, headers=auth("patrol"))
            assert answer.status_code == 201, answer.text
            cases.append(answer.json()["id"])
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            delivered = {json.loads(b)["incident"] for _, b in Receiver.posts[1:]}
            if delivered >= set(cases):
                break
            time.sleep(0.2)
        log = web.get("/api/webhooks/deliveries", headers=auth("admin")).json()
    assert len(Receiver.posts) == 3, [json.loads(b)["incident"] for _, b in Receiver.posts]
    first = json.loads(Receiver.posts[0][1])["incident"]
    assert [json.loads(b)["incident"] for _, b in Receiver.posts].count(first) == 2
    for headers, body in Receiver.posts:
        digest = hmac.new(b"s3cret", body, hashlib.sha256).hexdigest()
        assert headers["X-Gridmap-Signature"] == f"sha256={digest}"
        message = json.loads(body)
        assert message["event"] == "dispatch" and message["incident"] in cases
        assert "reporter_contact" not in message and "1381" not in body.decode()
    assert sorted((d["incident_id"], d["status"], d["attempts"]) for d in log) == sorted(
        [(first, "delivered", 2), *[(c, "delivered", 1) for c in cases if c != first]]
    )

"""Outgoing webhooks to work-group robots, per grid or community: WeCom (企业微信群机器人),
DingTalk (钉钉), Feishu (飞书) and a generic signed JSON.

A message is written to the outbox (`webhook_deliveries`) in the transaction of the case
event that causes it; `send_due` (run by the service's background sender) posts what is
due, retrying a failure after `GRIDMAP_WEBHOOK_RETRY_BASE_S` × 2^(attempt−1), capped at
`GRIDMAP_WEBHOOK_RETRY_MAX_S`, until `GRIDMAP_WEBHOOK_MAX_ATTEMPTS`. Messages carry what
the work group needs and nothing personal: case number, category, grid, deadline, link.

    >>> create_webhook(conn, "620902003001", "json",                   # doctest: +SKIP
    ...                "https://hooks.example/x", "s3cret", "值班群")
    >>> enqueue(conn, "I0000025001", "dispatch")                       # doctest: +SKIP
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import urllib.error
import urllib.parse
import urllib.request
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine

from geo.core.errors import InvalidInput, NotFound
from geo.core.settings import get_settings
from geo.notify.inbox import beijing_minute, case_facts

#: what each event is called in a message, Chinese first
EVENT_WORDS = {
    "dispatch": ("新派遣", "new case"),
    "assign": ("指派", "assigned"),
    "reassign": ("改派", "reassigned"),
    "sent_back": ("退回重办", "sent back"),
    "overdue": ("超期", "overdue"),
}


class WebhookFormat(StrEnum):
    WECOM = "wecom"  # {"msgtype": "markdown", "markdown": {"content": ...}}
    DINGTALK = "dingtalk"  # msgtype markdown; secret: ?timestamp=&sign= (HMAC-SHA256)
    FEISHU = "feishu"  # msg_type text; secret: timestamp + sign in the body
    JSON = "json"  # the message itself; secret: X-Gridmap-Signature: sha256=<hmac of body>


def create_webhook(
    conn: Connection,
    unit_code: str,
    fmt: str,
    url: str,
    secret: str | None,
    name: str,
) -> dict:
    """A webhook for the cases of one community, level-2 grid or sector (`unit_code`, a
    current unit). InvalidInput for an unknown unit or format, or a URL that is not http(s)."""
    try:
        fmt = WebhookFormat(fmt)
    except ValueError:
        kinds = ", ".join(f.value for f in WebhookFormat)
        raise InvalidInput(f"format must be one of {kinds}", field="format") from None
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidInput("url must be an http(s) address", field="url")
    level = conn.execute(
        text("SELECT level FROM units WHERE code = :c AND valid_to IS NULL"), {"c": unit_code}
    ).scalar()
    if level not in ("community", "grid2", "sector"):
        raise InvalidInput(
            f"unit_code {unit_code!r}: not a current community, level-2 grid or sector",
            field="unit_code",
        )
    row = conn.execute(
        text(
            "INSERT INTO webhooks (unit_code, format, url, secret, name) "
            "VALUES (:unit, :fmt, :url, :secret, :name) RETURNING id"
        ),
        {"unit": unit_code, "fmt": fmt.value, "url": url, "secret": secret or None, "name": name},
    ).one()
    return webhook(conn, row.id)


def webhook(conn: Connection, webhook_id: int) -> dict:
    """One webhook as admins see it (the secret only as whether there is one)."""
    row = (
        conn.execute(
            text(
                "SELECT id, unit_code, format, url, name, active, created_at, "
                "secret IS NOT NULL AS signed FROM webhooks WHERE id = :id"
            ),
            {"id": webhook_id},
        )
        .mappings()
        .first()
    )
    if row is None:
        raise NotFound(f"no webhook {webhook_id}")
    return dict(row)


def webhooks(conn: Connection) -> list[dict]:
    ids = conn.execute(text("SELECT id FROM webhooks ORDER BY id")).scalars().all()
    return [webhook(conn, i) for i in ids]


def set_active(conn: Connection, webhook_id: int, active: bool) -> dict:
    """Pause (False) or resume a webhook; pending deliveries wait while it is paused."""
    webhook(conn, webhook_id)
    conn.execute(
        text("UPDATE webhooks SET active = :a WHERE id = :id"), {"a": active, "id": webhook_id}
    )
    return webhook(conn, webhook_id)


def delete_webhook(conn: Connection, webhook_id: int) -> None:
    webhook(conn, webhook_id)
    conn.execute(text("DELETE FROM webhooks WHERE id = :id"), {"id": webhook_id})


def deliveries(conn: Connection, webhook_id: int | None = None, limit: int = 100) -> list[dict]:
    """The delivery log, newest first: status, attempts, last HTTP status or error."""
    rows = conn.execute(
        text(
            "SELECT d.id, d.webhook_id, w.name AS webhook, d.incident_id, d.kind, d.status, "
            "d.attempts, d.last_status, d.last_error, d.created_at, d.next_attempt_at, "
            "d.delivered_at FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id "
            "WHERE (CAST(:w AS integer) IS NULL OR d.webhook_id = :w) "
            "ORDER BY d.id DESC LIMIT :limit"
        ),
        {"w": webhook_id, "limit": limit},
    ).mappings()
    return [dict(r) for r in rows]


def message(case: dict, kind: str) -> dict:
    """The facts of one message: no personal data (no reporter, no names)."""
    zh, en = EVENT_WORDS.get(kind, (kind, kind))
    link = f"{get_settings().public_url.rstrip('/')}/cases/{case['id']}"
    return {
        "event": kind,
        "incident": case["id"],
        "category": case["category"],
        "category_zh": case["category_zh"],
        "sector": case["sector_code"],
        "grid2": case["grid2_code"],
        "community": case["community_code"],
        "due_at": case["due_at"].astimezone(UTC).isoformat() if case["due_at"] else None,
        "link": link,
        "text_zh": f"【{zh}】事件 {case['id']} · {case['category_zh']} · 片区 "
        f"{case['sector_code']} · 期限 {beijing_minute(case['due_at'])}",
        "text_en": f"[{en}] case {case['id']} · {case['category_en']} · sector "
        f"{case['sector_code']}",
    }


def enqueue(conn: Connection, incident_id: str, kind: str, once: bool = False) -> int:
    """Write one message about the case to every active webhook of its sector, level-2
    grid or community (`once`: unless one of this kind was written before); returns how
    many."""
    case = case_facts(conn, incident_id)
    if case is None:
        return 0
    body = json.dumps(message(case, kind), ensure_ascii=False, separators=(",", ":"))
    rows = conn.execute(
        text(
            "INSERT INTO webhook_deliveries (webhook_id, incident_id, kind, body, subdistrict) "
            "SELECT w.id, :id, :kind, :body, w.subdistrict FROM webhooks w WHERE w.active "
            "AND w.unit_code IN (:sector, :grid2, :community) AND NOT (:once AND EXISTS ("
            " SELECT 1 FROM webhook_deliveries d WHERE d.webhook_id = w.id "
            " AND d.incident_id = :id AND d.kind = :kind)) RETURNING id"
        ),
        {
            "id": incident_id,
            "kind": kind,
            "body": body,
            "once": once,
            "sector": case["sector_code"],
            "grid2": case["grid2_code"],
            "community": case["community_code"],
        },
    ).all()
    return len(rows)


def _sign_hmac(secret: str, payload: bytes) -> str:
    return base64.b64encode(hmac.new(secret.encode(), payload, hashlib.sha256).digest()).decode()


def render(fmt: str, url: str, secret: str | None, body: str) -> tuple[str, bytes, dict]:
    """The (url, body, headers) of one post in the robot's own format, signed now."""
    fact = json.loads(body)
    markdown = f"**{fact['text_zh']}**\n\n[{fact['incident']}]({fact['link']})"
    headers = {"Content-Type": "application/json; charset=utf-8"}
    if fmt == WebhookFormat.WECOM:
        payload = {"msgtype": "markdown", "markdown": {"content": markdown}}
    elif fmt == WebhookFormat.DINGTALK:
        payload = {"msgtype": "markdown", "markdown": {"title": fact["text_zh"], "text": markdown}}
        if secret:  # DingTalk: sign = base64(HMAC-SHA256(key=secret, "timestamp\nsecret"))
            stamp = str(int(time.time() * 1000))
            sign = _sign_hmac(secret, f"{stamp}\n{secret}".encode())
            sep = "&" if "?" in url else "?"
            url += f"{sep}timestamp={stamp}&sign={urllib.parse.quote_plus(sign)}"
    elif fmt == WebhookFormat.FEISHU:
        payload = {"msg_type": "text", "content": {"text": f"{fact['text_zh']} {fact['link']}"}}
        if secret:  # Feishu: sign = base64(HMAC-SHA256(key="timestamp\nsecret", ""))
            stamp = str(int(time.time()))
            payload = {"timestamp": stamp, "sign": _sign_hmac(f"{stamp}\n{secret}", b""), **payload}
    else:
        data = body.encode()
        if secret:
            digest = hmac.new(secret.encode(), data, hashlib.sha256).hexdigest()
            headers["X-Gridmap-Signature"] = f"sha256={digest}"
        headers["X-Gridmap-Event"] = fact["event"]
        return url, data, headers
    return url, json.dumps(payload, ensure_ascii=False).encode(), headers


def backoff(attempts: int) -> float:
    """Seconds to wait after the `attempts`-th failure: base × 2^(attempts−1), capped."""
    settings = get_settings()
    return min(settings.webhook_retry_base_s * 2 ** (attempts - 1), settings.webhook_retry_max_s)


def _post(url: str, data: bytes, headers: dict) -> tuple[int | None, str | None]:
    """POST; (HTTP status, error text or None when 2xx). Robots that answer 200 with an
    error code in the body (WeCom, DingTalk: errcode ≠ 0; Feishu: code ≠ 0) fail too."""
    request = urllib.request.Request(url, data=data, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=get_settings().webhook_timeout_s) as answer:
            status, raw = answer.status, answer.read(4096)
    except urllib.error.HTTPError as error:
        return error.code, f"HTTP {error.code}"
    except (OSError, ValueError) as error:
        return None, str(error)[:300]
    try:
        reply = json.loads(raw or b"{}")
    except ValueError:
        reply = {}
    code = reply.get("errcode", reply.get("code", 0)) if isinstance(reply, dict) else 0
    if code not in (0, None):
        return (
            status,
            f"robot answered code {code}: {str(reply.get('errmsg') or reply.get('msg'))[:200]}",
        )
    return status, None


def send_due(engine: Engine, now: datetime | None = None, batch: int = 20) -> int:
    """Post the deliveries that are due (claimed with a lease, so two service processes
    never post the same one); record each answer and schedule retries. Returns how many
    were attempted."""
    settings = get_settings()
    lease = timedelta(seconds=settings.webhook_timeout_s * 3)
    with engine.begin() as conn:
        claimed = conn.execute(
            text(
                "UPDATE webhook_deliveries d SET next_attempt_at = now() + :lease "
                "FROM webhooks w WHERE w.id = d.webhook_id AND d.id IN ("
                " SELECT d2.id FROM webhook_deliveries d2 JOIN webhooks w2 ON w2.id = d2.webhook_id"
                " WHERE d2.status = 'pending' AND w2.active AND d2.next_attempt_at <= now()"
                " ORDER BY d2.next_attempt_at FOR UPDATE OF d2 SKIP LOCKED LIMIT :batch) "
                "RETURNING d.id, d.attempts, d.body, w.format, w.url, w.secret"
            ),
            {"lease": lease, "batch": batch},
        ).all()
    for row in claimed:
        status, error = _post(*render(row.format, row.url, row.secret, row.body))
        attempts = row.attempts + 1
        if error is None:
            state, retry = "delivered", None
        elif attempts >= settings.webhook_max_attempts:
            state, retry = "failed", None
        else:
            state, retry = "pending", timedelta(seconds=backoff(attempts))
        with engine.begin() as conn:
            conn.execute(
                text(
                    "UPDATE webhook_deliveries SET status = :state, attempts = :attempts, "
                    "last_status = :status, last_error = :error, "
                    "delivered_at = CASE WHEN :state = 'delivered' THEN now() END, "
                    "next_attempt_at = now() + coalesce(:retry, interval '0') WHERE id = :id"
                ),
                {
                    "state": state,
                    "attempts": attempts,
                    "status": status,
                    "error": error,
                    "retry": retry,
                    "id": row.id,
                },
            )
    return len(claimed)

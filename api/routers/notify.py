"""Notifications and webhooks over HTTP: the caller's list and unread count, a live stream
(Server-Sent Events) with the list as its polling fallback, marking read; the admins'
webhooks per grid or community and their delivery log (`geo.notify`)."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Literal

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from api.deps import CONN
from api.security import current_principal, require
from api.web import page_language, render
from geo.access.roles import Permission, Principal
from geo.core.settings import get_settings
from geo.notify import inbox, webhooks

router = APIRouter(tags=["notifications"])
#: seconds between the stream's looks for new notifications (the worker sees one within it)
STREAM_POLL_S = 1.0
KEEPALIVE_S = 15.0


class WebhookIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    unit_code: str = Field(..., max_length=32, description="a community, level-2 grid or sector")
    format: Literal["wecom", "dingtalk", "feishu", "json"]
    url: str = Field(..., min_length=8, max_length=2000, description="the robot's http(s) URL")
    secret: str | None = Field(
        None, max_length=200, description="signing secret (DingTalk, Feishu, json: HMAC-SHA256)"
    )
    name: str = Field(..., min_length=1, max_length=80)


class WebhookChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    active: bool


@router.get("/api/notifications", summary="My notifications, newest first, with the unread count")
def my_notifications(
    unread: bool = Query(False, description="only the unread ones"),
    after: int = Query(0, ge=0, le=2**62, description="only those with a greater id"),
    limit: int = Query(50, ge=1, le=200),
    principal: Principal = Depends(current_principal),
    conn=CONN,
) -> dict:
    return inbox.notifications(conn, principal, unread, after, limit)


def _event(name: str, data: dict, event_id: int | None = None) -> str:
    head = f"id: {event_id}\n" if event_id is not None else ""
    return f"{head}event: {name}\ndata: {json.dumps(data, ensure_ascii=False, default=str)}\n\n"


def _read(engine, call, *args):
    with engine.begin() as conn:
        return call(conn, *args)


@router.get(
    "/api/notifications/stream",
    summary="My notifications live (Server-Sent Events); without `Accept: text/event-stream` "
    "one snapshot",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}, "description": "the events"}},
)
async def notification_stream(
    request: Request, principal: Principal = Depends(current_principal)
) -> StreamingResponse:
    """Events: `unread` (`{"unread": N}`) at once and after every change, `notification`
    (one item of `GET /api/notifications`) for each new one. The stream ends after
    `GRIDMAP_NOTIFY_STREAM_SECONDS`; browsers reconnect by themselves (`retry`)."""
    engine = request.app.state.engine
    live = "text/event-stream" in request.headers.get("accept", "")
    lifetime = get_settings().notify_stream_seconds

    async def events():
        last = await run_in_threadpool(_read, engine, inbox.latest_id, principal)
        count = await run_in_threadpool(_read, engine, inbox.unread_count, principal)
        yield "retry: 3000\n" + _event("unread", {"unread": count})
        started = quiet = time.monotonic()
        while live and time.monotonic() - started < lifetime:
            await asyncio.sleep(STREAM_POLL_S)
            if await request.is_disconnected():
                return
            news = await run_in_threadpool(
                _read, engine, inbox.notifications, principal, False, last, 50
            )
            for item in reversed(news["items"]):
                last = max(last, item["id"])
                yield _event("notification", item, item["id"])
            if news["items"]:
                yield _event("unread", {"unread": news["unread"]})
                quiet = time.monotonic()
            elif time.monotonic() - quiet > KEEPALIVE_S:
                yield ": keep-alive\n\n"
                quiet = time.monotonic()

    return StreamingResponse(
        events(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


@router.post("/api/notifications/read-all", summary="Mark all my notifications read")
def read_all(principal: Principal = Depends(current_principal), conn=CONN) -> dict:
    return inbox.mark_read(conn, principal, None)


@router.post("/api/notifications/{notification_id}/read", summary="Mark one notification read")
def read_one(
    notification_id: int = Path(..., ge=1, le=2**62),
    principal: Principal = Depends(current_principal),
    conn=CONN,
) -> dict:
    return inbox.mark_read(conn, principal, notification_id)


@router.get("/api/webhooks", summary="Webhooks to work-group robots (admin)")
def list_webhooks(_: Principal = Depends(require(Permission.CONFIGURE)), conn=CONN) -> list[dict]:
    return webhooks.webhooks(conn)


@router.post("/api/webhooks", status_code=201, summary="Add a webhook for a grid or community")
def add_webhook(
    body: WebhookIn,
    _: Principal = Depends(require(Permission.CONFIGURE)),
    conn=CONN,
) -> dict:
    return webhooks.create_webhook(
        conn, body.unit_code, body.format, body.url, body.secret, body.name
    )


@router.patch("/api/webhooks/{webhook_id}", summary="Pause or resume a webhook (admin)")
def change_webhook(
    body: WebhookChange,
    webhook_id: int = Path(..., ge=1, le=2**31 - 1),
    _: Principal = Depends(require(Permission.CONFIGURE)),
    conn=CONN,
) -> dict:
    return webhooks.set_active(conn, webhook_id, body.active)


@router.delete(
    "/api/webhooks/{webhook_id}", status_code=204, summary="Delete a webhook and its log (admin)"
)
def remove_webhook(
    webhook_id: int = Path(..., ge=1, le=2**31 - 1),
    _: Principal = Depends(require(Permission.CONFIGURE)),
    conn=CONN,
) -> Response:
    webhooks.delete_webhook(conn, webhook_id)
    return Response(status_code=204)


@router.get("/api/webhooks/deliveries", summary="The webhook delivery log, newest first (admin)")
def delivery_log(
    webhook: int | None = Query(None, ge=1, le=2**31 - 1, description="one webhook's"),
    limit: int = Query(100, ge=1, le=1000),
    _: Principal = Depends(require(Permission.CONFIGURE)),
    conn=CONN,
) -> list[dict]:
    return webhooks.deliveries(conn, webhook, limit)


@router.get("/admin/webhooks", response_class=HTMLResponse, summary="Webhooks (admin page)")
def webhooks_page(
    request: Request,
    lang: str = Depends(page_language),
    principal: Principal = Depends(require(Permission.CONFIGURE)),
    conn=CONN,
) -> HTMLResponse:
    return render(
        request,
        "admin_webhooks.html",
        lang,
        principal,
        hooks=webhooks.webhooks(conn),
        log=webhooks.deliveries(conn, None, 50),
    )

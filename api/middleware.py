"""Cross-cutting HTTP behaviour: body size limit, security headers, audit of every write."""

from __future__ import annotations

import asyncio
import json
import logging

from starlette.middleware.base import BaseHTTPMiddleware
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from geo import audit

logger = logging.getLogger("gridmap.http")

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class BodySizeLimit:
    """Refuse request bodies above `limit` bytes with 413 problem+json, declared or streamed."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            return await self._too_large(scope, send)
        seen, refused = 0, False

        async def counted() -> Message:
            # a streamed (chunked) body: answer 413 as soon as it passes the limit, then
            # tell the app the client left, so the body parser stops (it would say 400)
            nonlocal seen, refused
            if refused:
                return {"type": "http.disconnect"}
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.limit:
                refused = True
                await self._too_large(scope, send)
                return {"type": "http.disconnect"}
            return message

        async def quiet(message: Message) -> None:
            if not refused:  # after the 413, whatever the app answers is dropped
                await send(message)

        try:
            await self.app(scope, counted, quiet)
        except Exception:
            if not refused:
                raise

    async def _too_large(self, scope: Scope, send: Send) -> None:
        body = json.dumps(
            {
                "type": "about:blank",
                "title": "Payload too large",
                "status": 413,
                "detail": f"the request body is over the limit of {self.limit:,} bytes "
                "(GRIDMAP_MAX_BODY_BYTES); split the file or raise the limit",
                "instance": scope["path"],
            }
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/problem+json"),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


class SecurityHeaders(BaseHTTPMiddleware):
    """nosniff and no-referrer everywhere; a same-origin content policy on HTML pages."""

    def __init__(self, app: ASGIApp, content_security_policy: str) -> None:
        super().__init__(app)
        self.csp = content_security_policy

    async def dispatch(self, request: Request, call_next):
        response = await call_next(request)
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "no-referrer"
        if response.headers.get("content-type", "").startswith("text/html"):
            response.headers["Content-Security-Policy"] = self.csp
            response.headers["X-Frame-Options"] = "SAMEORIGIN"
            response.headers["Permissions-Policy"] = "camera=(), microphone=(), payment=()"
        return response


class AuditWrites(BaseHTTPMiddleware):
    """One audit entry for every write request (who, what, status, from where)."""

    async def dispatch(self, request: Request, call_next):
        response = await call_next(request)
        if request.method in WRITE_METHODS and request.url.path != "/login":
            principal = getattr(request.state, "principal", None)
            with request.app.state.engine.begin() as conn:
                audit.record(
                    conn,
                    principal or "anonymous",
                    f"{request.method} {request.url.path}",
                    target=request.url.query or None,
                    status=response.status_code,
                    remote_addr=request.client.host if request.client else None,
                )
        return response


# -- robustness (issue 15) ------------------------------------------------------------


def _problem_bytes(status: int, title: str, detail: str, instance: str, **extra) -> bytes:
    body = {
        "type": "about:blank",
        "title": title,
        "status": status,
        "detail": detail,
        "instance": instance,
        **extra,
    }
    return json.dumps(body, ensure_ascii=False).encode()


async def send_problem(
    send: Send,
    status: int,
    title: str,
    detail: str,
    instance: str,
    headers: dict[str, str] | None = None,
    **extra,
) -> None:
    """Answer with an RFC 9457 problem from plain ASGI (outside FastAPI's handlers)."""
    body = _problem_bytes(status, title, detail, instance, **extra)
    raw = [
        (b"content-type", b"application/problem+json"),
        (b"content-length", str(len(body)).encode()),
        (b"x-content-type-options", b"nosniff"),
    ]
    raw += [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


class LastResort:
    """No exception leaves the app: whatever escaped the handlers becomes problem+json (503
    when the database is unreachable, else 500), logged with its traceback, and the
    connection stays open for the client's next request (uvicorn closes it otherwise)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        started = False

        async def tracked(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracked)
        except Exception as exc:
            from api.errors import answer_for_exception

            if started:  # too late for an answer: the client sees a cut-off response
                logger.exception("error after the response started: %s", scope["path"])
                return
            status, title, detail, headers = answer_for_exception(exc)
            if status >= 500:
                logger.error("unhandled error on %s", scope["path"], exc_info=exc)
            await send_problem(send, status, title, detail, scope["path"], headers=headers)


class NulGuard:
    """Refuse NUL characters in the path, the query and JSON bodies with 422 naming the
    field: PostgreSQL text cannot hold them, and nothing downstream expects them."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        instance = scope.get("path", "")
        if "\x00" in instance or b"%00" in scope.get("raw_path", b"").lower():
            return await self._refuse(send, instance, ["path"])
        query = scope.get("query_string", b"")
        if b"%00" in query or b"\x00" in query:
            from urllib.parse import parse_qsl

            pairs = parse_qsl(query.decode("latin-1"), keep_blank_values=True)
            name = next((k for k, v in pairs if "\x00" in k + v), "")
            return await self._refuse(send, instance, ["query", name.replace("\x00", "")])
        content_type = dict(scope["headers"]).get(b"content-type", b"").lower()
        if b"json" not in content_type:
            return await self.app(scope, receive, send)
        messages, body = [], b""
        while True:
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request":
                break
            body += message.get("body", b"")
            if not message.get("more_body", False):
                break
        if b"\\u0000" in body.lower():
            loc = _nul_location(body)
            if loc is not None:
                return await self._refuse(send, instance, ["body", *loc])

        async def replay() -> Message:
            return messages.pop(0) if messages else await receive()

        await self.app(scope, replay, send)

    async def _refuse(self, send: Send, instance: str, loc: list) -> None:
        where = ".".join(str(x) for x in loc if x != "")
        msg = "contains a NUL character (\\u0000), which text may not hold"
        await send_problem(
            send,
            422,
            "Invalid request",
            f"{where}: {msg}",
            instance,
            errors=[{"loc": loc, "msg": msg, "type": "nul_character"}],
        )


def _nul_location(body: bytes) -> list | None:
    """Where in a JSON document the first NUL character is (keys and values), or None."""
    try:
        document = json.loads(body)
    except ValueError:
        return None  # not JSON: the route's own validation says so

    def walk(node, path):
        if isinstance(node, str):
            return path if "\x00" in node else None
        if isinstance(node, dict):
            for key, value in node.items():
                if "\x00" in key:
                    return [*path, key.replace("\x00", "")]
                found = walk(value, [*path, key])
                if found is not None:
                    return found
        if isinstance(node, list):
            for k, value in enumerate(node):
                found = walk(value, [*path, k])
                if found is not None:
                    return found
        return None

    return walk(document, [])


#: paths that never need the database (answered even while it is down)
NO_DATABASE = ("/static/",)


class DatabaseGuard:
    """503 problem+json with Retry-After, at once, while the database watch says the database
    is unreachable (down or frozen) — also for requests already waiting on it — instead of
    errors or requests that hang. Recovers by itself when the watch sees it again."""

    def __init__(self, app: ASGIApp, retry_after: int, poll: float = 0.25) -> None:
        self.app, self.retry_after, self.poll = app, retry_after, poll

    def _watch(self, scope: Scope):
        app = scope.get("app")
        return getattr(getattr(app, "state", None), "database_watch", None)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        watch = self._watch(scope) if scope["type"] == "http" else None
        if watch is None or scope["path"].startswith(NO_DATABASE):
            return await self.app(scope, receive, send)
        if not watch.reachable:
            return await self._unavailable(scope, send, watch)
        started, given_up = asyncio.Event(), False

        async def guarded(message: Message) -> None:
            if given_up:
                return  # the client already has its 503
            if message["type"] == "http.response.start":
                started.set()
            await send(message)

        task = asyncio.ensure_future(self.app(scope, receive, guarded))
        while not task.done() and not started.is_set():
            await asyncio.wait({task}, timeout=self.poll)
            if not task.done() and not started.is_set() and not watch.reachable:
                given_up = True
                # the worker thread stays blocked until the database answers; its
                # outcome is dropped and the task ends by itself
                task.add_done_callback(_discard)
                return await self._unavailable(scope, send, watch)
        await task

    async def _unavailable(self, scope: Scope, send: Send, watch) -> None:
        await send_problem(
            send,
            503,
            "Database unreachable",
            f"{watch.reason()}. The service recovers by itself when it is back: retry in "
            f"{self.retry_after} s",
            scope["path"],
            headers={"Retry-After": str(self.retry_after)},
        )


def _discard(task: asyncio.Future) -> None:
    if not task.cancelled() and task.exception() is not None:
        logger.info("a request abandoned while the database was unreachable ended in an error")

"""Cross-cutting HTTP behaviour: request id and log line, body size limit, security headers,
audit of every write."""

from __future__ import annotations

import json
import logging
import re
import time
import uuid

from starlette.middleware.base import BaseHTTPMiddleware
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from geo import audit

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
#: a caller's X-Request-ID is kept when it looks like an id (no spaces, quotes or controls)
CALLER_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:@/+=-]{1,128}$")
http_log = logging.getLogger("gridmap.http")


def request_id_of(scope: Scope) -> str | None:
    """The id RequestContext gave this request (also `request.state.request_id`)."""
    return scope.get("state", {}).get("request_id")


def _caller(principal) -> str | None:
    """Role and token (or account) id of the caller: who, without a name."""
    if principal is None:
        return None
    role = getattr(getattr(principal, "role", None), "value", "unknown")
    for attribute, label in (("token_id", "token"), ("user_id", "user")):
        value = getattr(principal, attribute, None)
        if value is not None:
            return f"{role}:{label}{value}"
    return role


async def _internal_error(scope: Scope, send: Send, request_id: str) -> None:
    body = json.dumps(
        {
            "type": "about:blank",
            "title": "Internal server error",
            "status": 500,
            "detail": "the service failed on this request; quote the request id when you "
            "report it (the log line with this id says where)",
            "instance": scope["path"],
            "request_id": request_id,
        }
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 500,
            "headers": [
                (b"content-type", b"application/problem+json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class RequestContext:
    """The outermost layer: a request id (the caller's `X-Request-ID` if sane, else a new
    one) on `request.state.request_id` and on the answer, and one JSON log line per request:
    method, route template, status, duration, caller (role and token id, never a name).
    Query strings and bodies are never logged: they may hold names, phones, ID numbers."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        given = dict(scope["headers"]).get(b"x-request-id", b"").decode("latin-1")
        request_id = given if CALLER_REQUEST_ID.match(given) else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        started = time.perf_counter()
        status = 500

        started_answer = False

        async def send_with_id(message: Message) -> None:
            nonlocal status, started_answer
            if message["type"] == "http.response.start":
                status, started_answer = message["status"], True
                headers = [(k, v) for k, v in message.get("headers", []) if k != b"x-request-id"]
                headers.append((b"x-request-id", request_id.encode()))
                message = {**message, "headers": headers}
            await send(message)

        failed = None
        try:
            await self.app(scope, receive, send_with_id)
        except Exception as exc:
            failed = exc
            if not started_answer:  # a problem body with the id, not a bare text/plain 500
                await _internal_error(scope, send_with_id, request_id)
            raise
        finally:
            self._log(scope, request_id, status, time.perf_counter() - started, failed)

    @staticmethod
    def _log(scope: Scope, request_id: str, status: int, seconds: float, failed) -> None:
        route = scope.get("route")
        principal = scope.get("state", {}).get("principal")
        fields = {
            "request_id": request_id,
            "method": scope["method"],
            "route": scope.get("root_path", "") + route.path
            if getattr(route, "path", None)
            else None,
            "status": status,
            "duration_ms": round(seconds * 1000, 1),
            "user": _caller(principal),
        }
        level = logging.ERROR if failed is not None or status >= 500 else logging.INFO
        exc_info = (type(failed), failed, failed.__traceback__) if failed is not None else None
        http_log.log(level, "request", extra={"fields": fields}, exc_info=exc_info)


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
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.limit:
                raise _TooLarge
            return message

        try:
            await self.app(scope, counted, send)
        except _TooLarge:
            await self._too_large(scope, send)

    async def _too_large(self, scope: Scope, send: Send) -> None:
        body = json.dumps(
            {
                "type": "about:blank",
                "title": "Payload too large",
                "status": 413,
                "detail": f"the request body is over the limit of {self.limit:,} bytes "
                "(GRIDMAP_MAX_BODY_BYTES); split the file or raise the limit",
                "instance": scope["path"],
                "request_id": request_id_of(scope),
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


class _TooLarge(Exception):
    pass


class SecurityHeaders(BaseHTTPMiddleware):
    """nosniff and a same-origin referrer policy everywhere; a content policy on HTML pages."""

    def __init__(self, app: ASGIApp, content_security_policy: str) -> None:
        super().__init__(app)
        self.csp = content_security_policy

    async def dispatch(self, request: Request, call_next):
        response = await call_next(request)
        response.headers["X-Content-Type-Options"] = "nosniff"
        # same-origin: nothing leaks to other sites, and a same-origin form post keeps its
        # Origin (under no-referrer it is "null"), which the CSRF check compares
        response.headers["Referrer-Policy"] = "same-origin"
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


#: root-relative URLs in HTML attributes: href="/x", src='/x', action="/x" (not "//host")
_ROOT_RELATIVE = re.compile(rb"""\b(href|src|action)=(["'])/(?!/)""")
_FETCH_SHIM = """<script>(function (root) {
  function fix(u) {
    return typeof u === "string" && u.charAt(0) === "/" && u.charAt(1) !== "/" &&
      u.indexOf(root + "/") !== 0 ? root + u : u;
  }
  var fetch0 = window.fetch;
  if (fetch0) window.fetch = function (u, o) { return fetch0.call(this, fix(u), o); };
  var open0 = XMLHttpRequest.prototype.open;
  XMLHttpRequest.prototype.open = function (m, u) {
    arguments[1] = fix(u);
    return open0.apply(this, arguments);
  };
})(%s);</script>"""


class RootPath:
    """Serving under a sub-path (`GRIDMAP_ROOT_PATH`, e.g. `/gridmap` behind nginx).

    The pages and scripts are written for `/`: links `/maps/...`, fetches `/api/...`,
    redirects to `/login`. Under a sub-path this layer puts the prefix in front of them on
    the way out: root-relative `href`/`src`/`action` in HTML, the `Location` of redirects,
    and (a small script at the top of every HTML page) the paths scripts fetch. Links built
    from `request.base_url` (the OGC API's) already carry the prefix and are left alone.
    Inactive when the root path is empty."""

    def __init__(self, app: ASGIApp, root_path: str) -> None:
        self.app = app
        self.root = root_path.rstrip("/")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self.root:
            return await self.app(scope, receive, send)
        scope["root_path"] = self.root
        if not scope["path"].startswith(self.root + "/"):  # the ASGI way: path includes it
            scope["path"] = self.root + scope["path"]
            scope["raw_path"] = self.root.encode() + scope.get("raw_path", b"")
        # plain bodies, so HTML can be rewritten (GZip, outside this layer, compresses again)
        scope["headers"] = [(k, v) for k, v in scope["headers"] if k != b"accept-encoding"]
        root = self.root.encode()
        start: Message | None = None
        html_parts: list[bytes] = []

        async def rewrite(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                headers = []
                for key, value in message.get("headers", []):
                    if (
                        key == b"location"
                        and value.startswith(b"/")
                        and not (value.startswith(b"//") or value.startswith(root + b"/"))
                    ):
                        value = root + value
                    headers.append((key, value))
                message = {**message, "headers": headers}
                kind = dict(headers).get(b"content-type", b"")
                if kind.startswith(b"text/html"):
                    start = message  # held until the whole page is in
                    return
                await send(message)
                return
            if start is None:
                await send(message)
                return
            html_parts.append(message.get("body", b""))
            if message.get("more_body"):
                return
            body = self._page(b"".join(html_parts))
            headers = [(k, v) for k, v in start["headers"] if k != b"content-length"]
            headers.append((b"content-length", str(len(body)).encode()))
            await send({**start, "headers": headers})
            await send({"type": "http.response.body", "body": body})

        await self.app(scope, receive, rewrite)

    def _page(self, body: bytes) -> bytes:
        root = self.root.encode()
        body = _ROOT_RELATIVE.sub(lambda m: m.group(1) + b"=" + m.group(2) + root + b"/", body)
        # links that already carry the prefix (built from request.base_url) stay as they were
        body = body.replace(b'="' + root + root + b"/", b'="' + root + b"/")
        body = body.replace(b"='" + root + root + b"/", b"='" + root + b"/")
        shim = (_FETCH_SHIM % json.dumps(self.root)).encode()
        head = body.find(b"<head>")
        if head >= 0:
            return body[: head + 6] + shim + body[head + 6 :]
        return shim + body

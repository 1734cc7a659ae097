"""Cross-cutting HTTP behaviour: request id and log line, body size limit, security headers,
audit of every write."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
import uuid

from starlette.middleware.base import BaseHTTPMiddleware
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from geo.access import audit, tenants
from geo.core import tenancy

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
            failed = scope["state"].get("unhandled_error")  # answered by LastResort
        except Exception as exc:
            failed = exc
            if not started_answer:  # a problem body with the id, not a bare text/plain 500
                await send_problem(
                    send_with_id,
                    500,
                    "Internal server error",
                    "the service failed on this request; quote the request id when you "
                    "report it (the log line with this id says where)",
                    scope["path"],
                    request_id=request_id,
                )
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
            scope = tenants.scope_of(principal)  # the entry belongs to the caller's sub-district
            with tenancy.scoped(scope), request.app.state.engine.begin() as conn:
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


# -- robustness (issue 15) ------------------------------------------------------------


def _problem_bytes(status: int, title: str, detail: str, instance: str, **extra) -> bytes:
    from api.errors import problem_body

    body = problem_body(status, title, detail, instance, **extra)
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


def _unhandled(scope: Scope, exc: Exception) -> None:
    """An error no handler took: RequestContext's one log line for the request carries it
    (type and frames); without that layer around, it is logged here."""
    state = scope.setdefault("state", {})
    if "request_id" in state:
        state["unhandled_error"] = exc
    else:
        http_log.error("unhandled error on %s", scope["path"], exc_info=exc)


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

            status, title, detail, headers = answer_for_exception(exc)
            if status >= 500:
                _unhandled(scope, exc)
            if started:  # too late for an answer: the client sees a cut-off response
                return
            await send_problem(
                send,
                status,
                title,
                detail,
                scope["path"],
                headers=headers,
                request_id=request_id_of(scope),
            )


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
        path = scope["path"][len(scope.get("root_path", "")) :] if watch else ""
        if watch is None or path.startswith(NO_DATABASE):
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
            request_id=request_id_of(scope),
        )


def _discard(task: asyncio.Future) -> None:
    if not task.cancelled() and task.exception() is not None:
        http_log.info("a request abandoned while the database was unreachable ended in an error")


class ReadRouting:
    """Read-your-own-writes around the read replica (`geo.ops.readpath.ReadRouter` on
    `app.state.reads`): a caller's successful write holds their reads on the primary from
    the moment it is answered, and once the request is over the primary's data version
    (its transaction committed before the answer: `api.deps.CONN`) is noted for them.
    Also `X-Read-Source: replica|primary` on answers whose reads went through
    `api.deps.READ_CONN`, so an operator (and the tests) can see where reads go."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        state = scope.setdefault("state", {})
        reads = getattr(getattr(scope.get("app"), "state", None), "reads", None)
        writer = None

        async def send_with_source(message: Message) -> None:
            nonlocal writer
            if message["type"] == "http.response.start":
                principal = state.get("principal")
                if (
                    reads is not None
                    and principal is not None
                    and scope["method"] in WRITE_METHODS
                    and message["status"] < 400
                ):
                    writer = principal.id
                    reads.hold(writer)
                if state.get("read_source"):
                    source = state["read_source"].encode()
                    headers = [*message.get("headers", []), (b"x-read-source", source)]
                    message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_source)
        if writer is not None:
            await asyncio.to_thread(reads.note_write, writer)

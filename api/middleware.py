"""Cross-cutting HTTP behaviour: body size limit, security headers, audit of every write."""

from __future__ import annotations

import json

from starlette.middleware.base import BaseHTTPMiddleware
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from geo import audit

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

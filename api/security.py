"""Authentication and role checks, as dependencies.

Programs send a token: `Authorization: Bearer <token>`, or HTTP Basic with the token as the
password (any user name) for GIS clients that cannot send a Bearer header. People carry the
session cookie set by `/login`; a write authenticated by that cookie must come from this
site (Origin/Referer) and carry the session's CSRF token (header `X-CSRF-Token` or form
field `csrf_token`), else 403. Bad tokens are throttled per address (429 + Retry-After).

@router.get("/api/coverage")
def coverage(principal: Principal = Depends(require(Permission.READ_COVERAGE))): ...
"""

from __future__ import annotations

import base64
import binascii
from urllib.parse import urlsplit

from fastapi import Depends, HTTPException, Request
from starlette.concurrency import run_in_threadpool

from geo.access import audit, sessions, tenants, throttle
from geo.access.roles import Permission, Principal, authenticate
from geo.core import tenancy

COOKIE = "gridmap_session"
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"
SIGN_IN = (
    "sign in: send `Authorization: Bearer <token>` (or the token as the Basic password), "
    "or log in at /login"
)
CHALLENGE = 'Bearer realm="gridmap", Basic realm="gridmap"'
INVALID_TOKEN = 'Bearer realm="gridmap", error="invalid_token", Basic realm="gridmap"'
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
#: what a person who still holds a one-time password may reach: their account, and out
FIRST_SIGN_IN_PATHS = frozenset({"/account", "/account/password", "/logout", "/api/me"})


def _token(request: Request) -> str | None:
    """The token of a Bearer header, or the password of a Basic one."""
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    value = value.strip()
    if scheme.lower() == "bearer" and value:
        return value
    if scheme.lower() == "basic" and value:
        try:
            decoded = base64.b64decode(value, validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            return None
        return decoded.partition(":")[2] or None
    return None


def client_address(request: Request) -> str | None:
    return request.client.host if request.client else None


def _by_token(engine, token: str, address: str | None) -> Principal | None:
    with engine.begin() as conn:
        throttle.check(conn, throttle.TOKEN, None, address)
        principal = authenticate(conn, token)
        if principal is None:
            throttle.record_failure(conn, throttle.TOKEN, None, address)
            audit.record(conn, "anonymous", "token_failed", status=401, remote_addr=address)
    return principal


def _by_session(engine, cookie: str) -> Principal | None:
    with engine.begin() as conn:
        return sessions.resolve(conn, cookie)


def same_site(request: Request) -> bool:
    """The request's Origin (else Referer), when sent, names this host and port."""
    source = request.headers.get("origin") or request.headers.get("referer")
    if source is None:
        return True  # neither sent (old clients, privacy tools): the CSRF token decides
    return urlsplit(source).netloc == request.headers.get("host", "")


async def _check_csrf(request: Request, cookie: str) -> None:
    """403 unless a cookie-authenticated write is same-site and carries the CSRF token."""
    if not same_site(request):
        raise HTTPException(403, "cross-site request refused: the Origin is not this site")
    sent = request.headers.get(CSRF_HEADER)
    content_type = request.headers.get("content-type", "")
    if not sent and content_type.startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        form = await request.form()
        value = form.get(CSRF_FIELD)
        sent = value if isinstance(value, str) else None
    if not sessions.csrf_matches(cookie, sent):
        raise HTTPException(
            403,
            f"the CSRF token is missing or wrong: send header {CSRF_HEADER} with the page's "
            f'<meta name="csrf-token"> (or form field {CSRF_FIELD}); reload the page',
        )


async def current_principal(request: Request) -> Principal:
    """The caller, or 401. Stored on `request.state.principal` for the audit middleware;
    a session's CSRF token on `request.state.csrf_token` for the pages."""
    known = getattr(request.state, "principal", None)
    if known is not None:
        tenancy.enter(tenants.scope_of(known))
        return known
    engine = request.app.state.engine
    token = _token(request)
    cookie = request.cookies.get(COOKIE)
    if token is not None:
        principal = await run_in_threadpool(_by_token, engine, token, client_address(request))
        if principal is None:
            raise HTTPException(
                401,
                f"the token is unknown, expired or revoked; {SIGN_IN}",
                headers={"WWW-Authenticate": INVALID_TOKEN},
            )
    elif cookie and not request.headers.get("authorization"):
        principal = await run_in_threadpool(_by_session, engine, cookie)
        if principal is None:
            raise HTTPException(
                401, f"the session has ended; {SIGN_IN}", headers={"WWW-Authenticate": CHALLENGE}
            )
        request.state.csrf_token = sessions.csrf_token(cookie)
        if request.method in WRITE_METHODS:
            await _check_csrf(request, cookie)
        if principal.must_change_password and request.url.path not in FIRST_SIGN_IN_PATHS:
            if request.method == "GET" and not request.url.path.startswith(("/api/", "/ogc")):
                raise HTTPException(
                    303, "change your password first", headers={"Location": "/account"}
                )
            raise HTTPException(
                403, "change your one-time password first, at /account (你需先修改一次性密码)"
            )
    else:
        raise HTTPException(
            401, f"authentication required; {SIGN_IN}", headers={"WWW-Authenticate": CHALLENGE}
        )
    request.state.principal = principal
    # from here on every transaction of this request works for the caller's sub-district
    tenancy.enter(tenants.scope_of(principal))
    return principal


def require(permission: Permission):
    """A dependency returning the caller if one of their roles has `permission`, else 403."""

    def check(principal: Principal = Depends(current_principal)) -> Principal:
        if not principal.can(permission):
            raise HTTPException(
                403, f"the role {principal.role.value!r} may not do this (needs {permission.value})"
            )
        return principal

    check.permission = permission  # read by the route-table test and the docs
    return check


def signed_in_person(principal: Principal = Depends(current_principal)) -> Principal:
    """The caller, if a person signed in with a session (not a program's token), else 403."""
    if principal.session_id is None:
        raise HTTPException(403, "only a person signed in at /login manages their account here")
    return principal

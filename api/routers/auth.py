"""Sign-in for people (`/login` starts a server-side session), tokens and the audit log."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Form, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import BaseModel, Field

from api.deps import CONN
from api.params import MAX_BIGINT, IsoDateTime
from api.security import COOKIE, client_address, current_principal, require, same_site
from api.web import page_language, render
from geo.access import accounts, audit, sessions, throttle
from geo.access import roles as access
from geo.access.roles import Permission, Principal, Role
from geo.core.errors import TooManyRequests
from geo.core.settings import get_settings
from geo.publish.messages import message

router = APIRouter(tags=["access"])


def _safe_next(target: str | None) -> str:
    """Only same-site paths: no open redirect to another host."""
    if target and target.startswith("/") and not target.startswith("//"):
        return target
    return "/"


@router.get("/login", response_class=HTMLResponse, include_in_schema=False)
def login_page(
    request: Request, next: str = "/", lang: str = Depends(page_language)
) -> HTMLResponse:
    return render(request, "login.html", lang, next=_safe_next(next))


@router.post("/login", response_class=HTMLResponse, include_in_schema=False)
def login(
    request: Request,
    username: str = Form("", max_length=200),
    password: str = Form("", max_length=400),
    next: str = Form("/"),
    lang: str = Depends(page_language),
    conn=CONN,
):
    """Name and password → a session cookie (random; only its hash is stored)."""
    remote = client_address(request)
    target = _safe_next(next)

    def refuse(status: int, key: str, headers: dict | None = None, **values) -> HTMLResponse:
        page = render(
            request,
            "login.html",
            lang,
            status_code=status,
            next=target,
            username=username,
            error=message(key, lang, **values),
        )
        page.headers.update(headers or {})
        return page

    if not same_site(request):
        return refuse(403, "login.cross_site")
    try:
        throttle.check(conn, throttle.LOGIN, username.strip().lower(), remote)
    except TooManyRequests as e:
        audit.record(
            conn,
            "anonymous",
            "login_throttled",
            target=username[:64],
            status=429,
            remote_addr=remote,
        )
        return refuse(
            429, "login.throttled", {"Retry-After": str(e.retry_after)}, seconds=e.retry_after
        )
    user = accounts.verify_login(conn, username, password) if username and password else None
    if user is None:
        throttle.record_failure(conn, throttle.LOGIN, username.strip().lower(), remote)
        audit.record(
            conn, "anonymous", "login_failed", target=username[:64], status=401, remote_addr=remote
        )
        return refuse(401, "login.bad_password")
    throttle.forget_account(conn, username.strip().lower())
    cookie = sessions.start(conn, user.id)
    audit.record(conn, user.principal(), "login", status=303, remote_addr=remote)
    response = RedirectResponse(
        "/account" if user.must_change_password else target, status_code=303
    )
    response.set_cookie(
        COOKIE,
        cookie,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        max_age=get_settings().session_max_hours * 3600,
    )
    return response


@router.post("/logout", include_in_schema=False)
async def logout(request: Request) -> RedirectResponse:
    """End the session at once (its cookie is refused afterwards) and forget the cookie."""
    cookie = request.cookies.get(COOKIE)
    try:
        principal = await current_principal(request) if cookie else None
    except HTTPException as refused:
        if refused.status_code != 401:  # a forged sign-out (no CSRF token) changes nothing
            raise
        principal = None  # the session had already ended
    if principal is not None:
        with request.app.state.engine.begin() as conn:
            sessions.end(conn, cookie)
            audit.record(conn, principal, "logout", status=303, remote_addr=client_address(request))
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(COOKIE)
    return response


class Me(BaseModel):
    id: str = Field(description="stable identity: `user:ID` for a person, `token:ID` otherwise")
    name: str
    role: Role
    roles: list[Role]
    role_zh: str
    permissions: list[str]
    scope_codes: list[str]


@router.get("/api/me", response_model=Me, summary="Who the token or session stands for")
def me(principal: Principal = Depends(current_principal)) -> Me:
    permissions = set().union(*(access.ROLE_PERMISSIONS[r] for r in principal.roles))
    return Me(
        id=principal.id,
        name=principal.name,
        role=principal.role,
        roles=list(principal.roles),
        role_zh=access.ROLE_LABELS[principal.role][0],
        permissions=sorted(p.value for p in permissions),
        scope_codes=list(principal.scope_codes),
    )


class NewToken(BaseModel):
    role: Role
    name: str = Field(min_length=1, max_length=80)
    scope_codes: list[str] = Field(default_factory=list, description="a grid worker's grids")
    worker_id: str | None = Field(None, description="or the grid worker resource they are")


@router.get("/api/tokens", summary="List tokens (admin)")
def list_tokens(_: Principal = Depends(require(Permission.MANAGE_TOKENS)), conn=CONN) -> list[dict]:
    return [t.__dict__ for t in access.list_tokens(conn)]


@router.post("/api/tokens", status_code=201, summary="Create a token; shown once (admin)")
def create_token(
    body: NewToken,
    _: Principal = Depends(require(Permission.MANAGE_TOKENS)),
    conn=CONN,
) -> dict:
    token = access.create_token(conn, body.role, body.name, body.scope_codes, body.worker_id)
    return {"token": token, "role": body.role, "name": body.name}


@router.delete("/api/tokens/{token_id}", status_code=204, summary="Revoke a token (admin)")
def revoke_token(
    token_id: int, _: Principal = Depends(require(Permission.MANAGE_TOKENS)), conn=CONN
) -> None:
    access.revoke_token(conn, token_id)


@router.get("/api/audit", summary="The audit log, newest first (admin)")
def audit_log(
    since: IsoDateTime | None = None,
    action: str | None = Query(None, description="prefix, e.g. `login` or `POST`"),
    actor: str | None = None,
    limit: int = Query(100, ge=1, le=1000),
    offset: int = Query(0, ge=0, le=MAX_BIGINT),
    _: Principal = Depends(require(Permission.READ_AUDIT)),
    conn=CONN,
) -> list[dict]:
    return audit.entries(conn, since, action, actor, limit, offset)

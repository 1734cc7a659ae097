"""Sign-in for people (`/login` sets an HttpOnly cookie), tokens and the audit log for admins."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import BaseModel, Field

from api.deps import get_conn
from api.params import MAX_BIGINT, IsoDateTime
from api.security import COOKIE, current_principal, require
from api.web import page_language, render
from geo import access, audit
from geo.access import Permission, Principal, Role
from geo.messages import message

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
    token: str = Form(...),
    next: str = Form("/"),
    lang: str = Depends(page_language),
    conn=Depends(get_conn),
):
    remote = request.client.host if request.client else None
    principal = access.authenticate(conn, token.strip())
    if principal is None:
        audit.record(conn, "anonymous", "login_failed", status=401, remote_addr=remote)
        return render(
            request,
            "login.html",
            lang,
            status_code=401,
            next=_safe_next(next),
            error=message("login.bad_token", lang),
        )
    audit.record(conn, principal, "login", status=303, remote_addr=remote)
    response = RedirectResponse(_safe_next(next), status_code=303)
    response.set_cookie(
        COOKIE,
        token.strip(),
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        max_age=12 * 3600,
    )
    return response


@router.post("/logout", include_in_schema=False)
def logout() -> RedirectResponse:
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(COOKIE)
    return response


class Me(BaseModel):
    name: str
    role: Role
    role_zh: str
    permissions: list[str]
    scope_codes: list[str]


@router.get("/api/me", response_model=Me, summary="Who the token stands for")
def me(principal: Principal = Depends(current_principal)) -> Me:
    return Me(
        name=principal.name,
        role=principal.role,
        role_zh=access.ROLE_LABELS[principal.role][0],
        permissions=sorted(p.value for p in access.ROLE_PERMISSIONS[principal.role]),
        scope_codes=list(principal.scope_codes),
    )


class NewToken(BaseModel):
    role: Role
    name: str = Field(min_length=1, max_length=80)
    scope_codes: list[str] = Field(default_factory=list, description="a grid worker's grids")
    worker_id: str | None = Field(None, description="or the grid worker resource they are")


@router.get("/api/tokens", summary="List tokens (admin)")
def list_tokens(
    _: Principal = Depends(require(Permission.MANAGE_TOKENS)), conn=Depends(get_conn)
) -> list[dict]:
    return [t.__dict__ for t in access.list_tokens(conn)]


@router.post("/api/tokens", status_code=201, summary="Create a token; shown once (admin)")
def create_token(
    body: NewToken,
    _: Principal = Depends(require(Permission.MANAGE_TOKENS)),
    conn=Depends(get_conn),
) -> dict:
    token = access.create_token(conn, body.role, body.name, body.scope_codes, body.worker_id)
    return {"token": token, "role": body.role, "name": body.name}


@router.delete("/api/tokens/{token_id}", status_code=204, summary="Revoke a token (admin)")
def revoke_token(
    token_id: int, _: Principal = Depends(require(Permission.MANAGE_TOKENS)), conn=Depends(get_conn)
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
    conn=Depends(get_conn),
) -> list[dict]:
    return audit.entries(conn, since, action, actor, limit, offset)

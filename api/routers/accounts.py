"""People's accounts: the admin's users API and screen (`/admin/users`), and each person's
own page (`/account`: change the password, personal access tokens for their programs).

The screens are plain forms (each carrying the session's `csrf_token`); a secret that is
shown once (a one-time password, a new token) is printed in the answer to the form.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import BaseModel, Field

from api.deps import CONN
from api.security import require, signed_in_person
from api.web import page_language, render
from geo.access import accounts, sessions
from geo.access.roles import Permission, Principal, Role
from geo.core.errors import GridmapError, InvalidInput
from geo.core.settings import get_settings

router = APIRouter(tags=["accounts"])

MANAGE_USERS = require(Permission.MANAGE_USERS)


def _user_json(user: accounts.User) -> dict:
    return {
        "id": user.id,
        "login": user.login,
        "display_name": user.display_name,
        "roles": user.roles,
        "worker_id": user.worker_id,
        "scope_codes": user.scope_codes,
        "must_change_password": user.must_change_password,
        "disabled": user.disabled,
        "created_at": user.created_at,
    }


class NewUser(BaseModel):
    login: str = Field(min_length=1, max_length=64, description="e.g. a mobile number")
    display_name: str = Field(min_length=1, max_length=80)
    roles: list[Role] = Field(min_length=1)
    worker_id: str | None = Field(None, max_length=40, description="a grid worker's record")
    grids: list[str] = Field(default_factory=list, description="or the unit codes they serve")


@router.get("/api/users", summary="List users (admin)")
def list_users(_: Principal = Depends(MANAGE_USERS), conn=CONN) -> list[dict]:
    return [_user_json(u) for u in accounts.list_users(conn)]


@router.post(
    "/api/users", status_code=201, summary="Create a user; the one-time password is shown once"
)
def create_user(body: NewUser, _: Principal = Depends(MANAGE_USERS), conn=CONN) -> dict:
    user_id, password = accounts.create_user(
        conn,
        body.login,
        [r.value for r in body.roles],
        body.display_name,
        body.worker_id,
        body.grids,
    )
    return {"id": user_id, "login": body.login.strip(), "one_time_password": password}


@router.post("/api/users/{user_id}/disable", summary="Disable a user: sessions and tokens end")
def disable_user(user_id: int, _: Principal = Depends(MANAGE_USERS), conn=CONN) -> dict:
    return _user_json(accounts.disable_user(conn, user_id))


@router.post(
    "/api/users/{user_id}/reset-password",
    summary="A new one-time password (shown once); the user's sessions end",
)
def reset_password(user_id: int, _: Principal = Depends(MANAGE_USERS), conn=CONN) -> dict:
    return {"id": user_id, "one_time_password": accounts.reset_password(conn, user_id)}


# ------------------------------------------------------------------ the admin's screen


def _users_page(request, lang, principal, conn, status=200, **context) -> HTMLResponse:
    return render(
        request,
        "users.html",
        lang,
        principal,
        status_code=status,
        users=accounts.list_users(conn),
        roles=[r.value for r in Role],
        workers=accounts.grid_workers(conn),
        **context,
    )


@router.get("/admin/users", response_class=HTMLResponse, include_in_schema=False)
def users_screen(
    request: Request,
    lang: str = Depends(page_language),
    principal: Principal = Depends(MANAGE_USERS),
    conn=CONN,
) -> HTMLResponse:
    return _users_page(request, lang, principal, conn)


@router.post("/admin/users", response_class=HTMLResponse, include_in_schema=False)
def users_screen_create(
    request: Request,
    login: str = Form("", max_length=200),
    display_name: str = Form("", max_length=200),
    roles: list[str] = Form(default_factory=list),
    worker_id: str = Form("", max_length=40),
    grid: str = Form("", max_length=32),
    lang: str = Depends(page_language),
    principal: Principal = Depends(MANAGE_USERS),
    conn=CONN,
) -> HTMLResponse:
    try:
        _, password = accounts.create_user(
            conn,
            login,
            roles,
            display_name,
            worker_id.strip() or None,
            [grid.strip()] if grid.strip() else [],
        )
    except GridmapError as e:
        return _users_page(
            request,
            lang,
            principal,
            conn,
            422,
            error=e.detail,
            field=e.extra.get("field"),
            form={
                "login": login,
                "display_name": display_name,
                "roles": roles,
                "worker_id": worker_id,
                "grid": grid,
            },
        )
    return _users_page(
        request, lang, principal, conn, 201, secret_for=login.strip(), secret=password
    )


@router.post("/admin/users/{user_id}/disable", response_class=HTMLResponse, include_in_schema=False)
def users_screen_disable(
    request: Request,
    user_id: int,
    lang: str = Depends(page_language),
    principal: Principal = Depends(MANAGE_USERS),
    conn=CONN,
):
    try:
        accounts.disable_user(conn, user_id)
    except GridmapError as e:
        return _users_page(request, lang, principal, conn, 422, error=e.detail)
    return RedirectResponse("/admin/users", status_code=303)


@router.post(
    "/admin/users/{user_id}/reset-password", response_class=HTMLResponse, include_in_schema=False
)
def users_screen_reset(
    request: Request,
    user_id: int,
    lang: str = Depends(page_language),
    principal: Principal = Depends(MANAGE_USERS),
    conn=CONN,
) -> HTMLResponse:
    password = accounts.reset_password(conn, user_id)
    login = accounts.get_user(conn, user_id).login
    return _users_page(request, lang, principal, conn, secret_for=login, secret=password)


# ------------------------------------------------------------------ one's own page


def _account_page(request, lang, principal, conn, status=200, **context) -> HTMLResponse:
    return render(
        request,
        "account.html",
        lang,
        principal,
        status_code=status,
        user=accounts.get_user(conn, principal.user_id),
        tokens=accounts.list_personal_tokens(conn, principal.user_id),
        default_days=accounts.default_token_days(),
        max_days=get_settings().token_max_days,
        policy_length=get_settings().password_min_length,
        **context,
    )


@router.get("/account", response_class=HTMLResponse, include_in_schema=False)
def account_page(
    request: Request,
    lang: str = Depends(page_language),
    principal: Principal = Depends(signed_in_person),
    conn=CONN,
) -> HTMLResponse:
    return _account_page(request, lang, principal, conn)


@router.post("/account/password", response_class=HTMLResponse, include_in_schema=False)
def change_password(
    request: Request,
    current_password: str = Form("", max_length=400),
    new_password: str = Form("", max_length=400),
    new_password_again: str = Form("", max_length=400),
    lang: str = Depends(page_language),
    principal: Principal = Depends(signed_in_person),
    conn=CONN,
):
    try:
        if new_password != new_password_again:
            raise InvalidInput(
                "the two new passwords differ · 两次输入的新密码不一致", field="new_password_again"
            )
        accounts.change_password(conn, principal.user_id, current_password, new_password)
    except GridmapError as e:
        return _account_page(
            request, lang, principal, conn, 422, error=e.detail, field=e.extra.get("field")
        )
    sessions.end_others(conn, principal.user_id, principal.session_id)
    return RedirectResponse("/?password_changed=1", status_code=303)


@router.post("/account/tokens", response_class=HTMLResponse, include_in_schema=False)
def create_token(
    request: Request,
    name: str = Form("", max_length=200),
    days: int = Form(90, ge=1, le=3650),
    roles: list[str] = Form(default_factory=list),
    lang: str = Depends(page_language),
    principal: Principal = Depends(signed_in_person),
    conn=CONN,
) -> HTMLResponse:
    try:
        token = accounts.create_personal_token(conn, principal.user_id, name, roles, days)
    except GridmapError as e:
        return _account_page(
            request, lang, principal, conn, 422, error=e.detail, field=e.extra.get("field")
        )
    return _account_page(
        request, lang, principal, conn, 201, new_token=token, new_token_name=name.strip()
    )


@router.post(
    "/account/tokens/{token_id}/revoke", response_class=HTMLResponse, include_in_schema=False
)
def revoke_token(
    token_id: int,
    principal: Principal = Depends(signed_in_person),
    conn=CONN,
) -> RedirectResponse:
    accounts.revoke_personal_token(conn, principal.user_id, token_id)
    return RedirectResponse("/account", status_code=303)

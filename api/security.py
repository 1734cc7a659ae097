"""Authentication (Bearer header or the login cookie) and role checks, as dependencies.

@router.get("/api/coverage")
def coverage(principal: Principal = Depends(require(Permission.READ_COVERAGE))): ...
"""

from __future__ import annotations

from fastapi import Depends, HTTPException, Request

from geo.access import Permission, Principal, authenticate

COOKIE = "gridmap_session"
SIGN_IN = "sign in: send `Authorization: Bearer <token>`, or log in at /login"


def _token(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return request.cookies.get(COOKIE)


def current_principal(request: Request) -> Principal:
    """The caller, or 401. Stored on `request.state.principal` for the audit middleware."""
    token = _token(request)
    if not token:
        raise HTTPException(
            401, f"authentication required; {SIGN_IN}", headers={"WWW-Authenticate": "Bearer"}
        )
    with request.app.state.engine.begin() as conn:
        principal = authenticate(conn, token)
    if principal is None:
        raise HTTPException(
            401,
            f"the token is unknown or revoked; {SIGN_IN}",
            headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
        )
    request.state.principal = principal
    return principal


def require(permission: Permission):
    """A dependency returning the caller if their role has `permission`, else 403."""

    def check(principal: Principal = Depends(current_principal)) -> Principal:
        if not principal.can(permission):
            raise HTTPException(
                403, f"the role {principal.role.value!r} may not do this (needs {permission.value})"
            )
        return principal

    check.permission = permission  # read by the route-table test and the docs
    return check

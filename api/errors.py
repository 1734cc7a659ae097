"""Errors as RFC 9457 `application/problem+json`: one table maps domain errors to statuses."""

from __future__ import annotations

from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from sqlalchemy import exc as sa
from starlette.exceptions import HTTPException

from api import web
from geo.core import errors
from geo.core.settings import get_settings
from geo.planning.plans import is_lock_refusal

PROBLEM = "application/problem+json"

STATUS: dict[type[errors.GridmapError], int] = {
    errors.BadQuery: 400,
    errors.InvalidInput: 422,
    errors.NotFound: 404,
    errors.Forbidden: 403,
    errors.Conflict: 409,
    errors.PreconditionFailed: 412,
    errors.PreconditionRequired: 428,
    errors.AlreadySeeded: 409,
    errors.DatabaseUnreachable: 503,
    errors.SetupError: 503,
    errors.TooLarge: 413,
    errors.TooManyRequests: 429,
}


def problem_body(status: int, title: str, detail: str, instance: str, **extra) -> dict:
    """The members of an RFC 9457 problem; `extra` ones (where, rows, ...) after the five."""
    return {
        "type": "about:blank",
        "title": title,
        "status": status,
        "detail": detail,
        "instance": instance,
        **extra,
    }


def problem(
    status: int,
    title: str,
    detail: str,
    instance: str,
    headers: dict[str, str] | None = None,
    **extra,
) -> JSONResponse:
    """An RFC 9457 problem response; `extra` members (where, rows, ...) go into the body."""
    extra.setdefault("request_id", None)
    body = problem_body(status, title, detail, instance, **extra)
    if status == 503:
        headers = {"Retry-After": str(get_settings().db_retry_after_s), **(headers or {})}
    return JSONResponse(body, status_code=status, media_type=PROBLEM, headers=headers)


def _request_id(request: Request) -> str | None:
    """The id `api.middleware.RequestContext` gave the request (also its X-Request-ID)."""
    return getattr(request.state, "request_id", None)


def route_path(request: Request) -> str:
    """The request's path without the sub-path the service runs under (GRIDMAP_ROOT_PATH)."""
    path, root = request.url.path, request.scope.get("root_path", "")
    return path[len(root) :] if root and path.startswith(root + "/") else path


def _is_ogc(request: Request) -> bool:
    """OGC API – Features answers bad parameters with 400, not 422."""
    return route_path(request) == "/ogc" or route_path(request).startswith("/ogc/")


def answer_for_exception(exc: BaseException) -> tuple[int, str, str, dict[str, str]]:
    """(status, title, detail, headers) for an exception no handler took: the database not
    answering is 503 with Retry-After; text PostgreSQL cannot hold (NUL) or a number out of
    its range is the client's 422; anything else is the server's 500, said without details."""
    if isinstance(exc, sa.OperationalError | sa.TimeoutError | errors.DatabaseUnreachable):
        retry = str(get_settings().db_retry_after_s)
        return (
            503,
            "Database unreachable",
            f"the database is not answering (down, stopped or overloaded); retry in {retry} s",
            {"Retry-After": retry},
        )
    if isinstance(exc, sa.DBAPIError) and is_lock_refusal(exc):
        # a single edit of a sector a plan locked (the units trigger of revision 0016p)
        return 409, "Conflict", exc.orig.diag.message_primary, {}
    if isinstance(exc, sa.DataError) or (isinstance(exc, ValueError) and "NUL (0x00)" in str(exc)):
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        return 422, "Invalid request", f"a value of the request is not acceptable: {reason}", {}
    return (
        500,
        "Internal error",
        "the server failed on this request; it was logged. Retry, or report the time and "
        "address to the administrator",
        {},
    )


def _is_page(request: Request) -> bool:
    """A browser asking for an HTML page (not an API or OGC call)."""
    api = route_path(request).startswith(("/api/", "/ogc/", "/openapi.json"))
    return not api and "text/html" in request.headers.get("accept", "")


def _status_of(exc: errors.GridmapError) -> int:
    for cls in type(exc).__mro__:
        if cls in STATUS:
            return STATUS[cls]
    return 400


def install(app: FastAPI) -> None:
    """Install the handlers that turn every error into problem+json."""

    @app.exception_handler(errors.GridmapError)
    async def domain_error(request: Request, exc: errors.GridmapError) -> JSONResponse:
        retry = getattr(exc, "retry_after", None)
        headers = {"Retry-After": str(retry)} if retry is not None else None
        return problem(
            _status_of(exc),
            exc.title,
            exc.detail,
            request.url.path,
            headers,
            **{"request_id": _request_id(request), **exc.extra},
        )

    @app.exception_handler(sa.OperationalError)
    @app.exception_handler(sa.TimeoutError)
    @app.exception_handler(sa.DataError)
    async def database_error(request: Request, exc: Exception) -> JSONResponse:
        status, title, detail, headers = answer_for_exception(exc)
        return problem(
            status, title, detail, request.url.path, headers, request_id=_request_id(request)
        )

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        where = [{"loc": list(e["loc"]), "msg": e["msg"], "type": e["type"]} for e in exc.errors()]
        first = where[0] if where else {"loc": [], "msg": "invalid request"}
        detail = f"{'.'.join(str(x) for x in first['loc'])}: {first['msg']}"
        return problem(
            400 if _is_ogc(request) else 422,
            "Bad query" if _is_ogc(request) else "Invalid request",
            detail,
            request.url.path,
            errors=where,
            request_id=_request_id(request),
        )

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> Response:
        if exc.status_code == 401 and _is_page(request):
            # a person opening a page: send them to sign in, and back here afterwards
            # without the sub-path: RootPath puts it in front of the redirect
            target = route_path(request) + (f"?{request.url.query}" if request.url.query else "")
            return RedirectResponse(f"/login?next={quote(target)}", status_code=303)
        if exc.status_code in (403, 404) and _is_page(request):
            return web.error_page(request, exc.status_code)  # a person's page, not JSON
        titles = {
            401: "Unauthorized",
            403: "Forbidden",
            404: "Not found",
            405: "Method not allowed",
            413: "Payload too large",
            429: "Too many requests",
        }
        return problem(
            exc.status_code,
            titles.get(exc.status_code, "Error"),
            str(exc.detail),
            request.url.path,
            headers=exc.headers,
            request_id=_request_id(request),
        )

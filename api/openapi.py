"""The service's OpenAPI document, with the answers routes really give declared once.

Every operation answers its errors as RFC 9457 `application/problem+json`; which errors
follow from what the route is, so they are derived here, not copied into each route:

| status | when |
|---|---|
| 401, 403 | the route needs a token or session (all but health) |
| 404 | the route has a path parameter, or is an item lookup |
| 409 | a write (POST, PUT, PATCH, DELETE) that can contradict the current state |
| 412, 428 | the route takes `If-Match` |
| 413 | a write with a body |
| 400 | a body that cannot be parsed (not JSON, broken multipart) |
| 422 | always: parameters and bodies are validated (NUL characters too) |
| 400 | OGC API routes (a query they do not understand) |
| 500, 503 | always: a server error, or the database unreachable (with Retry-After) |
"""

from __future__ import annotations

import json
import re
import warnings

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute

from api.security import current_principal

PROBLEM_SCHEMA = {
    "type": "object",
    "description": "RFC 9457 problem details",
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "instance": {"type": "string"},
    },
    "required": ["title", "status", "detail"],
    "additionalProperties": True,
}

DESCRIPTIONS = {
    "400": "Bad query",
    "401": "No token or session, or an unknown or revoked one",
    "403": "The caller's role may not do this",
    "404": "No such record",
    "409": "Contradicts the current state",
    "412": "If-Match no longer matches: someone else changed it first",
    "413": "Request body or file over the limit",
    "422": "Invalid parameter, body or file (the field is named)",
    "428": "If-Match required",
    "500": "Server error",
    "503": "Database unreachable; see Retry-After",
}

WRITES = {"post", "put", "patch", "delete"}

JSON, GEOJSON, HTML = "application/json", "application/geo+json", "text/html"
CSV = "text/csv"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
GPKG = "application/geopackage+sqlite3"
PDF = "application/pdf"
IMAGES = ("image/jpeg", "image/png", "image/webp")
#: what the routes answer on success besides (or instead of) plain JSON, by path: the
#: routes build these responses themselves, so FastAPI cannot see them. First match wins.
SUCCESS_MEDIA: tuple[tuple[str, tuple[str, ...]], ...] = (
    (r"^/ogc/api$", ("application/vnd.oai.openapi+json;version=3.0",)),
    (r"^/ogc", (JSON, GEOJSON, HTML)),
    (r"^/api/(households|residents|businesses|resources|incidents)$", (GEOJSON,)),
    (r"^/api/(units/|hotspots$|boundaries$|boundaries/units/)", (GEOJSON,)),
    (r"^/api/(boundaries|imports/boundaries|communities)/", (JSON, HTML)),
    (r"^/api/coverage$", (JSON, CSV, XLSX, GPKG)),
    (r"^/api/imports/", (JSON, CSV)),
    (r"^/reports/monthly$", (HTML, PDF, XLSX)),
    (r"^/api/incidents/\{incident_id\}/photos/\{photo_id\}$", IMAGES),
    (r"^/api/notifications/stream$", ("text/event-stream",)),
    (r"^/api/plans/\{plan_id\}/export$", (GEOJSON, GPKG)),
)


def api_routes(app: FastAPI) -> list:
    """The app's routes as the OpenAPI document sees them (path_format, methods, dependant,
    include_in_schema), whether FastAPI keeps included routers flat (<0.160) or nested."""
    try:
        from fastapi.routing import iter_route_contexts
    except ImportError:  # older FastAPI: included routes are copied into app.routes
        return [r for r in app.routes if isinstance(r, APIRoute)]
    return [
        context
        for context in iter_route_contexts(app.routes)
        if isinstance(context.original_route, APIRoute)
    ]


def _needs_auth(route) -> bool:
    stack = [route.dependant]
    while stack:
        dependant = stack.pop()
        if dependant.call is current_principal:
            return True
        stack.extend(dependant.dependencies)
    return False


def _declare_success_media(path: str, operation: dict) -> None:
    media = next((m for pattern, m in SUCCESS_MEDIA if re.search(pattern, path)), None)
    if media is None:
        return
    for status, response in operation.get("responses", {}).items():
        if not status.startswith("2") or "content" not in response:
            continue
        schema = response["content"].get(JSON, {}).get("schema", {})
        response["content"] = {
            m: ({"schema": schema} if m in (JSON, GEOJSON) and schema else {}) for m in media
        }


def problem_statuses(route, method: str, operation: dict) -> set[str]:
    """The error statuses `route` can answer for `method` (see the module's table)."""
    statuses = {"422", "500", "503"}
    if "requestBody" in operation:
        statuses.add("400")  # a body that is not well-formed JSON or multipart
    params = operation.get("parameters", [])
    if _needs_auth(route):
        statuses |= {"401", "403"}
    if "{" in route.path_format or (method == "get" and _needs_auth(route)):
        statuses.add("404")
    if method in WRITES:
        statuses |= {"409", "413"}
    if any(p.get("in") == "header" and p["name"].lower() == "if-match" for p in params):
        statuses |= {"412", "428"}
    if route.path_format.startswith("/ogc"):
        statuses.add("400")
    return statuses


def _unique_head_ids(document: dict) -> None:
    """HEAD operations (the OGC API's) get ids of their own, so generated clients work."""
    for operations in document.get("paths", {}).values():
        head = operations.get("head")
        if head and "operationId" in head:
            head["operationId"] = head["operationId"].removesuffix("_get") + "_head"


def install(app: FastAPI) -> None:
    """Make `app.openapi()` declare the problem answers (and bearer auth) of every route."""

    def openapi() -> dict:
        if app.openapi_schema:
            return app.openapi_schema
        with warnings.catch_warnings():
            # a GET+HEAD route gives both methods one id; `_unique_head_ids` mends that below
            warnings.filterwarnings("ignore", "Duplicate Operation ID", UserWarning)
            document = get_openapi(
                title=app.title,
                version=app.version,
                summary=app.summary,
                routes=app.routes,
            )
        _unique_head_ids(document)
        components = document.setdefault("components", {})
        components.setdefault("schemas", {})["Problem"] = PROBLEM_SCHEMA
        components["securitySchemes"] = {"bearer": {"type": "http", "scheme": "bearer"}}
        reference = {"$ref": "#/components/schemas/Problem"}
        components["responses"] = {
            status: {
                "description": text,
                "content": {"application/problem+json": {"schema": reference}},
            }
            for status, text in DESCRIPTIONS.items()
        }
        for route in api_routes(app):
            if not route.include_in_schema:
                continue
            for method in route.methods:
                operation = document["paths"][route.path_format].get(method.lower())
                if operation is None:
                    continue
                _declare_success_media(route.path_format, operation)
                responses = operation.setdefault("responses", {})
                for status in sorted(problem_statuses(route, method.lower(), operation)):
                    # FastAPI's own 422 says application/json; the service answers problems
                    responses[status] = {"$ref": f"#/components/responses/{status}"}
                if _needs_auth(route):
                    operation["security"] = [{"bearer": []}]
        if "schemas/HTTPValidationError" not in json.dumps(document):
            document["components"]["schemas"].pop("HTTPValidationError", None)
            document["components"]["schemas"].pop("ValidationError", None)
        app.openapi_schema = document
        return document

    app.openapi = openapi

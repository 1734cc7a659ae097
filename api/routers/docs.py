"""The API's own description: `/openapi.json`, Swagger UI at `/docs` and ReDoc at `/redoc`,
for signed-in callers only (the CONTRACT: everything but health, login and static assets
needs a session or a token); the pages load vendored copies, never a CDN."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse

from api.security import current_principal
from geo.maps.assets import DOCS_ASSETS

router = APIRouter(dependencies=[Depends(current_principal)], include_in_schema=False)


@router.get("/openapi.json")
def openapi_document(request: Request) -> JSONResponse:
    return JSONResponse(request.app.openapi())


@router.get("/docs", response_class=HTMLResponse)
def swagger_ui(request: Request) -> HTMLResponse:
    return get_swagger_ui_html(
        openapi_url="/openapi.json",
        title=f"{request.app.title} · API",
        swagger_js_url=DOCS_ASSETS["swagger_js"],
        swagger_css_url=DOCS_ASSETS["swagger_css"],
        swagger_favicon_url=DOCS_ASSETS["swagger_favicon"],
        swagger_ui_parameters={"validatorUrl": None},
    )


@router.get("/redoc", response_class=HTMLResponse)
def redoc(request: Request) -> HTMLResponse:
    return get_redoc_html(
        openapi_url="/openapi.json",
        title=f"{request.app.title} · API",
        redoc_js_url=DOCS_ASSETS["redoc_js"],
        redoc_favicon_url=DOCS_ASSETS["swagger_favicon"],
        with_google_fonts=False,
    )

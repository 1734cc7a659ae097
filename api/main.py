"""The FastAPI application: lifespan (engine), middleware, routers and error handlers."""

from __future__ import annotations

from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.staticfiles import StaticFiles

from api import errors
from api.middleware import AuditWrites, BodySizeLimit, SecurityHeaders
from api.routers import (
    auth,
    boundaries,
    coverage,
    editor,
    evaluation,
    health,
    incidents,
    maps,
    ogc,
    pages,
    records,
)
from geo.basemap import basemap
from geo.database import engine_for
from geo.settings import PROJECT_ROOT, get_settings


@asynccontextmanager
async def lifespan(app: FastAPI):
    app.state.engine = engine_for(pool_size=10, max_overflow=10)
    yield
    app.state.engine.dispose()


def content_security_policy() -> str:
    """Same-origin only; images also from the configured tile server, if any."""
    tiles = " ".join(basemap().hosts)
    return (
        "default-src 'self'; script-src 'self' 'unsafe-inline'; "
        "style-src 'self' 'unsafe-inline'; font-src 'self' data:; "
        f"img-src 'self' data: blob: {tiles}".rstrip()
        + "; connect-src 'self'; "
        "frame-ancestors 'self'; base-uri 'self'; form-action 'self'"
    )


def create_app() -> FastAPI:
    settings = get_settings()
    app = FastAPI(
        title="gridmap",
        summary="西北街街道网格化管理 · Grid management for Xibeijie sub-district, Jiuquan",
        version="0.1.0",
        lifespan=lifespan,
    )
    errors.install(app)
    app.add_middleware(AuditWrites)
    app.add_middleware(SecurityHeaders, content_security_policy=content_security_policy())
    if settings.cors_origins:  # closed unless configured
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET"],
            allow_headers=["Authorization"],
        )
    app.add_middleware(BodySizeLimit, limit=settings.max_body_bytes)
    app.include_router(health.router)
    app.include_router(auth.router)
    app.include_router(coverage.router)
    app.include_router(ogc.router)
    app.include_router(incidents.router)
    # before records: its /api/imports/{kind} would take /api/imports/boundaries
    app.include_router(boundaries.router)
    app.include_router(records.router)
    app.include_router(maps.router)
    app.include_router(pages.router)
    app.include_router(editor.router)
    app.include_router(evaluation.router)
    app.mount("/static", StaticFiles(directory=PROJECT_ROOT / "static"), name="static")
    return app


app = create_app()

"""The FastAPI application: lifespan (engine), middleware, routers and error handlers."""

from __future__ import annotations

import gc
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.middleware.gzip import GZipMiddleware
from fastapi.staticfiles import StaticFiles

from api import errors, openapi
from api.middleware import (
    AuditWrites,
    BodySizeLimit,
    DatabaseGuard,
    LastResort,
    NulGuard,
    ReadRouting,
    RequestContext,
    RootPath,
    SecurityHeaders,
)
from api.routers import (
    accounts,
    admin,
    auth,
    boundaries,
    cases,
    coverage,
    desk,
    docs,
    editor,
    evaluation,
    fieldapp,
    health,
    incidents,
    maps,
    notify,
    ogc,
    pages,
    plans,
    records,
)
from geo.core import logs
from geo.core.settings import PROJECT_ROOT, get_settings
from geo.maps.basemap import basemap
from geo.notify.sender import NotifySender
from geo.ops.database import read_engine, service_engine
from geo.ops.dbwatch import DatabaseWatch
from geo.ops.readpath import ReadRouter


@asynccontextmanager
async def lifespan(app: FastAPI):
    settings = get_settings()
    app.state.engine = service_engine(settings, pool_size=10, max_overflow=10)
    # reads: the replica (GRIDMAP_READ_DATABASE_URL) when set and caught up, else the primary
    app.state.reads = ReadRouter(
        app.state.engine,
        read_engine(settings, pool_size=10, max_overflow=10),
        retry_s=settings.replica_retry_s,
    )
    # the watch has its own connection, so a frozen database cannot take it from the pool
    watch_engine = service_engine(settings, pool_size=1, max_overflow=0)
    app.state.database_watch = DatabaseWatch(
        watch_engine, settings.db_watch_interval_s, settings.db_connect_timeout_s
    ).start()
    # webhooks out and the deadline sweep (geo/notify/sender.py)
    app.state.notify_sender = NotifySender(app.state.engine).start()
    # what start-up made lives as long as the process: out of the collector's full passes
    # (each walked it again: 110-160 ms of a whole city's coverage, every other request)
    gc.freeze()
    yield
    app.state.notify_sender.stop()
    app.state.database_watch.stop()
    app.state.engine.dispose()
    if app.state.reads.replica is not None:
        app.state.reads.replica.dispose()


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
    logs.configure(settings.log_level)
    app = FastAPI(
        title="gridmap",
        summary="西北街街道网格化管理 · Grid management for Xibeijie sub-district, Jiuquan",
        version="0.1.0",
        lifespan=lifespan,
        # served by api/routers/docs.py: signed-in callers only, vendored assets
        openapi_url=None,
        docs_url=None,
        redoc_url=None,
    )
    openapi.install(app)
    errors.install(app)
    # innermost: an unhandled error is still a 500 problem (and AuditWrites records it)
    app.add_middleware(LastResort)
    app.add_middleware(AuditWrites)
    app.add_middleware(ReadRouting)  # read-your-own-writes; X-Read-Source
    app.add_middleware(SecurityHeaders, content_security_policy=content_security_policy())
    if settings.cors_origins:  # closed unless configured
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET"],
            allow_headers=["Authorization"],
        )
    app.add_middleware(NulGuard)
    app.add_middleware(DatabaseGuard, retry_after=settings.db_retry_after_s)
    app.add_middleware(BodySizeLimit, limit=settings.max_body_bytes)
    # outermost last: request id and log line around everything; inside it nothing answers
    # a bare 500 (LastResort); then compression, which sees the pages RootPath rewrote (map
    # pages come gzipped already and are left as they are)
    app.add_middleware(RootPath, root_path=settings.root_path)
    # level 6 (zlib's default; Starlette's is 9): a page of 200 cases, 118 KB of JSON, in
    # 1.6 ms instead of 2.7 ms for 5 % more bytes
    app.add_middleware(GZipMiddleware, minimum_size=settings.gzip_min_bytes, compresslevel=6)
    app.add_middleware(LastResort)
    app.add_middleware(RequestContext)
    app.include_router(health.router)
    app.include_router(auth.router)
    app.include_router(accounts.router)
    app.include_router(coverage.router)
    app.include_router(ogc.router)
    app.include_router(incidents.router)
    app.include_router(cases.router)
    # before records: its /api/imports/{kind} would take /api/imports/boundaries
    app.include_router(boundaries.router)
    app.include_router(plans.router)
    app.include_router(records.router)
    app.include_router(maps.router)
    app.include_router(pages.router)
    app.include_router(desk.router)
    app.include_router(editor.router)
    app.include_router(docs.router)
    app.include_router(admin.router)
    app.include_router(evaluation.router)
    app.include_router(notify.router)
    app.include_router(fieldapp.router)
    # only the assets: nothing under /static is data (cached map pages live in GRIDMAP_HOME)
    for prefix, folder in (
        ("/static/web", "static/web"),
        ("/static/maps/vendor", "static/maps/vendor"),
    ):
        app.mount(prefix, StaticFiles(directory=PROJECT_ROOT / folder), name=folder)
    return app


app = create_app()

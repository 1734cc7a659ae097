"""The FastAPI application: lifespan (engine), routers and error handlers."""

from __future__ import annotations

from contextlib import asynccontextmanager

from fastapi import FastAPI
from sqlalchemy import create_engine

from api import errors
from api.routers import health
from geo.database import database_url


@asynccontextmanager
async def lifespan(app: FastAPI):
    app.state.engine = create_engine(
        database_url(), pool_pre_ping=True, pool_size=10, max_overflow=10
    )
    yield
    app.state.engine.dispose()


def create_app() -> FastAPI:
    app = FastAPI(
        title="gridmap",
        summary="西北街街道网格化管理 · Grid management for Xibeijie sub-district, Jiuquan",
        version="0.1.0",
        lifespan=lifespan,
    )
    errors.install(app)
    app.include_router(health.router)
    return app


app = create_app()

"""`GET /api/health`: no auth; database reachable, PostGIS version, data version."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from sqlalchemy.engine import Engine

from api.deps import get_engine
from geo.ops.health import health

router = APIRouter(prefix="/api", tags=["health"])


@router.get("/health", summary="Service and database health (no auth)")
def get_health(request: Request, engine: Engine = Depends(get_engine)) -> dict:
    return health(engine, getattr(request.app.state, "reads", None))

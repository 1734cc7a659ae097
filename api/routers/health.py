"""`GET /api/health`: no auth; database reachable, PostGIS version, data version."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from sqlalchemy.engine import Engine

from api.deps import get_engine
from geo.ops.health import health

router = APIRouter(prefix="/api", tags=["health"])


@router.get("/health", summary="Service and database health (no auth)")
def get_health(engine: Engine = Depends(get_engine)) -> dict:
    return health(engine)

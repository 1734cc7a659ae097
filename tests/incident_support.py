"""Helpers shared by the incident tests: places inside sectors, offsets in metres, principals."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from pyproj import Transformer
from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine

from geo.access.roles import Principal, authenticate
from tests.conftest import TOKENS

_TO_METRIC = Transformer.from_crs(4326, 4542, always_xy=True)
_TO_WGS84 = Transformer.from_crs(4542, 4326, always_xy=True)


def inside(engine: Engine, sector_code: str) -> tuple[float, float]:
    """A point well inside a sector and outside every courtyard (lon, lat)."""
    with engine.connect() as conn:
        row = conn.execute(
            text(
                "SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_PointOnSurface(ST_Difference("
                "ST_Buffer(s.geom::geography, -30)::geometry, coalesce((SELECT ST_Union(c.geom) "
                "FROM courtyards c WHERE c.valid_to IS NULL), 'POLYGON EMPTY'))) AS p "
                "FROM units s WHERE s.code = :code AND s.valid_to IS NULL) q"
            ),
            {"code": sector_code},
        ).one()
    return float(row[0]), float(row[1])


def offset(lon: float, lat: float, east_m: float, north_m: float = 0.0) -> tuple[float, float]:
    """The point `east_m` east and `north_m` north of (lon, lat), in EPSG:4542 metres."""
    x, y = _TO_METRIC.transform(lon, lat)
    return _TO_WGS84.transform(x + east_m, y + north_m)


def worker_sector(engine: Engine) -> str:
    """The sector the test grid worker (W001) serves."""
    with engine.connect() as conn:
        return conn.execute(text("SELECT serves_code FROM resources WHERE id = 'W001'")).scalar()


def other_sector(engine: Engine, than: str, staffed_sibling: bool = False) -> str:
    """A sector outside `than`'s level-2 grid that has its own grid worker (and, with
    `staffed_sibling`, another sector in its level-2 grid that has one too)."""
    staffed = (
        "EXISTS (SELECT 1 FROM resources r WHERE r.kind = 'grid_worker' AND r.serves_code = {})"
    )
    sibling = (
        " AND EXISTS (SELECT 1 FROM units t WHERE t.level = 'sector' AND t.valid_to IS NULL "
        f"AND t.parent_code = s.parent_code AND t.code <> s.code AND {staffed.format('t.code')})"
    )
    with engine.connect() as conn:
        return conn.execute(
            text(
                "SELECT s.code FROM units s WHERE s.level = 'sector' AND s.valid_to IS NULL "
                "AND s.parent_code <> (SELECT parent_code FROM units WHERE code = :than "
                f"AND valid_to IS NULL) AND {staffed.format('s.code')}"
                + (sibling if staffed_sibling else "")
                + " ORDER BY s.code LIMIT 1"
            ),
            {"than": than},
        ).scalar_one()


def principal(conn: Connection, role: str) -> Principal:
    """The principal of the test token of `role`."""
    return authenticate(conn, TOKENS[role])


def report_body(lon: float, lat: float, category: str = "sanitation", **extra) -> dict:
    """A JSON report observed ten minutes ago."""
    observed = datetime.now(UTC) - timedelta(minutes=10)
    return {
        "lon": lon,
        "lat": lat,
        "category": category,
        "description": "垃圾未及时清运",
        "observed_at": observed.isoformat(),
        **extra,
    }

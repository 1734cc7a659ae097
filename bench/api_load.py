"""Benchmark: the API under load (issue 10): `gridmap serve --workers 2` on the run's
scratch copy of the database, driven from loopback by the harness's load client (httpx,
keep-alive connections, `concurrency` requests in flight), each scenario bounded in time
and in requests:

- **health**: `GET /api/health` (no auth; four small queries): the floor of the stack;
- **intake**: `POST /api/incidents` as a patrol, valid reports at random points of the
  sub-district, each with its own `Idempotency-Key`: attach, dispatch, deadline, events and
  the duplicate hint, committed (201 expected);
- **map page, cached**: `GET /maps/incidents` as a patrol (gzip), the page built once
  before the scenario (`X-Map-Cache: hit` expected);
- **map page, uncached**: `GET /maps/incidents?since=...` with a different `since` day on
  every request, so every page is built (`X-Map-Cache: miss` expected).

Figures: sustained requests/s, p50 and p99 latency, and errors (any failure, 4xx/5xx or
unexpected answer): target 0 errors.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import numpy as np
import shapely
from sqlalchemy import text

from bench.harness import Context, Figure, Request, Target, load, log, serve_gridmap

NAME = "api_load"


def _points(conn, n: int, rng: np.random.Generator) -> list[tuple[float, float]]:
    district = shapely.from_wkt(
        conn.execute(
            text("SELECT ST_AsText(geom) FROM units WHERE level = 'district' AND valid_to IS NULL")
        ).scalar()
    )
    inner = district.buffer(-0.0005)  # clear of the outline: every point is inside
    x0, y0, x1, y1 = inner.bounds
    x, y = rng.uniform(x0, x1, 4 * n), rng.uniform(y0, y1, 4 * n)
    keep = shapely.contains_xy(inner, x, y)
    return list(zip(x[keep][:n].round(6), y[keep][:n].round(6), strict=True))


def run(ctx: Context) -> list[Figure]:
    opts = ctx.options
    seconds, concurrency = opts.load_seconds, opts.load_concurrency
    most = opts.load_max_requests
    engine = ctx.engine()
    with engine.connect() as conn:
        total = conn.execute(text("SELECT count(*) FROM incidents")).scalar_one()
        categories = (
            conn.execute(
                text("SELECT code FROM incident_categories WHERE NOT sensitive ORDER BY code")
            )
            .scalars()
            .all()
        )
        last = conn.execute(text("SELECT max(observed_at) FROM incidents")).scalar_one()
        points = _points(conn, most, np.random.default_rng(10))
    engine.dispose()
    patrol = {"Authorization": f"Bearer {ctx.token('patrol')}"}
    pages = {**patrol, "Accept-Encoding": "gzip"}
    now = datetime.now(UTC)

    def health(i: int) -> Request:
        return Request("GET", "/api/health")

    def intake(i: int) -> Request:
        lon, lat = points[i % len(points)]
        body = {
            "lon": float(lon),
            "lat": float(lat),
            "category": categories[i % len(categories)],
            "description": "压力测试 load test",
            "observed_at": (now - timedelta(minutes=i % 600)).isoformat(),
        }
        headers = {**patrol, "Idempotency-Key": f"bench-{uuid.uuid4()}"}
        return Request("POST", "/api/incidents", headers, json=body)

    def cached(i: int) -> Request:
        return Request("GET", "/maps/incidents", pages)

    start_day = last.date()

    def uncached(i: int) -> Request:
        since = start_day - timedelta(days=7 + i)  # a window of another length each time
        return Request("GET", "/maps/incidents", pages, {"since": since.isoformat()})

    def created(response) -> str | None:
        return None if response.status_code == 201 else f"HTTP {response.status_code}"

    def cache_state(expected: str):
        def check(response) -> str | None:
            state = response.headers.get("x-map-cache")
            return None if state == expected else f"X-Map-Cache {state}, expected {expected}"

        return check

    ctx.stop_servers()  # the 1-worker server of the other benchmarks: not in the way
    scenarios = [
        ("health", "GET /api/health (floor)", health, None),
        ("intake", "POST /api/incidents (intake)", intake, created),
        ("map_cached", "GET /maps/incidents, cached", cached, cache_state("hit")),
        ("map_uncached", "GET /maps/incidents, uncached", uncached, cache_state("miss")),
    ]
    figures = []
    with serve_gridmap(ctx.url, workers=2) as base:
        for key, label, make, check in scenarios:
            if key == "map_cached":  # build the page once, untimed
                load(base, make, 1, 600, 1)
            result = load(base, make, concurrency, seconds, most, check=check, timeout=300)
            stats = result.as_dict()
            lat = stats["latency_ms"]
            log(
                f"load {key}: {result.throughput:.1f} req/s, p50 {lat.get('p50', 0):.0f} ms, "
                f"p99 {lat.get('p99', 0):.0f} ms, {result.errors} errors of {result.requests}"
            )
            figures.append(
                Figure(
                    NAME,
                    f"{label}, {concurrency} clients, 2 workers",
                    f"{total:,} incidents, {result.requests:,} requests in {result.wall_s:.0f} s",
                    "req/s",
                    result.throughput,
                    target=Target("no_errors", 0, "0 errors"),
                    errors=result.errors,
                    ours_note=(
                        f"p50 {lat.get('p50', 0):.0f} ms, p99 {lat.get('p99', 0):.0f} ms, "
                        f"{result.errors} errors"
                    ),
                    detail={"scenario": key, **stats, "concurrency": concurrency},
                )
            )
    return figures

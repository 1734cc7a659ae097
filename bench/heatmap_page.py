"""Benchmark: the incident heat page against the naive Folium page, and the cached page.

    .venv/bin/python bench/heatmap_page.py 100000 1000000

`run(size)` takes the `size` most recent incidents of the database in use (load a big one
with `gridmap seed --replace --scale 40`: a million incidents) and measures, in one run:

- our page: `/maps/incidents` for that window, built from scratch (bytes, seconds);
- the naive page: the same incidents' points read from PostGIS and put, every one, into
  `folium.plugins.HeatMap` (bytes, seconds);
- the cached page: the same request through the HTTP app once cached (median and 95th
  percentile milliseconds over 30 requests, authentication and cache lookup included).

Build times are the fastest of 3 alternating runs. Targets at 1,000,000 incidents: bytes
at most 1/25 of the naive page's, build time at most 1/5, cached page under 50 ms.
Results are printed as JSON and written to bench/results/.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _window_start(conn, size: int):
    from sqlalchemy import text

    return conn.execute(
        text("SELECT observed_at FROM incidents ORDER BY observed_at DESC OFFSET :n LIMIT 1"),
        {"n": size - 1},
    ).scalar()


def naive_page(conn, since) -> tuple[int, float, int]:
    """Bytes, seconds and points of the plain Folium page with every incident in HeatMap."""
    import folium
    from folium.plugins import HeatMap
    from sqlalchemy import text

    start = time.perf_counter()
    rows = conn.execute(
        text(
            "SELECT ST_Y(geom), ST_X(geom) FROM incidents "
            "WHERE CAST(:since AS timestamptz) IS NULL OR observed_at >= :since"
        ),
        {"since": since},
    ).all()
    m = folium.Map(location=[39.76, 98.48], zoom_start=14)
    HeatMap([[r[0], r[1]] for r in rows]).add_to(m)
    html = m.get_root().render()
    return len(html.encode()), time.perf_counter() - start, len(rows)


def our_page(conn, since) -> tuple[int, float]:
    """Bytes and seconds of the aggregated page, built without the cache."""
    from geo.access import Principal, Role
    from geo.maps.filters import IncidentFilter
    from geo.maps.incidents import build_incident_map

    admin = Principal(0, "bench", Role.ADMIN)  # every incident, as the naive page
    start = time.perf_counter()
    html = build_incident_map(conn, admin, IncidentFilter(since=since))
    return len(html.encode()), time.perf_counter() - start


def cached_latency(engine, since, requests: int = 30) -> dict:
    """Milliseconds of `GET /maps/incidents` once its page is cached."""
    import tempfile

    from fastapi.testclient import TestClient

    from api.main import create_app
    from geo.access import create_token
    from geo.settings import get_settings

    with engine.begin() as conn:
        token = create_token(conn, "admin", "bench heatmap_page")
    headers = {"Authorization": f"Bearer {token}", "Accept-Encoding": "gzip"}
    params = {"since": since.isoformat()} if since else {}
    with tempfile.TemporaryDirectory() as cache:
        os.environ["GRIDMAP_MAP_CACHE_DIR"] = cache
        get_settings.cache_clear()
        with TestClient(create_app()) as client:
            first = client.get("/maps/incidents", params=params, headers=headers)
            assert first.status_code == 200, first.text[:300]
            times = []
            for _ in range(requests):
                start = time.perf_counter()
                response = client.get("/maps/incidents", params=params, headers=headers)
                times.append((time.perf_counter() - start) * 1000)
                assert response.headers["x-map-cache"] == "hit"
        del os.environ["GRIDMAP_MAP_CACHE_DIR"]
        get_settings.cache_clear()
    times.sort()
    return {
        "median_ms": round(statistics.median(times), 2),
        "p95_ms": round(times[int(0.95 * (len(times) - 1))], 2),
    }


def run(size: int, repeat: int = 3) -> dict:
    """Measure at the `size` most recent incidents (all of them if the database has fewer).
    Each build is timed `repeat` times, alternating, and the fastest counts: the machine is
    shared, and the minimum is the least disturbed measurement of each."""
    from geo.database import make_engine

    engine = make_engine()
    naive_times, our_times = [], []
    with engine.connect() as conn:
        since = _window_start(conn, size)
        for _ in range(repeat):
            naive_bytes, seconds, points = naive_page(conn, since)
            naive_times.append(seconds)
            ours_bytes, seconds = our_page(conn, since)
            our_times.append(seconds)
    naive_s, ours_s = min(naive_times), min(our_times)
    cached = cached_latency(engine, since)
    engine.dispose()
    return {
        "incidents": points,
        "our_bytes": ours_bytes,
        "naive_bytes": naive_bytes,
        "bytes_ratio": round(ours_bytes / naive_bytes, 4),
        "our_build_s": round(ours_s, 3),
        "naive_build_s": round(naive_s, 3),
        "our_build_runs_s": [round(t, 3) for t in our_times],
        "naive_build_runs_s": [round(t, 3) for t in naive_times],
        "build_ratio": round(ours_s / naive_s, 4),
        "cached_median_ms": cached["median_ms"],
        "cached_p95_ms": cached["p95_ms"],
        "targets_met": ours_bytes * 25 <= naive_bytes
        and ours_s * 5 <= naive_s
        and cached["median_ms"] < 50,
    }


if __name__ == "__main__":
    sizes = [int(a) for a in sys.argv[1:]] or [100_000, 1_000_000]
    results = {}
    for size in sizes:
        results[size] = run(size)
        print(json.dumps({size: results[size]}, indent=2), flush=True)
    out = ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "heatmap_page.json").write_text(json.dumps(results, indent=2) + "\n")

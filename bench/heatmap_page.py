"""Benchmark: the incident heat page against the naive Folium page, and the cached page
(issue 6).

For each size N (default 10,000 / 100,000 / 1,000,000), the N most recent incidents of the
database (the window since the N-th latest `observed_at`), in one run:

- **ours** = the page `/maps/incidents` draws for that window (`build_incident_map`, as an
  admin: every incident), built without the cache: bytes and seconds;
- **baseline** = the naive page: the same incidents' points read from PostGIS and put,
  every one, into `folium.plugins.HeatMap` on a plain `folium.Map`: bytes and seconds;
- **cached page** = `GET /maps/incidents?since=...` through `gridmap serve` once the page is
  cached (gzip, as a phone asks), one request at a time: p50 and p99 milliseconds,
  authentication and cache lookup included.

The two builds alternate (`repeat` rounds); the medians count. Targets at 1,000,000
incidents: bytes ≤ 1/25 of the naive page's, build time ≤ 1/20 (issue 23; it was 1/5),
cached page < 50 ms.
"""

from __future__ import annotations

from sqlalchemy import text

from bench.harness import Context, Figure, Request, Target, interleaved, load, log, summary

NAME = "heatmap_page"
TARGET_SIZE = 1_000_000


def window_start(conn, size: int):
    """The `observed_at` of the size-th latest incident (None: take all of them)."""
    return conn.execute(
        text("SELECT observed_at FROM incidents ORDER BY observed_at DESC OFFSET :n LIMIT 1"),
        {"n": size - 1},
    ).scalar()


def naive_page(conn, since) -> dict:
    """Bytes and points of the plain Folium page with every incident in HeatMap."""
    import folium
    from folium.plugins import HeatMap

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
    return {"bytes": len(html.encode()), "points": len(rows)}


def our_page(conn, since) -> dict:
    """Bytes of the aggregated page, built without the cache."""
    from geo.access.roles import Principal, Role
    from geo.cases.selection import IncidentFilter
    from geo.maps.incidents import build_incident_map

    admin = Principal(0, "bench", Role.ADMIN)  # every incident, as the naive page
    html = build_incident_map(conn, admin, IncidentFilter(since=since))
    return {"bytes": len(html.encode())}


def run(ctx: Context) -> list[Figure]:
    sizes = ctx.options.heatmap_sizes
    repeat = ctx.options.repeat
    engine = ctx.engine()
    figures = []
    windows = {}
    with engine.connect() as conn:
        for size in sizes:
            since = window_start(conn, size)
            windows[size] = since
            runs = interleaved(
                {
                    "ours": lambda since=since: our_page(conn, since),
                    "naive": lambda since=since: naive_page(conn, since),
                },
                repeat=repeat,
                warmup=1 if size == sizes[0] else 0,  # imports, templates: once
                label=f"heat page at {size:,}",
            )
            conn.rollback()
            points = runs.last("naive")["points"]
            ours_b, naive_b = runs.last("ours")["bytes"], runs.last("naive")["bytes"]
            ours_s, naive_s = runs.median("ours"), runs.median("naive")
            at_target = size >= TARGET_SIZE
            label = f"{points:,} incidents"
            detail = {
                "size": size,
                "since": since.isoformat() if since else None,
                "ours_build_s": summary(runs.seconds["ours"]),
                "naive_build_s": summary(runs.seconds["naive"]),
                "ours_build_runs_s": runs.seconds["ours"],
                "naive_build_runs_s": runs.seconds["naive"],
            }
            figures.append(
                Figure(
                    NAME,
                    "heat page bytes",
                    label,
                    "bytes",
                    ours_b,
                    naive_b,
                    "naive folium HeatMap",
                    Target("ratio_max", 1 / 25, "≤ 1/25 (0.04)") if at_target else None,
                    detail=detail,
                )
            )
            figures.append(
                Figure(
                    NAME,
                    "heat page build time",
                    label,
                    "s",
                    ours_s,
                    naive_s,
                    "naive folium HeatMap",
                    Target("ratio_max", 1 / 20, "≤ 1/20 (0.05)") if at_target else None,
                    detail=detail,
                )
            )
    engine.dispose()

    # the cached page, at the largest size, through the running service
    size = max(sizes)
    since = windows[size]
    base = ctx.gridmap()
    headers = {"Authorization": f"Bearer {ctx.token('admin')}", "Accept-Encoding": "gzip"}
    params = {"since": since.isoformat()} if since else {}

    def request(i: int) -> Request:
        return Request("GET", "/maps/incidents", headers, params)

    def hit(response) -> str | None:
        state = response.headers.get("x-map-cache")
        return None if state == "hit" else f"X-Map-Cache: {state} (expected hit)"

    first = load(base, request, concurrency=1, seconds=600, max_requests=1)  # builds it
    requests = 10 if ctx.quick else 50
    cached = load(base, request, 1, seconds=120, max_requests=requests, check=hit)
    lat = summary([x * 1000 for x in cached.latencies])
    log(f"cached heat page: p50 {lat['p50']:.1f} ms, p99 {lat['p99']:.1f} ms")
    figures.append(
        Figure(
            NAME,
            "cached heat page, GET /maps/incidents (gzip), one client",
            f"{size:,} incidents",
            "ms",
            lat["p50"],
            target=Target("ours_max", 50.0, "< 50 ms"),
            ours_note=f"p99 {lat['p99']:.0f} ms, {cached.errors} errors",
            errors=cached.errors,
            detail={"first_request": first.as_dict(), "cached": cached.as_dict()},
        )
    )
    return figures

"""Benchmark: the case desk's lists under load (issue 18): `GET /api/cases?assigned=me`
as a grid worker and the supervisor's open-case list (`GET /api/cases?area=me`), each under
`load_concurrency` clients (8 at full size), against `GET /api/health` in the same run and
the same server. Target: p99 of each list no more than 2× the health check's p99.
"""

from __future__ import annotations

from sqlalchemy import text

from bench.harness import Context, Figure, Request, Target, load, log, serve_gridmap

NAME = "case_lists"


def run(ctx: Context) -> list[Figure]:
    opts = ctx.options
    seconds, concurrency, most = opts.load_seconds, opts.load_concurrency, opts.load_max_requests
    engine = ctx.engine()
    with engine.connect() as conn:
        total = conn.execute(text("SELECT count(*) FROM incidents")).scalar_one()
    engine.dispose()
    worker = {"Authorization": f"Bearer {ctx.token('grid_worker')}"}
    supervisor = {"Authorization": f"Bearer {ctx.token('supervisor')}"}

    def ok(response) -> str | None:
        return None if response.status_code == 200 else f"HTTP {response.status_code}"

    scenarios = [
        ("health", "GET /api/health (floor)", lambda i: Request("GET", "/api/health")),
        (
            "my_cases",
            "GET /api/cases?assigned=me (grid worker)",
            lambda i: Request("GET", "/api/cases", worker, {"assigned": "me", "state": "open"}),
        ),
        (
            "desk",
            "GET /api/cases?area=me (supervisor, open cases)",
            lambda i: Request("GET", "/api/cases", supervisor, {"area": "me", "state": "open"}),
        ),
    ]
    ctx.stop_servers()
    figures, floor = [], None
    with serve_gridmap(ctx.url, workers=2) as base:
        for key, label, make in scenarios:
            load(base, make, 1, 600, 2, check=ok)  # warm, untimed
            result = load(base, make, concurrency, seconds, most, check=ok, timeout=300)
            stats = result.as_dict()
            p99 = stats["latency_ms"].get("p99")
            log(f"case lists {key}: p99 {p99 or 0:.0f} ms, {result.errors} errors")
            if key == "health":
                floor = p99
            figures.append(
                Figure(
                    NAME,
                    f"{label}, p99, {concurrency} clients",
                    f"{total:,} incidents, {result.requests:,} requests",
                    "ms",
                    p99,
                    baseline=None if key == "health" else floor,
                    baseline_name="" if key == "health" else "GET /api/health p99, same run",
                    target=None if key == "health" else Target("ratio_max", 2.0, "≤ 2× health"),
                    errors=result.errors,
                    detail={"scenario": key, **stats, "concurrency": concurrency},
                )
            )
    return figures

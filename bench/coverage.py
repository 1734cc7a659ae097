"""Benchmark: coverage for all units, warm, at the database's incident count (issue 8).

For each level (sector, level-2 grid, community), over the year of incidents that ends on
the last day of the history:

- **ours** = `geo.insight.coverage.coverage(conn, admin, level, until=...)`: the units' holdings
  (`geo/sql/coverage_units.sql`) and the incident figures from the daily/monthly rollups;
- **baseline** = the same rows computed from raw incident rows: the same units query plus
  one `GROUP BY GROUPING SETS` over `incidents` with `percentile_cont` for the median hours
  to close: what the rollups buy. The incident totals of both are checked to agree;
- **HTTP** = `GET /api/coverage?level=...&until=...` through `gridmap serve`, one request
  at a time, after warm-up.

Target: under 200 ms warm (the median; p99 reported), absolute.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import text

from bench.harness import Context, Figure, Request, Target, interleaved, load, log, summary
from geo.cases.stats import RAW_FIGURES

NAME = "coverage"
TARGET = Target("ours_max", 200.0, "< 200 ms")

RAW_SQL = f"""
    WITH m AS (
        SELECT s.code AS sector_code,
               CASE CAST(:level AS text) WHEN 'sector' THEN s.code WHEN 'grid2' THEN g.code
                    ELSE g.parent_code END AS unit_code
        FROM units s JOIN units g ON g.code = s.parent_code AND g.valid_to IS NULL
        WHERE s.level = 'sector' AND s.valid_to IS NULL)
    SELECT m.unit_code, i.category, {RAW_FIGURES}
    FROM incidents i JOIN m ON m.sector_code = i.sector_code
    WHERE i.observed_at >= :start AND i.observed_at < :end
    GROUP BY GROUPING SETS ((m.unit_code, i.category), (m.unit_code))
"""


def _raw(conn, level: str, start, end, now) -> dict[str, int]:
    """The baseline: units' holdings and raw incident figures; unit → incidents."""
    from geo.insight.coverage import _sql, sources

    units_sql = _sql("coverage_units.sql").format(**sources(as_of=False))
    units = conn.execute(text(units_sql), {"level": level}).mappings().all()
    rows = conn.execute(
        text(RAW_SQL), {"level": level, "start": start, "end": end, "now": now}
    ).mappings()
    totals = {r["unit_code"]: r["incidents"] for r in rows if r["category"] is None}
    return {u["code"]: totals.get(u["code"], 0) for u in units}


def run(ctx: Context) -> list[Figure]:
    from geo.access.roles import Principal, Role
    from geo.cases.stats import BEIJING, period_bounds
    from geo.insight.coverage import LEVELS, coverage, period_days

    admin = Principal(0, "bench", Role.ADMIN)
    repeat, warmup = (5, 1) if ctx.quick else (30, 3)
    engine = ctx.engine()
    now = datetime.now(UTC)
    with engine.connect() as conn:
        last = conn.execute(text("SELECT max(observed_at) FROM incidents")).scalar_one()
        until = last.astimezone(BEIJING).date()
        since, until = period_days(None, until, now)
        start, end = period_bounds(since, until)
        total = conn.execute(text("SELECT count(*) FROM incidents")).scalar_one()
        in_period = conn.execute(
            text("SELECT count(*) FROM incidents WHERE observed_at >= :s AND observed_at < :e"),
            {"s": start, "e": end},
        ).scalar_one()
        conn.rollback()
    size = f"{total:,} incidents, {in_period:,} in the year {since}..{until}"
    figures = []
    with engine.connect() as conn:
        for level in LEVELS:
            runs = interleaved(
                {
                    "ours": lambda level=level: coverage(conn, admin, level, since, until, now),
                    "raw": lambda level=level: _raw(conn, level, start, end, now),
                },
                repeat=repeat,
                warmup=warmup,
            )
            ours = {r["code"]: r["incidents"] for r in runs.last("ours").rows}
            if ours != runs.last("raw"):
                raise AssertionError(f"coverage {level}: rollup totals differ from a raw count")
            ms = {k: [s * 1000 for s in v] for k, v in runs.seconds.items()}
            o, b = summary(ms["ours"]), summary(ms["raw"])
            log(f"coverage {level}: ours p50 {o['p50']:.1f} ms, raw p50 {b['p50']:.1f} ms")
            figures.append(
                Figure(
                    NAME,
                    f"coverage, all {len(ours)} {level} units, warm (geo.insight.coverage)",
                    size,
                    "ms",
                    o["median"],
                    b["median"],
                    "raw GROUP BY over incidents",
                    TARGET,
                    ours_note=f"p99 {o['p99']:.0f} ms",
                    detail={"ours_ms": o, "baseline_ms": b, "level": level},
                )
            )
        conn.rollback()
    engine.dispose()

    base = ctx.gridmap()
    headers = {"Authorization": f"Bearer {ctx.token('admin')}"}
    for level in LEVELS:
        params = {"level": level, "until": until.isoformat()}

        def request(i: int, params=params) -> Request:
            return Request("GET", "/api/coverage", headers, params)

        load(base, request, concurrency=1, seconds=60, max_requests=warmup)
        http = load(base, request, concurrency=1, seconds=120, max_requests=repeat)
        lat = summary([x * 1000 for x in http.latencies])
        log(f"GET /api/coverage level={level}: p50 {lat['p50']:.1f} ms, p99 {lat['p99']:.1f} ms")
        figures.append(
            Figure(
                NAME,
                f"GET /api/coverage?level={level}, warm, one client",
                size,
                "ms",
                lat["p50"],
                target=TARGET,
                ours_note=f"p99 {lat['p99']:.0f} ms, {http.errors} errors",
                detail={"http": http.as_dict(), "level": level},
            )
        )
    return figures

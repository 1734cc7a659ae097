"""Benchmark: the evaluation for officials (issue 20), warm, at the database's incident count.

- **a year's evaluation at every level**: `geo.insight.evaluation.evaluation` for community,
  grid2, sector, worker and category over the year that ends on the last day of the
  history, against `geo.insight.coverage.coverage` at its three levels over the same year in
  the same run (target: no slower than 2× coverage). Every level is summed from rollups
  (the areas and categories from 0008/0015's, the workers from 0016e's).
- **the monthly PDF**, for the last whole month of the history, three ways in one
  interleaved run: as served (`geo.publish.report_cache.monthly_pdf`: the PDF rendered
  once and kept while the data version holds, built on the warm-up round); built uncached
  (`geo.publish.reports.monthly_report` + the printed page + WeasyPrint); and the baseline,
  the same build whose case figures are counted by raw GROUP BY over the month's incidents
  and their events (`raw=True`; the same hotspots, coverage and rendering). Target: the
  uncached build under 1/4 of the baseline's time (WeasyPrint's layout, the same on both
  sides, bounds the ratio at small sizes); the served PDF's time is printed beside it. The
  headline figures of both builds are checked to agree.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from sqlalchemy import text

from bench.harness import Context, Figure, Target, interleaved, log, summary

NAME = "evaluation"


def run(ctx: Context) -> list[Figure]:
    from api.routers.evaluation import print_html
    from geo.access.roles import Principal, Role
    from geo.cases.stats import BEIJING
    from geo.insight.coverage import LEVELS as COVERAGE_LEVELS
    from geo.insight.coverage import coverage, period_days
    from geo.insight.evaluation import LEVELS, evaluation
    from geo.publish.report_cache import monthly_pdf
    from geo.publish.reports import monthly_report, to_pdf

    admin = Principal(0, "bench", Role.ADMIN)
    repeat, warmup = (3, 1) if ctx.quick else (10, 2)
    engine = ctx.engine()
    now = datetime.now(UTC)
    with engine.connect() as conn:
        last = conn.execute(text("SELECT max(observed_at) FROM incidents")).scalar_one()
        total = conn.execute(text("SELECT count(*) FROM incidents")).scalar_one()
        conn.rollback()
    until = last.astimezone(BEIJING).date()
    since, until = period_days(None, until, now)
    month = (until.replace(day=1) - timedelta(days=1)).replace(day=1)
    figures = []
    with engine.connect() as conn:

        def every_level():
            return {lv: evaluation(conn, admin, lv, since, until, now=now) for lv in LEVELS}

        def coverage_levels():
            return {lv: coverage(conn, admin, lv, since, until, now) for lv in COVERAGE_LEVELS}

        runs = interleaved(
            {"evaluation": every_level, "coverage": coverage_levels}, repeat=repeat, warmup=warmup
        )
        ms = {k: [s * 1000 for s in v] for k, v in runs.seconds.items()}
        o, b = summary(ms["evaluation"]), summary(ms["coverage"])
        log(f"evaluation every level: p50 {o['p50']:.1f} ms; coverage p50 {b['p50']:.1f} ms")
        figures.append(
            Figure(
                NAME,
                "a year's evaluation at every level (5), warm",
                f"{total:,} incidents, the year {since}..{until}",
                "ms",
                o["median"],
                b["median"],
                "coverage at its 3 levels, same run",
                Target("ratio_max", 2.0, "≤ 2× coverage"),
                ours_note=f"p99 {o['p99']:.0f} ms",
                detail={"ours_ms": o, "baseline_ms": b},
            )
        )

        def built(raw: bool):
            def build():
                t0 = time.perf_counter()
                report = monthly_report(conn, admin, month.strftime("%Y-%m"), now, raw=raw)
                document = to_pdf(print_html(report))
                return {
                    "seconds": time.perf_counter() - t0,
                    "filed": report.headline["current"]["filed"],
                    "bytes": len(document),
                }

            return build

        def served():
            # what `GET /reports/monthly?format=pdf` does: the cached PDF while the data
            # version is the same (built on the warm-up round)
            return monthly_pdf(conn, admin, month.strftime("%Y-%m"), "zh", print_html, now)

        runs = interleaved(
            {"ours": built(False), "raw": built(True), "served": served},
            repeat=max(2, ctx.options.repeat),
            warmup=1,
        )
        if runs.last("ours")["filed"] != runs.last("raw")["filed"]:
            raise AssertionError("monthly report: rollup figures differ from the raw count")
        if not runs.last("served").hit:
            raise AssertionError("monthly report: the served PDF was not the cached one")
        ms = {k: [s * 1000 for s in v] for k, v in runs.seconds.items()}
        o, b, c = summary(ms["ours"]), summary(ms["raw"]), summary(ms["served"])
        log(
            f"monthly PDF: served p50 {c['p50']:.0f} ms; built p50 {o['p50']:.0f} ms; "
            f"raw p50 {b['p50']:.0f} ms"
        )
        size = f"{total:,} incidents, {runs.last('raw')['filed']:,} filed in {month:%Y-%m}"
        figures.append(
            Figure(
                NAME,
                f"monthly report PDF {month:%Y-%m} as served (cached per data version)",
                size,
                "ms",
                c["median"],
                b["median"],
                "the report built with case figures by raw GROUP BY (+ hotspots, WeasyPrint)",
                None,
                ours_note=f"{len(runs.last('served').body) / 1e3:.0f} kB",
                detail={"ours_ms": c, "baseline_ms": b},
            )
        )
        figures.append(
            Figure(
                NAME,
                f"monthly report PDF {month:%Y-%m} built uncached (rollups + hotspots + "
                "WeasyPrint)",
                size,
                "ms",
                o["median"],
                b["median"],
                "the same, case figures by raw GROUP BY over incidents and events",
                Target("ratio_max", 0.25, "≤ 1/4 of raw"),
                ours_note=f"{runs.last('ours')['bytes'] / 1e3:.0f} kB",
                detail={"ours_ms": o, "baseline_ms": b},
            )
        )
        conn.rollback()
    engine.dispose()
    return figures

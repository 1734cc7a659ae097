"""Benchmark: importing incidents from CSV with full attach, against the floor of storing
them (issue 3).

`size` incidents (default 1,000,000) at random points inside the sub-district are written
to a CSV file once; then, alternating, in the run's scratch copy of the database (which
already holds the seeded history):

- **ours** = `geo.imports.import_file` of the CSV file, as `gridmap import incidents FILE`
  runs it: from reading the file's bytes, every cell checked, attach, deadlines, dispatch,
  events, rollups, to the end of the transaction's last statement; then rolled back, so
  every round imports the same new rows into the same table (COMMIT itself is excluded,
  for both sides: it only flushes the WAL's tail);
- **baseline** = a raw `COPY` of the same rows as stored (ids, categories, times,
  deadlines, the point as EWKB; prepared in memory beforehand, the COPY alone timed, then
  rolled back) + a shapely `STRtree` query of the same points against the current sectors
  (building the points and the tree included).

Between rounds (untimed) VACUUM clears what the rolled-back rows left. Target: ours at
most 1.5x the baseline (issue 23; it was 3x, issue 3).
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import shapely
from sqlalchemy import text

from bench.harness import Context, Figure, Target, interleaved, log, summary, timed

NAME = "import_attach"
CATEGORIES = ("sanitation", "dispute", "safety_hazard", "public_service", "public_security")
VACUUMED = ("incidents", "incident_events", "incident_daily_stats", "incident_monthly_stats")


def incidents_csv(conn, size: int, path: Path, rng: np.random.Generator) -> pd.DataFrame:
    """`size` incidents at random points inside the sub-district, written to `path`."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    district = shapely.from_wkt(
        conn.execute(
            text("SELECT ST_AsText(geom) FROM units WHERE level = 'district' AND valid_to IS NULL")
        ).scalar()
    )
    x0, y0, x1, y1 = district.bounds
    lon, lat = np.empty(0), np.empty(0)
    while len(lon) < size:
        x, y = rng.uniform(x0, x1, size), rng.uniform(y0, y1, size)
        keep = shapely.contains_xy(district, x, y)
        lon, lat = np.r_[lon, x[keep]], np.r_[lat, y[keep]]
    start = np.datetime64("2025-01-01T00:00:00")
    observed = start + rng.integers(0, 365 * 86400, size).astype("timedelta64[s]")
    frame = pd.DataFrame(
        {
            "id": [f"B{k:010d}" for k in range(size)],
            "category": rng.choice(CATEGORIES, size),
            "observed_at": pd.Series(observed).dt.strftime("%Y-%m-%d %H:%M:%S"),
            "lon": lon[:size].round(7),
            "lat": lat[:size].round(7),
            "description": "批量导入测试",
        }
    )
    pacsv.write_csv(pa.Table.from_pandas(frame, preserve_index=False), str(path))
    return frame


def stored_rows(conn, frame: pd.DataFrame) -> pd.DataFrame:
    """The rows as the incidents table stores them (what the baseline COPYs)."""
    from geo.cases.deadlines import dispatch_due_at, due_at
    from geo.core.bulk import ewkb_hex

    limits = pd.read_sql(text("SELECT * FROM incident_categories"), conn).set_index("code")
    per_row = limits.loc[frame["category"].to_numpy()]
    reported = pd.to_datetime(frame["observed_at"]).to_numpy("datetime64[s]") - np.timedelta64(
        8, "h"
    )
    return pd.DataFrame(
        {
            "id": frame["id"],
            "category": frame["category"],
            "status": "dispatched",
            "description": frame["description"],
            "observed_at": pd.Series(reported).dt.tz_localize("UTC"),
            "reported_at": pd.Series(reported).dt.tz_localize("UTC"),
            "dispatch_due_at": pd.Series(
                dispatch_due_at(reported, per_row["dispatch_minutes"].to_numpy(float))
            ).dt.tz_localize("UTC"),
            "due_at": pd.Series(
                due_at(
                    reported,
                    per_row["close_minutes"].to_numpy(float),
                    per_row["close_working_days"].to_numpy(float),
                )
            ).dt.tz_localize("UTC"),
            "geom": ewkb_hex(shapely.points(frame["lon"], frame["lat"])),
            "source": "import",
        }
    )


def run(ctx: Context) -> list[Figure]:
    from geo.core.bulk import copy_columns
    from geo.imports import ImportOptions, import_file, read_file

    size = ctx.options.import_size
    engine = ctx.engine()
    autocommit = ctx.engine(isolation_level="AUTOCOMMIT")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "incidents.csv"
        with engine.connect() as conn:
            frame = incidents_csv(conn, size, path, np.random.default_rng(3))
            rows = stored_rows(conn, frame)
            sectors = shapely.from_wkt(
                conn.execute(
                    text(
                        "SELECT ST_AsText(geom) FROM units WHERE level = 'sector' "
                        "AND valid_to IS NULL ORDER BY code"
                    )
                )
                .scalars()
                .all()
            )
            before = conn.execute(text("SELECT count(*) FROM incidents")).scalar_one()
            conn.rollback()
        file_mb = path.stat().st_size / 1e6
        log(f"import: {size:,} incidents in a {file_mb:.0f} MB CSV, into {before:,}")

        def ours() -> dict:
            steps: dict[str, float] = {}
            mark = [None, 0.0]

            def progress(step: str) -> None:
                now = time.perf_counter()
                if mark[0] is not None:
                    steps[mark[0]] = round(now - mark[1], 3)
                mark[:] = [step, now]

            with engine.connect() as conn:
                transaction = conn.begin()

                def work():
                    data = read_file(path)
                    report = import_file(
                        conn, "incidents", data, path.name, ImportOptions(), progress
                    )
                    progress("end")
                    return report

                seconds, report = timed(work)
                transaction.rollback()
            if report.inserted != size or report.rejected:
                raise AssertionError(f"import: {report.inserted} in, {report.rejected} rejected")
            return {"seconds": seconds, "steps_s": steps}

        def baseline() -> dict:
            with engine.connect() as conn:
                transaction = conn.begin()
                copy_s, _ = timed(lambda: copy_columns(conn, "incidents", rows))
                transaction.rollback()

            def strtree():
                points = shapely.points(frame["lon"].to_numpy(), frame["lat"].to_numpy())
                return shapely.STRtree(sectors).query(points, predicate="intersects")

            strtree_s, _ = timed(strtree)
            return {"seconds": copy_s + strtree_s, "copy_s": copy_s, "strtree_s": strtree_s}

        def vacuum() -> None:
            with autocommit.connect() as conn:
                conn.execute(text(f"VACUUM {', '.join(VACUUMED)}"))

        runs = interleaved(
            {"ours": ours, "baseline": baseline},
            repeat=ctx.options.repeat,
            between=vacuum,
            label=f"import {size:,}",
        )
    engine.dispose()
    autocommit.dispose()
    o, b = summary(runs.seconds["ours"]), summary(runs.seconds["baseline"])
    base_runs = runs.results["baseline"]
    return [
        Figure(
            NAME,
            "CSV import + attach (gridmap import incidents)",
            f"{size:,} incidents ({file_mb:.1f} MB CSV) into {before:,}",
            "s",
            o["median"],
            b["median"],
            "raw COPY + shapely STRtree",
            Target("ratio_max", 1.5, "≤ 1.5") if size >= 1_000_000 else None,
            detail={
                "ours_s": o,
                "baseline_s": b,
                "ours_steps_s": [r["steps_s"] for r in runs.results["ours"]],
                "baseline_copy_s": [r["copy_s"] for r in base_runs],
                "baseline_strtree_s": [r["strtree_s"] for r in base_runs],
                "ours_runs_s": runs.seconds["ours"],
                "baseline_runs_s": runs.seconds["baseline"],
                "file_mb": round(file_mb, 1),
            },
        )
    ]

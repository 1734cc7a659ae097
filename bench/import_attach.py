"""Benchmark: importing incidents from CSV with full attach, against the floor of storing them.

The target of issue 3: `gridmap import incidents FILE` (read, check every cell, attach,
deadlines, dispatch, events, one transaction) takes at most 3x the baseline, measured in the
same run on the same rows:

- **baseline** = a raw `COPY` of the same rows into the incidents table (ids, categories,
  times, deadlines and the point as EWKB, prepared in memory beforehand; the COPY alone is
  timed, then rolled back) + a shapely `STRtree` query of the same points against the
  current sectors (building the points and the tree included);
- **ours** = `geo.imports.import_file` of the CSV file, from reading its bytes to commit.

It runs in a throwaway database on the configured server (the local cluster, or
GRIDMAP_DATABASE_URL's), seeded with the district at a small incident scale, and drops it.

    .venv/bin/python bench/import_attach.py 1000000
"""

from __future__ import annotations

import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import shapely
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from geo.bulk import copy_columns, ewkb_hex  # noqa: E402
from geo.database import database_url  # noqa: E402
from geo.imports import ImportOptions, import_file, read_file  # noqa: E402
from geo.migrate import upgrade  # noqa: E402
from geo.seed import seed  # noqa: E402
from geo.timelimits import dispatch_due_at, due_at  # noqa: E402

CATEGORIES = ("sanitation", "dispute", "safety_hazard", "public_service", "public_security")


def _incidents_csv(conn, size: int, path: Path, rng: np.random.Generator) -> pd.DataFrame:
    """`size` incidents at random points inside the sub-district, written to `path`."""
    district = shapely.from_wkt(
        conn.execute(text("SELECT ST_AsText(geom) FROM units WHERE level = 'district'")).scalar()
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
    copy_path = path
    import pyarrow as pa
    import pyarrow.csv as pacsv

    pacsv.write_csv(pa.Table.from_pandas(frame, preserve_index=False), str(copy_path))
    return frame


def _baseline_copy(conn, frame: pd.DataFrame) -> float:
    """Seconds to COPY the same rows, as stored, into incidents (rolled back)."""
    limits = pd.read_sql(text("SELECT * FROM incident_categories"), conn).set_index("code")
    per_row = limits.loc[frame["category"].to_numpy()]
    reported = pd.to_datetime(frame["observed_at"]).to_numpy("datetime64[s]") - np.timedelta64(
        8, "h"
    )
    rows = pd.DataFrame(
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
    conn.rollback()
    transaction = conn.begin()
    started = time.perf_counter()
    copy_columns(conn, "incidents", rows)
    seconds = time.perf_counter() - started
    transaction.rollback()
    assert conn.execute(text("SELECT count(*) FROM incidents WHERE id LIKE 'B%'")).scalar() == 0
    conn.rollback()
    return seconds


def _baseline_strtree(conn, frame: pd.DataFrame) -> float:
    """Seconds to build the points and query them against the sectors with an STRtree."""
    sectors = shapely.from_wkt(
        conn.execute(text("SELECT ST_AsText(geom) FROM units WHERE level = 'sector' ORDER BY code"))
        .scalars()
        .all()
    )
    started = time.perf_counter()
    points = shapely.points(frame["lon"].to_numpy(), frame["lat"].to_numpy())
    tree = shapely.STRtree(sectors)
    tree.query(points, predicate="intersects")
    return time.perf_counter() - started


def run(size: int = 1_000_000) -> dict:
    """Import `size` incidents and time the baseline in the same run; returns seconds and
    the ratio ours / baseline."""
    server = make_url(database_url())
    admin = create_engine(server.set(database="postgres"), isolation_level="AUTOCOMMIT")
    name = f"gridmap_bench_{uuid.uuid4().hex[:8]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine = create_engine(server.set(database=name))
    try:
        upgrade(engine)
        seed(engine, scale=0.04, end=datetime(2026, 1, 1, tzinfo=UTC))
        rng = np.random.default_rng(3)
        with tempfile.TemporaryDirectory() as tmp, engine.connect() as conn:
            path = Path(tmp) / "incidents.csv"
            frame = _incidents_csv(conn, size, path, rng)
            conn.commit()
            copy_s = _baseline_copy(conn, frame)
            strtree_s = _baseline_strtree(conn, frame)
            conn.commit()
            steps: dict[str, float] = {}
            last = [time.perf_counter(), None]

            def progress(step: str) -> None:
                now = time.perf_counter()
                if last[1] is not None:
                    steps[last[1]] = round(now - last[0], 2)
                last[:] = [now, step]

            started = time.perf_counter()
            with engine.begin() as writing:
                data = read_file(path)
                report = import_file(
                    writing, "incidents", data, path.name, ImportOptions(), progress
                )
                progress("commit")
            ours = time.perf_counter() - started
            steps["commit"] = round(time.perf_counter() - last[0], 2)
            file_mb = path.stat().st_size / 1e6
        baseline = copy_s + strtree_s
        return {
            "size": size,
            "file_mb": round(file_mb, 1),
            "inserted": report.inserted,
            "rejected": report.rejected,
            "ours_s": round(ours, 2),
            "ours_steps_s": steps,
            "baseline_copy_s": round(copy_s, 2),
            "baseline_strtree_s": round(strtree_s, 2),
            "baseline_s": round(baseline, 2),
            "ratio": round(ours / baseline, 2),
        }
    finally:
        engine.dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


if __name__ == "__main__":
    import json

    print(json.dumps(run(int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000), indent=2))

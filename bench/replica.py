"""Benchmark: reads on the read replica against the same reads on the primary, and the
replica's lag under the intake load (issue 23).

The replica is the local cluster's hot standby (`gridmap db up --replica`, PostgreSQL
streaming replication): when the run's database is on the local cluster, the standby is
started if it is not running (and stopped and removed again at the end if this run made
it); GRIDMAP_READ_DATABASE_URL's server is used instead when set. The run's scratch copy
reaches the standby by replication like any other write.

- **OGC items and case lists, replica vs primary**: two `gridmap serve` (one worker each)
  on the same scratch copy, one with GRIDMAP_READ_DATABASE_URL naming the replica (every
  answer checked to carry `X-Read-Source: replica`), one without (`primary`); the same
  requests, the same concurrency, in rounds that alternate between them. Target: the
  replica at least as fast (throughput ratio replica/primary ≥ 1.0).
- **Lag under intake**: `POST /api/incidents` at `load_concurrency` clients against the
  server that reads from the replica, while a sampler reads the primary's
  `pg_stat_replication` (replay lag, bytes not yet replayed) every 0.2 s. Reported: the
  median, p99 and largest replay lag, and the largest backlog in bytes; no target.
"""

from __future__ import annotations

import contextlib
import os
import statistics
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import numpy as np
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from bench.harness import (
    Context,
    Figure,
    Request,
    Target,
    interleaved,
    load,
    log,
    serve_gridmap,
    summary,
)

NAME = "replica"
SAMPLE_EVERY_S = 0.2


@contextlib.contextmanager
def _replica_server(ctx: Context) -> Iterator[tuple[str | None, str]]:
    """(URL of the scratch copy on the replica, how it was found); the URL is None, with
    the reason, when there is no replica to measure."""
    from geo.core.settings import get_settings
    from geo.ops.localdb import LocalCluster
    from geo.ops.replica import LocalReplica

    database = make_url(ctx.url).database
    configured = get_settings().read_database_url
    if configured:
        yield make_url(configured).set(database=database).render_as_string(False), "configured"
        return
    cluster = LocalCluster.from_settings()
    scratch = make_url(ctx.url)
    local = cluster.is_running() and scratch.port == cluster._running_port()
    if not local or scratch.host not in ("127.0.0.1", "localhost"):
        yield None, "the run's database is not on the local cluster; no GRIDMAP_READ_DATABASE_URL"
        return
    standby = LocalReplica.from_settings()
    made_here = not standby.is_running()
    if made_here:
        log(f"read replica: {standby.up()}")
    try:
        yield standby.url(database), "local standby" + (" (made for this run)" if made_here else "")
    finally:
        if made_here:
            standby.remove()
            log("read replica made for this run: stopped and removed")


def _wait_until_replayed(primary_url: str, replica_url: str, timeout: float = 600) -> float:
    """Seconds until the replica has the scratch copy at the primary's data version."""
    from geo.core.dataversion import data_version

    started, deadline = time.monotonic(), time.monotonic() + timeout
    primary = create_engine(primary_url)
    replica = create_engine(replica_url)
    try:
        with primary.connect() as conn:
            wanted = data_version(conn).version
        while time.monotonic() < deadline:
            with contextlib.suppress(Exception):  # the database may not be replayed yet
                with replica.connect() as conn:
                    if data_version(conn).version >= wanted:
                        return time.monotonic() - started
            time.sleep(0.2)
        raise RuntimeError(f"the replica did not replay the scratch copy within {timeout:g} s")
    finally:
        primary.dispose()
        replica.dispose()


@contextlib.contextmanager
def _serve_reading_from(primary_url: str, replica_url: str | None) -> Iterator[str]:
    """`gridmap serve` (one worker) with GRIDMAP_READ_DATABASE_URL = `replica_url` (None:
    unset); the harness passes its environment on to the server it starts."""
    saved = os.environ.pop("GRIDMAP_READ_DATABASE_URL", None)
    try:
        if replica_url:
            os.environ["GRIDMAP_READ_DATABASE_URL"] = replica_url
        with serve_gridmap(primary_url) as base:
            os.environ.pop("GRIDMAP_READ_DATABASE_URL", None)
            yield base
    finally:
        os.environ.pop("GRIDMAP_READ_DATABASE_URL", None)
        if saved is not None:
            os.environ["GRIDMAP_READ_DATABASE_URL"] = saved


def _read_source(expected: str):
    def check(response) -> str | None:
        if response.status_code != 200:
            return f"HTTP {response.status_code}"
        source = response.headers.get("x-read-source")
        return None if source == expected else f"X-Read-Source {source}, expected {expected}"

    return check


def _compare(ctx: Context, bases: dict[str, str], label: str, make) -> dict:
    """Rounds of the same requests against both servers, alternating; per-server stats."""
    opts = ctx.options
    n = opts.ogc_requests * 2

    def contestant(name: str):
        def go() -> dict:
            result = load(bases[name], make, opts.ogc_concurrency, 600, n, _read_source(name))
            return {"seconds": result.wall_s, "load": result}

        return go

    runs = interleaved(
        {name: contestant(name) for name in bases}, opts.ogc_rounds, warmup=1, label=label
    )
    stats = {}
    for name in bases:
        loads = [r["load"] for r in runs.results[name]]
        stats[name] = {
            "rps": statistics.median(x.throughput for x in loads),
            "latency_ms": summary([t * 1000 for x in loads for t in x.latencies]),
            "errors": sum(x.errors for x in loads),
            "error_samples": [s for x in loads for s in x.error_samples][:5],
        }
    return stats


def _read_figures(ctx: Context, bases: dict[str, str], total: int) -> list[Figure]:
    opts = ctx.options
    admin = {"Authorization": f"Bearer {ctx.token('admin')}", "Accept-Encoding": "identity"}
    supervisor = {"Authorization": f"Bearer {ctx.token('supervisor')}"}
    limit = opts.ogc_limits[0]
    offsets = np.random.default_rng(23).integers(0, max(1, total - limit), 10_000).tolist()
    scenarios = [
        (
            f"OGC items, limit={limit}",
            lambda i: Request(
                "GET",
                "/ogc/collections/incidents/items",
                {**admin, "Accept": "application/geo+json"},
                {"limit": limit, "offset": offsets[i % len(offsets)]},
            ),
        ),
        (
            "case list, GET /api/cases?area=me (supervisor)",
            lambda i: Request("GET", "/api/cases", supervisor, {"area": "me", "state": "open"}),
        ),
    ]
    figures = []
    for label, make in scenarios:
        stats = _compare(ctx, bases, label, make)
        r, p = stats["replica"], stats["primary"]
        log(f"{label}: replica {r['rps']:.1f} req/s, primary {p['rps']:.1f} req/s")
        figures.append(
            Figure(
                NAME,
                f"{label}: throughput on the replica, {opts.ogc_concurrency} clients",
                f"{total:,} incidents, {opts.ogc_rounds} rounds × {opts.ogc_requests * 2} requests",
                "req/s",
                r["rps"],
                p["rps"],
                "the same reads on the primary",
                Target("ratio_min", 1.0, "≥ 1.0× the primary"),
                ours_note=f"p99 {r['latency_ms']['p99']:.0f} ms (primary "
                f"{p['latency_ms']['p99']:.0f} ms), {r['errors']} errors ({p['errors']})",
                errors=r["errors"] + p["errors"],
                detail={"replica": r, "primary": p},
            )
        )
    return figures


class LagSampler:
    """Samples the primary's view of its standby every SAMPLE_EVERY_S in a thread."""

    def __init__(self, primary_url: str) -> None:
        self.engine = create_engine(primary_url)
        self.samples: list[dict] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        from geo.ops.replica import streaming_lag

        with self.engine.connect() as conn:
            while not self._stop.is_set():
                lag = streaming_lag(conn)
                conn.rollback()
                if lag is not None:
                    self.samples.append(lag)
                self._stop.wait(SAMPLE_EVERY_S)

    def __enter__(self) -> LagSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
        self.engine.dispose()


def _lag_figures(ctx: Context, base: str, total: int) -> list[Figure]:
    from bench.api_load import _points

    opts = ctx.options
    engine = ctx.engine()
    with engine.connect() as conn:
        points = _points(conn, opts.load_max_requests, np.random.default_rng(23))
    engine.dispose()
    patrol = {"Authorization": f"Bearer {ctx.token('patrol')}"}
    now = datetime.now(UTC)

    def intake(i: int) -> Request:
        lon, lat = points[i % len(points)]
        body = {
            "lon": float(lon),
            "lat": float(lat),
            "category": "sanitation",
            "description": "副本延迟测试 replica lag test",
            "observed_at": (now - timedelta(minutes=i % 600)).isoformat(),
        }
        headers = {**patrol, "Idempotency-Key": str(uuid.uuid4())}
        return Request("POST", "/api/incidents", headers, json=body)

    def created(response) -> str | None:
        return None if response.status_code == 201 else f"HTTP {response.status_code}"

    with LagSampler(make_url(ctx.url).set(database="postgres").render_as_string(False)) as lag:
        result = load(
            base, intake, opts.load_concurrency, opts.load_seconds, opts.load_max_requests, created
        )
    lags = [s["replay_lag_s"] * 1000 for s in lag.samples]
    backlog = max((s["behind_bytes"] for s in lag.samples), default=0)
    stats = summary(lags)
    log(
        f"intake {result.throughput:.1f} req/s; replica lag p50 {stats.get('p50', 0):.1f} ms, "
        f"max {stats.get('max', 0):.1f} ms, backlog max {backlog:,} bytes"
    )
    return [
        Figure(
            NAME,
            f"replica replay lag under intake (POST /api/incidents, {opts.load_concurrency} "
            "clients), largest",
            f"{result.requests:,} reports in {result.wall_s:.0f} s ({result.throughput:.1f}/s), "
            f"{len(lags)} samples",
            "ms",
            stats.get("max"),
            ours_note=f"p50 {stats.get('p50', 0):.1f} ms, p99 {stats.get('p99', 0):.1f} ms, "
            f"largest backlog {backlog:,} bytes, {result.errors} intake errors",
            errors=result.errors,
            detail={"lag_ms": stats, "backlog_bytes_max": backlog, "intake": result.as_dict()},
        )
    ]


def run(ctx: Context) -> list[Figure]:
    engine = ctx.engine()
    with engine.connect() as conn:
        total = conn.execute(text("SELECT count(*) FROM incidents")).scalar_one()
    engine.dispose()
    ctx.token("admin"), ctx.token("supervisor"), ctx.token("patrol")  # made before the copy
    ctx.stop_servers()
    with _replica_server(ctx) as (replica_url, how):
        if replica_url is None:
            log(f"replica: NOT MEASURED: {how}")
            return [Figure(NAME, "reads on the replica", "—", "req/s", None, not_measured=how)]
        log(f"replica: {how}; replayed in {_wait_until_replayed(ctx.url, replica_url):.1f} s")
        with (
            _serve_reading_from(ctx.url, replica_url) as on_replica,
            _serve_reading_from(ctx.url, None) as on_primary,
        ):
            bases = {"replica": on_replica, "primary": on_primary}
            figures = _read_figures(ctx, bases, total)
            figures += _lag_figures(ctx, on_replica, total)
    return figures

"""The one benchmark harness: repetition, medians and percentiles, figure records, the
machine, the databases and servers a run works on, and a bounded HTTP load client.

Every benchmark in `bench/` measures the product ("ours") and its baseline side by side,
interleaved, in the same run (`interleaved`), and returns `Figure` records; `bench/__main__`
writes them to `bench/results/latest.json` and `latest.md` with the machine they ran on.

Where a run works:

- the **source database** (default `gridmap_bench_1m` on the configured server: the local
  cluster, or GRIDMAP_DATABASE_URL's server) holds the district seeded at `--scale 40`
  (1,000,000 incidents); `ensure_database` creates, migrates, seeds and VACUUM ANALYZEs it
  when it is missing, once, and later runs reuse it. Nothing ever writes to it;
- each run makes a **scratch copy** of it (`CREATE DATABASE ... TEMPLATE ... STRATEGY
  FILE_COPY`), runs every benchmark there (those that write — boundary edits, intake under
  load, imports — commit or roll back in the copy), and drops the copy at the end.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine, make_url

from geo.ops.localdb import free_port

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"


def log(message: str) -> None:
    """One progress line on stderr (results go to the files, not here)."""
    print(f"[bench {datetime.now():%H:%M:%S}] {message}", file=sys.stderr, flush=True)


# -- statistics -------------------------------------------------------------------------------


def percentile(samples: list[float], q: float) -> float:
    """The q-th percentile (0-100), linearly interpolated between the nearest samples."""
    return float(np.percentile(np.asarray(samples, dtype=float), q))


def summary(samples: list[float]) -> dict:
    """n, median (= p50), p90, p99, min, max and mean of the samples."""
    if not samples:
        return {"n": 0}
    return {
        "n": len(samples),
        "median": statistics.median(samples),
        "p50": percentile(samples, 50),
        "p90": percentile(samples, 90),
        "p99": percentile(samples, 99),
        "min": min(samples),
        "max": max(samples),
        "mean": statistics.fmean(samples),
    }


# -- timing ----------------------------------------------------------------------------------


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    """Seconds `fn()` took, and what it returned."""
    started = time.perf_counter()
    result = fn()
    return time.perf_counter() - started, result


@dataclass
class Runs:
    """Seconds (and what each call returned) per contestant, over interleaved rounds."""

    seconds: dict[str, list[float]] = field(default_factory=dict)
    results: dict[str, list[Any]] = field(default_factory=dict)

    def median(self, name: str) -> float:
        return statistics.median(self.seconds[name])

    def last(self, name: str) -> Any:
        return self.results[name][-1]


def interleaved(
    contestants: dict[str, Callable[[], Any]],
    repeat: int,
    warmup: int = 0,
    between: Callable[[], None] | None = None,
    label: str = "",
) -> Runs:
    """Call each contestant `repeat` times, in rounds that alternate their order (A B, B A,
    ...) so that drift on a shared machine falls on each alike; `warmup` untimed rounds
    first. `contestants` map a name to a function that runs ONE measured operation and may
    return a result (or a dict with "seconds" when it times itself, e.g. to exclude its
    set-up); `between` runs untimed after each call."""
    names = list(contestants)
    runs = Runs({n: [] for n in names}, {n: [] for n in names})
    for round_ in range(warmup + repeat):
        order = names if round_ % 2 == 0 else names[::-1]
        for name in order:
            seconds, result = timed(contestants[name])
            if isinstance(result, dict) and "seconds" in result:
                seconds = result["seconds"]
            if between is not None:
                between()
            if round_ >= warmup:
                runs.seconds[name].append(seconds)
                runs.results[name].append(result)
        if label and round_ >= warmup:
            done = ", ".join(f"{n} {runs.seconds[n][-1]:.3f} s" for n in names)
            log(f"{label} round {round_ - warmup + 1}/{repeat}: {done}")
    return runs


# -- figures ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    """What a figure must reach. kind: `ratio_max` (ours/baseline ≤ value), `ratio_min`
    (ours/baseline ≥ value), `ours_max` (ours ≤ value, in the figure's unit) or `no_errors`
    (the figure's `errors` == 0)."""

    kind: str
    value: float
    text: str

    def met(self, fig: Figure) -> bool | None:
        if self.kind == "ratio_max":
            return None if fig.ratio is None else fig.ratio <= self.value
        if self.kind == "ratio_min":
            return None if fig.ratio is None else fig.ratio >= self.value
        if self.kind == "ours_max":
            return None if fig.ours is None else fig.ours <= self.value
        if self.kind == "no_errors":
            return None if fig.errors is None else fig.errors == 0
        raise ValueError(f"unknown target kind {self.kind!r}")


@dataclass
class Figure:
    """One line of the results table: a headline figure of ours against its baseline."""

    benchmark: str
    figure: str
    size: str
    unit: str
    ours: float | None
    baseline: float | None = None
    baseline_name: str = ""
    target: Target | None = None
    #: ours/baseline as measured (None without a baseline); set from ours and baseline
    ratio: float | None = None
    #: the extra text the Markdown cell shows after `ours` (e.g. p99, errors)
    ours_note: str = ""
    #: failed requests, for figures measured over HTTP
    errors: int | None = None
    detail: dict = field(default_factory=dict)
    #: why the baseline could not be measured (then `baseline` is None), in full
    not_measured: str = ""

    def __post_init__(self) -> None:
        if self.ratio is None and self.ours is not None and self.baseline:
            self.ratio = self.ours / self.baseline

    @property
    def met(self) -> bool | None:
        return self.target.met(self) if self.target else None

    def as_dict(self) -> dict:
        out = asdict(self)
        out["target"] = self.target.text if self.target else None
        out["target_rule"] = asdict(self.target) if self.target else None
        out["met"] = self.met
        return out


# -- the machine -----------------------------------------------------------------------------


def _cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def _ram_gb() -> float | None:
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 1024**2, 1)
    return None


def _git(*args: str) -> str:
    done = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True)
    return done.stdout.strip() if done.returncode == 0 else ""


def machine(engine: Engine) -> dict:
    """CPU model, cores, RAM, load average now, PostgreSQL and PostGIS versions, git commit."""
    with engine.connect() as conn:
        pg = conn.execute(text("SHOW server_version")).scalar()
        postgis = conn.execute(text("SELECT postgis_lib_version()")).scalar()
        geos = conn.execute(text("SELECT postgis_geos_version()")).scalar()
    dirty = bool(_git("status", "--porcelain", "--untracked-files=no"))
    return {
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "ram_gb": _ram_gb(),
        "load_average_start": [round(v, 2) for v in os.getloadavg()],
        "postgresql": pg,
        "postgis": postgis,
        "geos": geos,
        "python": platform.python_version(),
        "os": platform.platform(),
        "git_commit": _git("rev-parse", "HEAD") + (" (uncommitted changes)" if dirty else ""),
        "git_branch": _git("rev-parse", "--abbrev-ref", "HEAD"),
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }


# -- databases -------------------------------------------------------------------------------


def server_url(source_url: str | None = None) -> str:
    """The server a run works on: that of `source_url`, else the configured one (starting
    the local cluster when it is the one and is not running)."""
    if source_url:
        return source_url
    from geo.core.settings import get_settings
    from geo.ops.database import database_url
    from geo.ops.localdb import LocalCluster

    if not get_settings().database_url:
        cluster = LocalCluster.from_settings()
        if not cluster.is_running():
            log(f"starting the local cluster: {cluster.up()}")
    return database_url()


def _admin(url: str) -> Engine:
    return create_engine(make_url(url).set(database="postgres"), isolation_level="AUTOCOMMIT")


def maintain(url: str, statement: str = "VACUUM ANALYZE") -> None:
    """Run a maintenance statement (VACUUM, ANALYZE: outside a transaction) on the database
    at `url`."""
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(text(statement))
    finally:
        engine.dispose()


def _exists(admin: Engine, name: str) -> bool:
    with admin.connect() as conn:
        found = conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name})
        return found.first() is not None


def _loaded(url: str) -> tuple[int, int]:
    """(units, incidents) of a database, (0, 0) when it has no schema yet."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            if conn.execute(text("SELECT to_regclass('units')")).scalar() is None:
                return 0, 0
            units = conn.execute(text("SELECT count(*) FROM units")).scalar_one()
            incidents = conn.execute(text("SELECT count(*) FROM incidents")).scalar_one()
            return units, incidents
    finally:
        engine.dispose()


def ensure_database(server: str, name: str, scale: float) -> str:
    """URL of database `name` on `server`, holding the seeded district. Created, migrated,
    seeded at `scale` and VACUUM ANALYZEd when missing or empty (at scale 40, about ten
    minutes; the next runs reuse it)."""
    from geo.ops.migrate import upgrade
    from geo.ops.seed import seed

    url = make_url(server).set(database=name).render_as_string(hide_password=False)
    admin = _admin(server)
    try:
        if not _exists(admin, name):
            log(
                f"database {name} is missing: creating it and seeding the district at "
                f"--scale {scale:g} ({25_000 * scale:,.0f} incidents) once; later runs reuse it"
            )
            with admin.connect() as conn:
                conn.execute(text(f'CREATE DATABASE "{name}"'))
        units, incidents = _loaded(url)
        if not units:
            engine = create_engine(url)
            try:
                upgrade(engine)
                started = time.perf_counter()
                report = seed(engine, scale=scale, progress=lambda step: log(f"seeding: {step}"))
                log(
                    f"seeded {name} in {time.perf_counter() - started:.0f} s: "
                    f"{report.counts.get('incidents', 0):,} incidents"
                )
            finally:
                engine.dispose()
            maintain(url)
            units, incidents = _loaded(url)
        else:
            _migrate_reused(url, name)
        log(f"source database {name}: {units} units, {incidents:,} incidents")
        return url
    finally:
        admin.dispose()


def _migrate_reused(url: str, name: str) -> None:
    """Bring a reused source database to the code's schema (a revision added since it was
    seeded, such as a new rollup, is built here once; its tables are then ANALYZEd)."""
    from geo.ops.migrate import current_revision, revisions, upgrade

    engine = create_engine(url)
    try:
        before = current_revision(engine)
        if before == revisions()[-1]:
            return
        started = time.perf_counter()
        log(f"source database {name} is at revision {before}: migrating it to head once")
        upgrade(engine)
    finally:
        engine.dispose()
    maintain(url, "ANALYZE")
    log(f"migrated {name} in {time.perf_counter() - started:.0f} s")


@contextlib.contextmanager
def scratch_copy(source_url: str) -> Iterator[str]:
    """A copy of the source database for this run (dropped at the end, whatever happens):
    benchmarks that write do so here, and the source stays as it was."""
    source = make_url(source_url)
    name = f"{source.database}_run_{uuid.uuid4().hex[:8]}"
    admin = _admin(source_url)
    started = time.perf_counter()
    with admin.connect() as conn:
        conn.execute(
            text(f'CREATE DATABASE "{name}" TEMPLATE "{source.database}" STRATEGY FILE_COPY')
        )
    log(f"scratch copy {name} of {source.database} made in {time.perf_counter() - started:.1f} s")
    try:
        yield source.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
        log(f"dropped the scratch copy {name}")


@contextlib.contextmanager
def in_place(source_url: str) -> Iterator[str]:
    """The source database itself, for a run too large for a scratch copy (`--in-place`);
    at the end, whatever happens, the index entries of the row versions its writes and
    rolled-back edits left are removed (`INDEX_CLEANUP ON`: a plain VACUUM skips them when
    they sit on under 2 % of the pages; the primary skips such entries once marked dead, a
    hot standby cannot and reads the table for each — they made the city's OGC reads a tenth
    slower on the replica)."""
    try:
        yield source_url
    finally:
        maintain(source_url, "VACUUM (INDEX_CLEANUP ON) incidents")
        log("in place: VACUUM (INDEX_CLEANUP ON) incidents — dead row versions' entries cleared")


def bench_token(url: str, role: str = "admin", name: str = "bench") -> str:
    """A new API token of `role` in the database at `url` (the scratch copy)."""
    from geo.access.roles import create_token

    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            worker = None
            if role == "grid_worker":
                worker = conn.execute(
                    text("SELECT id FROM resources WHERE kind = 'grid_worker' ORDER BY id LIMIT 1")
                ).scalar()
            return create_token(conn, role, f"{name} {role}", worker_id=worker)
    finally:
        engine.dispose()


def libpq_url(url: str) -> str:
    """The URL in libpq form (postgresql://...), for programs that are not SQLAlchemy."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


# -- servers ---------------------------------------------------------------------------------


@contextlib.contextmanager
def _running(cmd: list[str], env: dict, probe: str, what: str) -> Iterator[subprocess.Popen]:
    log_file = tempfile.TemporaryFile(mode="w+")
    process = subprocess.Popen(
        cmd, env=env, stdout=subprocess.DEVNULL, stderr=log_file, text=True, cwd=ROOT
    )
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(probe, timeout=5):
                    break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    process.kill()
                    log_file.seek(0)
                    raise RuntimeError(f"{what} did not start: {log_file.read()[-3000:]}") from None
                time.sleep(0.25)
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log_file.close()


@contextlib.contextmanager
def serve_gridmap(url: str, workers: int = 1, cache_dir: Path | None = None) -> Iterator[str]:
    """`gridmap serve` on a free loopback port, on the database at `url`, with map pages
    cached in `cache_dir` (default: a temporary folder); yields the base URL."""
    port = free_port()
    with contextlib.ExitStack() as stack:
        if cache_dir is None:
            cache_dir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-")))
        env = {
            **os.environ,
            "GRIDMAP_DATABASE_URL": url,
            "GRIDMAP_TILES": "none",
            "GRIDMAP_MAP_CACHE_DIR": str(cache_dir),
        }
        gridmap = Path(sys.executable).parent / "gridmap"
        cmd = [str(gridmap), "serve", "--port", str(port), "--workers", str(workers)]
        base = f"http://127.0.0.1:{port}"
        started = time.perf_counter()
        stack.enter_context(_running(cmd, env, f"{base}/api/health", "gridmap serve"))
        log(
            f"gridmap serve --workers {workers} up at {base} "
            f"in {time.perf_counter() - started:.1f} s"
        )
        yield base


#: tipg as installed in its own virtual environment (never the project's: its pins may clash)
TIPG_SPEC = "tipg==1.6.1"


def tipg_python(home: Path, spec: str = TIPG_SPEC) -> Path:
    """The Python of the tipg environment under `home`/bench/tipg-venv, created with
    `python3 -m venv` and pip on first use (PyPI); reused while it holds `spec`."""
    venv = home / "bench" / "tipg-venv"
    python = venv / "bin" / "python"
    stamp = venv / ".installed"
    if python.exists() and stamp.exists() and stamp.read_text().strip() == spec:
        return python
    base = shutil.which("python3") or sys.executable
    log(f"creating the tipg environment {venv} ({spec}, uvicorn) from PyPI")
    if venv.exists():
        shutil.rmtree(venv)
    venv.parent.mkdir(parents=True, exist_ok=True)
    steps = [
        [base, "-m", "venv", str(venv)],
        [str(python), "-m", "pip", "install", "--quiet", "--upgrade", "pip"],
        [str(python), "-m", "pip", "install", "--quiet", spec, "uvicorn"],
    ]
    for cmd in steps:
        done = subprocess.run(cmd, capture_output=True, text=True)
        if done.returncode != 0:
            tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
            raise RuntimeError(f"`{' '.join(cmd)}` failed: {' '.join(tail)}")
    stamp.write_text(spec + "\n")
    return python


def tipg_version(python: Path) -> str:
    done = subprocess.run(
        [str(python), "-c", "import tipg; print(tipg.__version__)"], capture_output=True, text=True
    )
    return done.stdout.strip()


@contextlib.contextmanager
def serve_tipg(
    url: str, home: Path, tables: dict[str, list[str]], workers: int = 1
) -> Iterator[str]:
    """tipg (developmentseed) under uvicorn on a free loopback port, publishing `tables`
    (table → the properties to publish) of the public schema of the database at `url`;
    yields the base URL. Its catalogue is read once at start-up (TIPG_CATALOG_TTL=0), so a
    refresh cannot fall inside a measurement."""
    python = tipg_python(home)
    port = free_port()
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": os.environ.get("HOME", "/root"),
        "DATABASE_URL": libpq_url(url),
        "TIPG_DB_SCHEMAS": json.dumps(["public"]),
        "TIPG_DB_TABLES": json.dumps([f"public.{t}" for t in tables]),
        "TIPG_CATALOG_TTL": "0",
        "TIPG_MAX_FEATURES_PER_QUERY": "10000",
    }
    for table, properties in tables.items():
        env[f"TIPG_TABLE_CONFIG__public_{table}__properties"] = json.dumps(properties)
        env[f"TIPG_TABLE_CONFIG__public_{table}__pk"] = "id"
        env[f"TIPG_TABLE_CONFIG__public_{table}__geomcol"] = "geom"
    cmd = [
        str(python), "-m", "uvicorn", "tipg.main:app",
        "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers),
    ]  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    started = time.perf_counter()
    with _running(cmd, env, f"{base}/healthz", "tipg"):
        log(f"tipg {tipg_version(python)} up at {base} in {time.perf_counter() - started:.1f} s")
        yield base


# -- HTTP load -------------------------------------------------------------------------------


@dataclass
class Request:
    method: str
    path: str
    headers: dict = field(default_factory=dict)
    params: dict | None = None
    json: Any = None


@dataclass
class Load:
    """What a bounded load run saw: latency of each answered request, errors, wall time."""

    latencies: list[float]
    errors: int
    wall_s: float
    statuses: dict[str, int]
    error_samples: list[str]
    bytes: int

    @property
    def requests(self) -> int:
        return len(self.latencies) + self.errors

    @property
    def throughput(self) -> float:
        """Answered requests per second of wall time."""
        return len(self.latencies) / self.wall_s if self.wall_s else 0.0

    def as_dict(self) -> dict:
        lat = summary([x * 1000 for x in self.latencies])
        return {
            "requests": self.requests,
            "errors": self.errors,
            "wall_s": round(self.wall_s, 3),
            "throughput_rps": round(self.throughput, 2),
            "latency_ms": {k: round(v, 2) for k, v in lat.items()},
            "statuses": self.statuses,
            "error_samples": self.error_samples[:5],
            "mean_bytes": round(self.bytes / max(1, len(self.latencies))),
        }


Check = Callable[[Any], str | None]


async def _load(
    base: str,
    make: Callable[[int], Request],
    concurrency: int,
    seconds: float,
    max_requests: int,
    check: Check | None,
    timeout: float,
) -> Load:
    import httpx

    latencies: list[float] = []
    statuses: Counter = Counter()
    samples: list[str] = []
    errors = 0
    size = 0
    issued = 0
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=timeout) as client:
        started = time.perf_counter()
        stop = started + seconds

        async def worker() -> None:
            nonlocal errors, size, issued
            while issued < max_requests and time.perf_counter() < stop:
                i = issued
                issued += 1
                req = make(i)
                t0 = time.perf_counter()
                try:
                    response = await client.request(
                        req.method, req.path, headers=req.headers, params=req.params, json=req.json
                    )
                    body = response.content
                    elapsed = time.perf_counter() - t0
                    statuses[str(response.status_code)] += 1
                    problem = None
                    if response.status_code >= 400:
                        problem = f"HTTP {response.status_code}: {body[:200]!r}"
                    elif check is not None:
                        problem = check(response)
                except httpx.HTTPError as exc:
                    statuses[type(exc).__name__] += 1
                    problem = f"{type(exc).__name__}: {exc}"
                if problem:
                    errors += 1
                    if len(samples) < 10:
                        samples.append(problem)
                else:
                    latencies.append(elapsed)
                    size += len(body)

        await asyncio.gather(*(worker() for _ in range(concurrency)))
        wall = time.perf_counter() - started
    return Load(latencies, errors, wall, dict(statuses), samples, size)


def load(
    base: str,
    make: Callable[[int], Request],
    concurrency: int,
    seconds: float,
    max_requests: int,
    check: Check | None = None,
    timeout: float = 60.0,
) -> Load:
    """Send requests `make(0)`, `make(1)`, ... to `base` from `concurrency` keep-alive
    connections on loopback until `seconds` have passed or `max_requests` were sent (both
    bound every run). A request is an error when it fails, answers 4xx/5xx, or `check`
    returns a reason."""
    return asyncio.run(_load(base, make, concurrency, seconds, max_requests, check, timeout))


# -- the run ---------------------------------------------------------------------------------


@dataclass
class Context:
    """What every benchmark gets: the run's options, the scratch database, the servers."""

    options: Any
    url: str  # the scratch copy
    source: str  # the source database (read only)
    home: Path
    quick: bool
    _stack: contextlib.ExitStack = field(default_factory=contextlib.ExitStack)
    _servers: dict = field(default_factory=dict)
    _tokens: dict = field(default_factory=dict)

    def engine(self, **kwargs) -> Engine:
        from geo.ops.database import engine_for

        return engine_for(self.url, **kwargs)

    def token(self, role: str = "admin") -> str:
        if role not in self._tokens:
            self._tokens[role] = bench_token(self.url, role)
        return self._tokens[role]

    def gridmap(self, workers: int = 1) -> str:
        """Base URL of `gridmap serve --workers N` on the scratch copy (started once)."""
        key = ("gridmap", workers)
        if key not in self._servers:
            self._servers[key] = self._stack.enter_context(serve_gridmap(self.url, workers))
        return self._servers[key]

    def stop_servers(self) -> None:
        self._stack.close()
        self._stack = contextlib.ExitStack()
        self._servers.clear()

    def close(self) -> None:
        self.stop_servers()

"""`python -m bench --city`: the service at city size (issue 23), side by side with one district.

Two source databases, built once and reused (like `gridmap_bench_1m`):

- **one district** `gridmap_bench_city_one_<per>`: the home sub-district seeded with `per`
  incidents (`--incidents` / `--subdistricts`);
- **the city** `gridmap_bench_city_<n>x<per>`: a copy of it (CREATE DATABASE … TEMPLATE)
  with `geo.synth.city.lay_out_city` adding n - 1 sub-districts beside it, `per` incidents
  each. How long that took, per million incidents, is kept in its `dataset_info` (key
  `city`) and printed in the table.

Figures, each measured in one interleaved run against the one-district database:

- coverage (sector level) and the evaluation (every level), warm, **for one sub-district**
  (a transaction working for the home sub-district, `geo.core.tenancy.work_for`; once the
  tenancy work's row-level security is in, that transaction sees only its rows — the table
  says whether it was in force) — target < 200 ms — and **for the whole city** (unscoped,
  as the city role) — target < 1 s;
- a boundary edit in the home sub-district of the city vs the same edit in the one-district
  database (≤ 1.5×);
- the heat page (built uncached, as an admin: every incident) for the city vs one district;
- partitioning study: per-sub-district raw incident queries on `incidents` vs a copy of it
  LIST-partitioned by sub-district (a table of the scratch copy only; nothing migrates).

Writes `bench/results/city.json` and `.md` (`--quick`: `city_quick.*`, git-ignored).
"""

from __future__ import annotations

import argparse
import gc
import os
import shlex
import shutil
import time
from datetime import UTC, datetime

from sqlalchemy import create_engine, text

from bench.harness import (
    RESULTS,
    Figure,
    Target,
    _migrate_reused,
    ensure_database,
    in_place,
    interleaved,
    log,
    machine,
    maintain,
    scratch_copy,
    server_url,
    summary,
)
from geo.ops.database import CONNECT_ARGS  # what the service runs with (JIT off)

NAME = "city"
FULL = {"subdistricts": 50, "incidents": 10_000_000, "repeat": 10, "edit_points": 1000}
QUICK = {"subdistricts": 3, "incidents": 7_500, "repeat": 3, "edit_points": 100}
HOME = "620902003"
STEPS = ("reads", "heat", "partitions", "edit")


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench --city", description=__doc__.split("\n")[0])
    p.add_argument("--city", action="store_true", help="the city benchmark (this one)")
    p.add_argument("--quick", action="store_true", help="a tiny city (3 × 2,500 incidents)")
    p.add_argument("--subdistricts", type=int, help="sub-districts in the city (default 50)")
    p.add_argument("--incidents", type=int, help="incidents in the whole city (default 10M)")
    p.add_argument("--repeat", type=int, help="timed rounds of each figure (median quoted)")
    p.add_argument("--edit-points", type=int, help="incidents a boundary edit moves")
    p.add_argument("--out", help="output path without suffix")
    p.add_argument(
        "--steps",
        type=lambda v: [s for s in v.split(",") if s],
        default=list(STEPS),
        help=f"comma-separated subset of: {', '.join(STEPS)} (default all)",
    )
    p.add_argument("--server-url", help="a database URL on the server to build them on")
    p.add_argument(
        "--in-place",
        action="store_true",
        help="no scratch copy of the city database: reads on the source, every boundary edit "
        "in a transaction rolled back (chosen by itself when the free disk cannot hold a copy)",
    )
    args = p.parse_args(argv)
    unknown = sorted(set(args.steps) - set(STEPS))
    if unknown:
        p.error(f"--steps: no step {', '.join(unknown)}; choose from {', '.join(STEPS)}")
    for key, value in (QUICK if args.quick else FULL).items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    if args.out is None:
        args.out = str(RESULTS / ("city_quick" if args.quick else "city"))
    return args


# -- the databases ---------------------------------------------------------------------------

#: disk a city takes per million incidents (50 × 200,000: 26 GB after VACUUM ANALYZE,
#: measured 2026-12-03), with a margin for the dead rows and WAL of its generation
BYTES_PER_MILLION = 3.0e9


def free_disk(conn) -> int | None:
    """Bytes free on the disk of the cluster's data directory (None: not known here — a
    remote server, or a role that may not read the setting)."""
    try:
        directory = conn.execute(text("SELECT current_setting('data_directory')")).scalar_one()
        return shutil.disk_usage(directory).free
    except Exception:  # not a superuser (pg_read_all_settings), or not this machine's disk
        conn.rollback()
        return None


def ensure_city(server: str, n: int, incidents: int) -> tuple[str, str]:
    """URLs of the one-district and the city source databases (built when missing)."""
    from sqlalchemy.engine import make_url

    from geo.grid.facts import INCIDENTS_PER_SCALE
    from geo.synth.city import lay_out_city

    per = max(1, incidents // n)
    one = ensure_database(server, f"gridmap_bench_city_one_{per}", per / INCIDENTS_PER_SCALE)
    name = f"gridmap_bench_city_{n}x{per}"
    url = make_url(server).set(database=name).render_as_string(hide_password=False)
    admin = create_engine(make_url(server).set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        missing = conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name})
        if missing.first() is None:
            free, needed = free_disk(conn), incidents / 1e6 * BYTES_PER_MILLION
            if free is not None and free < needed:
                raise SystemExit(
                    f"bench --city: a city of {incidents:,} incidents needs about "
                    f"{needed / 1e9:.0f} GB of disk and the cluster's has {free / 1e9:.0f} GB "
                    "free; free some, or ask for a smaller city (--incidents)"
                )
            log(f"database {name} is missing: laying out {n} sub-districts once")
            source = make_url(one).database
            conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{source}" STRATEGY FILE_COPY'))
            engine = create_engine(url)
            started = time.perf_counter()
            lay_out_city(engine, n, progress=lambda step: log(f"city: {step}"))
            seconds = time.perf_counter() - started
            with engine.begin() as city:
                total = city.execute(text("SELECT count(*) FROM incidents")).scalar_one()
                city.execute(
                    text("INSERT INTO dataset_info (key, value) VALUES ('city', CAST(:v AS json))"),
                    {"v": f'{{"seconds": {seconds:.1f}, "incidents": {total}, "n": {n}}}'},
                )
            engine.dispose()
            maintain(url)
            log(f"laid out {name} in {seconds:.0f} s ({total:,} incidents)")
        else:  # a city laid out by an earlier schema: brought to the code's, as the harness does
            _migrate_reused(url, name)
    admin.dispose()
    return one, url


def _room_for_copy(url: str) -> bool:
    """Whether the free disk holds a scratch copy of the database at `url` twice over (the
    copy, then what the run writes: the partitioning study copies `incidents` twice); when it
    does not, the run goes in place (logged)."""
    engine = create_engine(url)
    with engine.connect() as conn:
        size = conn.execute(text("SELECT pg_database_size(current_database())")).scalar_one()
        free = free_disk(conn)
    engine.dispose()
    if free is None or free > 2 * size:
        return True
    log(f"the city takes {size / 1e9:.1f} GB, {free / 1e9:.1f} GB free: no scratch copy (in place)")
    return False


def _generation(url: str) -> dict:
    engine = create_engine(url)
    with engine.connect() as conn:
        info = conn.execute(text("SELECT value FROM dataset_info WHERE key = 'city'")).scalar()
        seed = conn.execute(text("SELECT value FROM dataset_info WHERE key = 'seed'")).scalar()
    engine.dispose()
    return {"city": info, "seed": seed}


# -- the figures -----------------------------------------------------------------------------


def _scoped(conn) -> bool:
    """Whether row-level security hides other sub-districts' incidents from this transaction."""
    return bool(conn.execute(text("SELECT row_security_active('incidents')")).scalar())


def _period(conn):
    from geo.cases.stats import BEIJING
    from geo.insight.coverage import period_days

    last = conn.execute(text("SELECT max(observed_at) FROM incidents")).scalar_one()
    return period_days(None, last.astimezone(BEIJING).date(), datetime.now(UTC))


def read_figures(one, city, repeat: int, size: str) -> list[Figure]:
    """Coverage and evaluation, warm: one sub-district and the whole city vs one district."""
    from geo.access.roles import Principal, Role
    from geo.core import tenancy
    from geo.core.tenancy import Scope, work_for
    from geo.insight.coverage import coverage
    from geo.insight.evaluation import LEVELS, evaluation

    admin = Principal(0, "bench", Role.ADMIN)
    now = datetime.now(UTC)
    gc.freeze()  # as the service does after start-up (api/main.py)
    with one.connect() as c1, city.connect() as cc, city.connect() as cs:
        since, until = _period(c1)
        c1.rollback()
        reads = {
            "coverage": lambda conn: coverage(conn, admin, "sector", since, until, now),
            "evaluation": lambda conn: {
                lv: evaluation(conn, admin, lv, since, until, now=now) for lv in LEVELS
            },
        }
        figures = []
        for what, read in reads.items():

            def scoped(read=read):  # as a user of the home sub-district (row-level security)
                with tenancy.scoped(Scope(HOME)), cs.begin():
                    work_for(cs, HOME)
                    return read(cs), _scoped(cs)

            def whole(read=read):  # as a city official: every sub-district
                with tenancy.scoped(Scope(HOME, city=True)), cc.begin():
                    return read(cc)

            runs = interleaved(
                {"one": lambda read=read: read(c1), "city": whole, "scoped": scoped},
                repeat=repeat,
                warmup=1,
                label=f"city {what}",
            )  # fmt: skip
            c1.rollback()
            cc.rollback()
            ms = {k: summary([s * 1000 for s in v]) for k, v in runs.seconds.items()}
            rls = runs.last("scoped")[1]
            note = "" if rls else "; row-level security not in force: it read the whole city"
            label = f"{what} ({'sector level' if what == 'coverage' else 'every level'}), warm"
            figures += [
                Figure(
                    NAME,
                    f"{label}, one sub-district of the city",
                    size,
                    "ms",
                    ms["scoped"]["median"],
                    ms["one"]["median"],
                    "one-district database",
                    Target("ours_max", 200.0, "< 200 ms"),
                    ours_note=f"p99 {ms['scoped']['p99']:.0f} ms{note}",
                    detail={"ms": ms, "row_level_security": rls},
                ),
                Figure(
                    NAME,
                    f"{label}, whole city",
                    size,
                    "ms",
                    ms["city"]["median"],
                    ms["one"]["median"],
                    "one-district database",
                    Target("ours_max", 1000.0, "< 1 s"),
                    ours_note=f"p99 {ms['city']['p99']:.0f} ms",
                    detail={"ms": ms},
                ),
            ]
            log(f"city {what}: " + ", ".join(f"{k} {v['median']:.0f} ms" for k, v in ms.items()))
    return figures


def edit_figure(one, city, points: int, repeat: int, size: str, in_place: bool = False) -> Figure:
    """The same sector edit, out and back, in the city and in the one-district database
    (`in_place`: out only, each in a transaction rolled back, the source left as it was)."""
    import shapely

    from bench.boundary_edit import _pick, _strip
    from geo.core.tenancy import work_for
    from geo.planning import edits
    from geo.planning.layer import load_state

    with one.connect() as conn:
        state = load_state(conn, None)
        a, b, width, inside = _pick(conn, state, points)
        conn.rollback()
    log(f"city boundary edit: {a} takes a {width:.0f} m strip of {b} ({inside:,} incidents)")
    forward = {"one": True, "city": True}

    def edit(engine, key: str) -> None:
        with engine.connect() as conn:  # working for the home sub-district: its layer only
            work_for(conn, HOME)
            current = load_state(conn, None)
            conn.rollback()
        geom = (
            shapely.union(current.sectors.at[a, "geometry"], _strip(current, a, b, width))
            if forward[key]
            else state.sectors.at[a, "geometry"]
        )
        forward[key] = in_place or not forward[key]
        tag = f'"{a}:v{int(current.latest.at[a, "version"])}"'
        with engine.connect() as conn:
            work_for(conn, HOME)
            edits.put_sector(conn, a, geom, "benchmark", "bench", [tag])
            conn.rollback() if in_place else conn.commit()

    repeat = max(2, repeat + repeat % 2)
    runs = interleaved(
        {"one": lambda: edit(one, "one"), "city": lambda: edit(city, "city")},
        repeat=repeat,
        label="city boundary edit",
    )
    s = {k: summary(v) for k, v in runs.seconds.items()}
    return Figure(
        NAME,
        "boundary edit in one sub-district of the city",
        f"{size}; ~{inside:,} incidents moved",
        "s",
        s["city"]["median"],
        s["one"]["median"],
        "the same edit, one-district database",
        Target("ratio_max", 1.5, "≤ 1.5×"),
        detail={"s": s, "sectors": [a, b], "strip_width_m": round(width, 1)},
    )


def heat_figure(one, city, repeat: int, size: str) -> Figure:
    """The heat page over the whole history, built uncached: the city vs one district."""
    from bench.heatmap_page import our_page

    with one.connect() as c1, city.connect() as cc:
        runs = interleaved(
            {"one": lambda: our_page(c1, None), "city": lambda: our_page(cc, None)},
            repeat=repeat,
            warmup=1,
            label="city heat page",
        )
        c1.rollback()
        cc.rollback()
    s = {k: summary(v) for k, v in runs.seconds.items()}
    sizes = {k: runs.last(k)["bytes"] for k in ("one", "city")}
    return Figure(
        NAME,
        "heat page (every incident, uncached build), whole city",
        size,
        "s",
        s["city"]["median"],
        s["one"]["median"],
        "one-district database",
        ours_note=f"{sizes['city'] / 1e3:.0f} kB vs {sizes['one'] / 1e3:.0f} kB",
        detail={"s": s, "bytes": sizes},
    )


# -- the run ---------------------------------------------------------------------------------


def main(argv: list[str]) -> int:
    from bench.__main__ import incomplete, markdown, write
    from bench.partitions import partition_figures

    args = parse_args(argv)
    started = time.perf_counter()
    server = server_url(args.server_url)
    one_source, city_source = ensure_city(server, args.subdistricts, args.incidents)
    generation = _generation(city_source)
    figures: list[Figure] = []
    failures: dict[str, str] = {}
    args.in_place = args.in_place or not _room_for_copy(city_source)  # (recorded in options)
    city_copy = in_place(city_source) if args.in_place else scratch_copy(city_source)
    with scratch_copy(one_source) as one_url, city_copy as city_url:
        one, city = (
            create_engine(one_url, connect_args=CONNECT_ARGS),
            create_engine(city_url, connect_args=CONNECT_ARGS),
        )
        info = machine(city)
        with city.connect() as conn:
            total = conn.execute(text("SELECT count(*) FROM incidents")).scalar_one()
        with one.connect() as conn:
            per = conn.execute(text("SELECT count(*) FROM incidents")).scalar_one()
        size = f"{args.subdistricts} sub-districts, {total:,} incidents ({per:,} each)"
        steps = {
            "reads": lambda: read_figures(one, city, args.repeat, size),
            "heat": lambda: [heat_figure(one, city, max(2, args.repeat // 3), size)],
            "partitions": lambda: partition_figures(city, HOME, args.repeat, size),
            "edit": lambda: [
                edit_figure(one, city, args.edit_points, args.repeat, size, args.in_place)
            ],
        }
        for step, run in ((s, steps[s]) for s in args.steps):
            t0 = time.perf_counter()
            try:
                figures += run()
            except Exception:  # record it, go on with the others
                import traceback

                failures[step] = traceback.format_exc()
                log(f"city {step} FAILED:\n{failures[step]}")
            log(f"city {step} took {time.perf_counter() - t0:.0f} s")
        one.dispose()
        city.dispose()
    result = {
        "command": "python -m bench " + " ".join(shlex.quote(a) for a in argv),
        "options": vars(args),
        "source": {"database": os.path.basename(city_source), "incidents": total},
        "generation": generation,
        "machine": {**info, "load_average_end": [round(v, 2) for v in os.getloadavg()]},
        "duration_s": round(time.perf_counter() - started, 1),
        "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "figures": [f.as_dict() for f in figures],
        "failures": failures,
    }
    from pathlib import Path

    write(result, Path(args.out))
    table = markdown(result) + _generation_line(generation)
    Path(args.out).with_suffix(".md").write_text(table)
    print(table)
    problems = incomplete(result["figures"], failures)
    for p in problems:
        log(f"incomplete: {p}")
    return 1 if problems else 0


def _generation_line(generation: dict) -> str:
    city = generation.get("city") or {}
    if not city.get("incidents"):
        return ""
    added = city["incidents"] * (1 - 1 / city["n"])
    rate = city["seconds"] / (added / 1e6) if added else 0
    return (
        f"Generating the city: {city['n'] - 1} copies of the home sub-district "
        f"({added:,.0f} incidents) in {city['seconds']:.0f} s, {rate:.0f} s per million "
        "incidents (the home sub-district's own seed not counted).\n"
    )

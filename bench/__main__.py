"""`python -m bench`: run the benchmarks, write the results table (JSON and Markdown).

    .venv/bin/python -m bench                      # everything at full size (make bench)
    .venv/bin/python -m bench --quick              # every benchmark at small sizes (~1 min)
    .venv/bin/python -m bench --only ogc_items,coverage --ogc-limits 100
    .venv/bin/python -m bench --combine bench/results/latest part1.json part2.json
    .venv/bin/python -m bench --resume             # go on where a stopped run left off
    .venv/bin/python -m bench --only replica --database gridmap_bench_city_50x200000 --in-place
    .venv/bin/python -m bench --city [--quick] [--subdistricts 50] [--incidents N]  # bench/city.py

Full runs write `bench/results/latest.json` and `latest.md` (committed) after EVERY
benchmark; `--resume` keeps the figures of the benchmarks that file already holds (same
source database, not failed) and runs only the others, so a stopped run never needs
piecing together. Each benchmark is bounded (rounds, requests and seconds are options).

`--quick` runs write `bench/results/quick.*` (git-ignored). See bench/harness.py for where they run.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import shlex
import sys
import time
import traceback
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import create_engine
from sqlalchemy.engine import make_url

from bench.harness import (
    RESULTS,
    ROOT,
    Context,
    Figure,
    ensure_database,
    in_place,
    log,
    machine,
    scratch_copy,
    server_url,
)
from geo.ops.database import CONNECT_ARGS  # what the service runs with (JIT off)

#: in the order they run: the ones that write come last, the import (the most) at the end
BENCHMARKS = (
    "coverage",
    "evaluation",
    "heatmap_page",
    "ogc_items",
    "boundary_edit",
    "case_lists",
    "replica",
    "api_load",
    "import_attach",
)

FULL = {
    "database": "gridmap_bench_1m",
    "scale": 40.0,
    "out": str(RESULTS / "latest"),
    "repeat": 3,
    "import_size": 1_000_000,
    "heatmap_sizes": [10_000, 100_000, 1_000_000],
    "edit_points": 5000,
    "ogc_limits": [100, 1000],
    # bounded: tipg answers ~1 page/s at 1M rows, so 16 requests x (3 + 1 warm-up) rounds
    # x 2 limits is about 3 min of tipg (40 x 7 rounds had to be stopped, 2026-11-24)
    "ogc_requests": 16,
    "ogc_rounds": 3,
    "ogc_concurrency": 4,
    "load_seconds": 20.0,
    "load_concurrency": 8,
    "load_max_requests": 20_000,
}
QUICK = {
    **FULL,
    "database": "gridmap_bench_quick",
    "scale": 1.0,
    "out": str(RESULTS / "quick"),
    "repeat": 2,
    "import_size": 5000,
    "heatmap_sizes": [2000, 10_000],
    "edit_points": 300,
    "ogc_requests": 10,
    "ogc_rounds": 2,
    "load_seconds": 2.5,
    "load_concurrency": 4,
    "load_max_requests": 2000,
}


def _ints(value: str) -> list[int]:
    return [int(float(v)) for v in value.replace(" ", "").split(",") if v]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m bench",
        description="Measure each headline figure against its baseline, side by side.",
    )
    p.add_argument("--quick", action="store_true", help="every benchmark at small sizes")
    p.add_argument("--only", help=f"comma-separated subset of: {', '.join(BENCHMARKS)}")
    p.add_argument("--database", help="source database on the server (created if missing)")
    p.add_argument("--database-url", help="source database URL (created/seeded if missing)")
    p.add_argument("--scale", type=float, help="seed scale when the source is created")
    p.add_argument("--out", help="output path without suffix (.json and .md are written)")
    p.add_argument("--repeat", type=int, help="rounds of each timed build (median quoted)")
    p.add_argument("--import-size", type=int, help="incidents in the imported CSV")
    p.add_argument("--heatmap-sizes", type=_ints, help="incident counts, e.g. 10000,100000")
    p.add_argument("--edit-points", type=int, help="incidents a boundary edit moves")
    p.add_argument("--ogc-limits", type=_ints, help="page sizes, e.g. 100,1000")
    p.add_argument("--ogc-requests", type=int, help="requests per round per server and limit")
    p.add_argument("--ogc-rounds", type=int, help="timed rounds per server and limit")
    p.add_argument("--ogc-concurrency", type=int, help="requests in flight (OGC)")
    p.add_argument("--load-seconds", type=float, help="duration of each load scenario")
    p.add_argument("--load-concurrency", type=int, help="requests in flight (load)")
    p.add_argument("--load-max-requests", type=int, help="most requests per load scenario")
    p.add_argument(
        "--in-place",
        action="store_true",
        help="no scratch copy: run on the source itself (a source larger than the free disk, "
        "e.g. the city's); what a benchmark commits stays in it (the replica's intake reports)",
    )
    p.add_argument(
        "--resume",
        action="store_true",
        help="keep the benchmarks the output file already holds; run only the others",
    )
    args = p.parse_args(argv)
    defaults = QUICK if args.quick else FULL
    for key, value in defaults.items():
        if getattr(args, key, None) is None:
            setattr(args, key, value)
    args.only = args.only.split(",") if args.only else list(BENCHMARKS)
    unknown = sorted(set(args.only) - set(BENCHMARKS))
    if unknown:
        p.error(f"unknown benchmark(s) {', '.join(unknown)}; one of: {', '.join(BENCHMARKS)}")
    return args


# -- the table -------------------------------------------------------------------------------


def fmt(value: float | None, unit: str) -> str:
    if value is None:
        return "—"
    if unit == "bytes":
        if value >= 1e6:
            return f"{value / 1e6:.2f} MB"
        return f"{value / 1e3:.1f} kB"
    if unit == "s":
        return f"{value:.3f} s" if value < 10 else f"{value:.1f} s"
    if unit == "ms":
        return f"{value:.1f} ms"
    if unit == "req/s":
        return f"{value:.1f} req/s"
    return f"{value:g} {unit}"


def fmt_ratio(ratio: float | None) -> str:
    if ratio is None:
        return "—"
    if ratio < 1:
        return f"{ratio:.3g} (1/{1 / ratio:.3g})"
    return f"{ratio:.3g}×"


def markdown(result: dict) -> str:
    m = result["machine"]
    lines = [
        f"Command: `{result['command']}` · {m['started_at']} · {result['duration_s'] / 60:.0f}"
        f" min · source database `{result['source']['database']}` "
        f"({result['source']['incidents']:,} incidents)",
        "",
        "| figure | size | ours | baseline | ratio | target | met? |",
        "|---|---|---|---|---|---|---|",
    ]
    for f in result["figures"]:
        ours = fmt(f["ours"], f["unit"])
        if f["ours_note"]:
            ours += f" ({f['ours_note']})"
        base = fmt(f["baseline"], f["unit"])
        if f["baseline"] is not None and f["baseline_name"]:
            base += f" ({f['baseline_name']})"
        elif f.get("not_measured"):
            base = f"not measured: {f['not_measured']}"
        met = {True: "yes", False: "**NOT MET**", None: "—"}[f["met"]]
        cells = [f["figure"], f["size"], ours, base, fmt_ratio(f["ratio"]), f["target"] or "—"]
        lines.append("| " + " | ".join(cells + [met]) + " |")
    for name, error in result["failures"].items():
        lines.append(f"| {name} | — | failed: {error.strip().splitlines()[-1]} | — | — | — | — |")
    lines += [
        "",
        f"Machine: {m['cpu']}, {m['cores']} cores, {m['ram_gb']} GB RAM; load average "
        f"{' / '.join(map(str, m['load_average_start']))} at start, "
        f"{' / '.join(map(str, m['load_average_end']))} at end (1 / 5 / 15 min); "
        f"PostgreSQL {m['postgresql']}, PostGIS {m['postgis']} (GEOS {m['geos']}); "
        f"Python {m['python']}; git {m['git_commit']} ({m['git_branch']}).",
        "",
    ]
    return "\n".join(lines)


def write(result: dict, out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(
        json.dumps(result, indent=2, ensure_ascii=False, default=str) + "\n"
    )
    out.with_suffix(".md").write_text(markdown(result))


def incomplete(figures: list[dict], failures: dict) -> list[str]:
    """Why the run did not produce every figure (empty when it did)."""
    problems = [f"{name} failed" for name in failures]
    for f in figures:
        if f["ours"] is None:
            problems.append(f"{f['benchmark']}: {f['figure']} has no figure of ours")
        if f["baseline_name"] and f["baseline"] is None and not f.get("not_measured"):
            problems.append(f"{f['benchmark']}: {f['figure']} has no baseline figure")
    return problems


def combine(parts: list[Path], out: Path) -> dict:
    """One table from runs of different benchmarks (`--only`) on the same source database,
    e.g. when a run was stopped part-way: figures and failures in order, every command said,
    the first run's machine with the last one's closing load average."""
    runs = [json.loads(p.read_text()) for p in parts]
    sources = {r["source"]["database"] for r in runs}
    if len(sources) != 1:
        raise SystemExit(f"the runs used different source databases: {sorted(sources)}")
    first, last = runs[0], runs[-1]
    result = {
        **first,
        "command": " ; ".join(r["command"] for r in runs),
        "combined_from": [{"command": r["command"], "finished_at": r["finished_at"]} for r in runs],
        "machine": {**first["machine"], "load_average_end": last["machine"]["load_average_end"]},
        "duration_s": round(sum(r["duration_s"] for r in runs), 1),
        "finished_at": last["finished_at"],
        "figures": [f for r in runs for f in r["figures"]],
        "failures": {k: v for r in runs for k, v in r["failures"].items()},
    }
    write(result, out)
    return result


def resumable(out: Path, database: str) -> tuple[list[dict], str, float, dict]:
    """What a previous run with the same output left: the figures of the benchmarks it
    finished without failing, its command and its seconds, when it ran on the same source
    database (else nothing)."""
    path = out.with_suffix(".json")
    if not path.exists():
        return [], "", 0.0, {}
    previous = json.loads(path.read_text())
    if previous.get("source", {}).get("database") != database:
        log(f"--resume: {path} is of another source database; starting afresh")
        return [], "", 0.0, {}
    failed = set(previous.get("failures", {}))
    kept = [f for f in previous["figures"] if f["benchmark"] not in failed]
    done = {f["benchmark"] for f in kept}
    timings = {k: v for k, v in previous.get("timings_s", {}).items() if k in done}
    return kept, previous["command"], float(previous.get("duration_s", 0.0)), timings


def in_order(figures: list[dict]) -> list[dict]:
    """Figures in the order the benchmarks run (a resumed run adds to earlier ones)."""
    rank = {name: k for k, name in enumerate(BENCHMARKS)}
    return sorted(figures, key=lambda f: rank.get(f["benchmark"], len(rank)))


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--combine"]:  # python -m bench --combine OUT A.json B.json ...
        out, *parts = (Path(a) for a in argv[1:])
        print(markdown(combine(parts, out)))
        return 0
    if "--city" in argv:  # the city at size: its own databases and table (bench/city.py)
        from bench.city import main as city

        return city(argv)
    args = parse_args(argv)
    from geo.core.settings import get_settings

    started = time.perf_counter()
    if args.database_url:
        server = server_url(args.database_url)
        name = make_url(args.database_url).database
    else:
        server, name = server_url(), args.database
    source = ensure_database(server, name, args.scale)
    command = "python -m bench " + " ".join(shlex.quote(a) for a in (argv or sys.argv[1:]))
    out = Path(args.out)
    if not out.is_absolute():
        out = ROOT / out
    figures: list[Figure] = []
    failures: dict[str, str] = {}
    kept, earlier_s, timings = [], 0.0, {}
    if args.resume:
        kept, earlier, earlier_s, timings = resumable(out, name)
        command = f"{earlier} ; {command}" if kept else command
        done = {f["benchmark"] for f in kept}
        args.only = [b for b in args.only if b not in done]
        log(
            f"--resume: keeping {', '.join(sorted(done)) or 'nothing'}; to run: "
            f"{', '.join(args.only) or 'nothing'}"
        )
    with in_place(source) if args.in_place else scratch_copy(source) as url:
        engine = create_engine(url, connect_args=CONNECT_ARGS)
        info = machine(engine)
        from sqlalchemy import text

        with engine.connect() as conn:
            incidents = conn.execute(text("SELECT count(*) FROM incidents")).scalar_one()
        engine.dispose()
        ctx = Context(args, url, source, Path(get_settings().home).resolve(), args.quick)
        result: dict = {}

        def snapshot() -> dict:
            return {
                "command": command.strip(),
                "options": {k: v for k, v in vars(args).items()},
                "source": {"database": name, "incidents": incidents},
                "machine": {**info, "load_average_end": [round(v, 2) for v in os.getloadavg()]},
                "duration_s": round(earlier_s + time.perf_counter() - started, 1),
                "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
                "timings_s": timings,
                "figures": in_order(kept + [f.as_dict() for f in figures]),
                "failures": failures,
            }

        try:
            for k, bench in enumerate(args.only, 1):
                elapsed = (time.perf_counter() - started) / 60
                log(f"— {bench} ({k}/{len(args.only)}, {elapsed:.0f} min in) —")
                module = importlib.import_module(f"bench.{bench}")
                t0 = time.perf_counter()
                try:
                    figures.extend(module.run(ctx))
                except Exception:  # record it, go on with the others
                    failures[bench] = traceback.format_exc()
                    log(f"{bench} FAILED:\n{failures[bench]}")
                timings[bench] = round(time.perf_counter() - t0, 1)
                log(f"{bench} took {timings[bench]:.0f} s")
                result = snapshot()
                write(result, out)
        finally:
            ctx.close()
    result = snapshot()
    write(result, out)
    print(markdown(result))
    log(f"wrote {out.with_suffix('.json')} and {out.with_suffix('.md')}")
    problems = incomplete(result["figures"], failures)
    for p in problems:
        log(f"incomplete: {p}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())

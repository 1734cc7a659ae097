"""The benchmarks cannot rot: `python -m bench --quick` (what `make bench-quick` runs) runs
every benchmark at small sizes against a private copy of the seeded database and must
produce every figure, ours and its baseline. Whether targets are met is for `make bench`
at full size, never for a test: speed is not asserted here."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bench.__main__ import BENCHMARKS, combine, incomplete, markdown
from bench.harness import Figure, Target, interleaved, percentile

ROOT = Path(__file__).resolve().parent.parent


def test_every_benchmark_produces_its_figures_at_small_sizes(fresh_url, tmp_path):
    out = tmp_path / "quick"
    done = subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "--database-url", fresh_url, "--out", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=1200,
    )
    assert done.returncode == 0, done.stderr[-6000:]
    result = json.loads(out.with_suffix(".json").read_text())
    assert result["failures"] == {}
    assert {f["benchmark"] for f in result["figures"]} == set(BENCHMARKS)
    for f in result["figures"]:
        assert f["ours"] is not None and f["ours"] > 0, f
        if f["baseline_name"] and not f["not_measured"]:  # tipg uninstallable: said why
            assert f["baseline"] is not None and f["baseline"] > 0, f
            assert f["ratio"] == pytest.approx(f["ours"] / f["baseline"])
        if f["errors"] is not None:
            assert f["errors"] == 0, f
    machine = result["machine"]
    for key in ("cpu", "cores", "ram_gb", "postgresql", "postgis", "git_commit"):
        assert machine[key], key
    assert len(machine["load_average_start"]) == len(machine["load_average_end"]) == 3
    table = out.with_suffix(".md").read_text()
    assert table.count("\n| ") == len(result["figures"]) + 1  # the header and one per figure
    assert f"PostgreSQL {machine['postgresql']}" in table


def test_rounds_alternate_which_contestant_goes_first():
    calls = []
    runs = interleaved({"a": lambda: calls.append("a"), "b": lambda: calls.append("b")}, 3, 1)
    assert calls == ["a", "b", "b", "a", "a", "b", "b", "a"]
    assert len(runs.seconds["a"]) == len(runs.seconds["b"]) == 3  # the warm-up is not counted


def test_a_contestant_that_times_itself_reports_its_own_seconds():
    runs = interleaved({"a": lambda: {"seconds": 0.25}}, repeat=2)
    assert runs.seconds["a"] == [0.25, 0.25]


def test_percentiles_interpolate_between_samples():
    samples = list(range(1, 102))  # 1..101
    assert percentile(samples, 50) == 51
    assert percentile(samples, 99) == 100
    assert percentile([10.0, 20.0], 50) == 15.0


def test_a_target_not_met_is_said_so_in_the_table():
    met = Figure(
        "x", "fast thing", "1 row", "s", 1.0, 4.0, "slow", Target("ratio_max", 0.5, "≤ 0.5")
    )
    missed = Figure(
        "x", "slow thing", "1 row", "s", 3.0, 4.0, "slow", Target("ratio_max", 0.5, "≤ 0.5")
    )
    failing = Figure("y", "load", "n", "req/s", 50.0, target=Target("no_errors", 0, "0 errors"))
    failing.errors = 2
    assert (met.met, missed.met, failing.met) == (True, False, False)
    result = _result([met, missed, failing])
    rows = [line for line in markdown(result).splitlines() if line.startswith("| ")][1:]
    assert ["NOT MET" in row for row in rows] == [False, True, True]


def test_a_baseline_that_could_not_be_measured_says_why_and_is_not_faked():
    figure = Figure(
        "ogc_items",
        "OGC items throughput",
        "10 incidents",
        "req/s",
        12.0,
        None,
        "tipg",
        Target("ratio_min", 1.0, "≥ 1.0× tipg"),
        not_measured="tipg could not be run here: pip install failed",
    )
    row = figure.as_dict()
    assert row["baseline"] is None and row["ratio"] is None and row["met"] is None
    assert incomplete([row], {}) == []
    assert incomplete([{**row, "not_measured": ""}], {})  # no reason: the run is incomplete
    result = _result([row])
    assert "not measured: tipg could not be run here: pip install failed" in markdown(result)


def test_runs_of_different_benchmarks_combine_into_one_table(tmp_path):
    a = Figure("a", "first", "1 row", "s", 1.0, 2.0, "slow", Target("ratio_max", 1.0, "≤ 1"))
    b = Figure("b", "second", "1 row", "s", 3.0, 2.0, "slow", Target("ratio_max", 1.0, "≤ 1"))
    parts = []
    for name, figure in (("one", a), ("two", b)):
        result = {**_result([figure]), "command": f"python -m bench --only {figure.benchmark}"}
        result["finished_at"] = name
        (tmp_path / f"{name}.json").write_text(json.dumps(result))
        parts.append(tmp_path / f"{name}.json")
    combined = combine(parts, tmp_path / "latest")
    assert [f["figure"] for f in combined["figures"]] == ["first", "second"]
    assert combined["command"] == "python -m bench --only a ; python -m bench --only b"
    assert combined["duration_s"] == 120
    table = (tmp_path / "latest.md").read_text()
    assert "| first |" in table and "| second |" in table and "NOT MET" in table


def _result(figures: list) -> dict:
    """A run's result as `bench.__main__` writes it, on a made-up machine."""
    machine = {
        "cpu": "cpu",
        "cores": 2,
        "ram_gb": 4,
        "load_average_start": [1, 1, 1],
        "load_average_end": [2, 2, 2],
        "postgresql": "15",
        "postgis": "3",
        "geos": "3",
        "python": "3.11",
        "git_commit": "abc",
        "git_branch": "b",
        "started_at": "now",
    }
    return {
        "command": "python -m bench",
        "machine": machine,
        "duration_s": 60,
        "source": {"database": "db", "incidents": 10},
        "figures": [f if isinstance(f, dict) else f.as_dict() for f in figures],
        "failures": {},
    }


def test_a_resumed_run_keeps_what_the_stopped_run_finished_and_reruns_the_rest(tmp_path):
    from bench.__main__ import in_order, parse_args, resumable

    done = Figure("boundary_edit", "edit", "n", "s", 1.0, 20.0, "full")
    failed = Figure("ogc_items", "items", "n", "req/s", 5.0, 1.0, "tipg")
    first = Figure("coverage", "coverage", "n", "ms", 90.0, 900.0, "raw")
    result = _result([done, failed, first])
    result["failures"] = {"ogc_items": "Traceback ...\nTimeoutError"}
    result["timings_s"] = {"boundary_edit": 200.0, "ogc_items": 30.0, "coverage": 100.0}
    out = tmp_path / "latest"
    out.with_suffix(".json").write_text(json.dumps(result))

    kept, command, seconds, timings = resumable(out, "db")
    assert [f["benchmark"] for f in in_order(kept)] == ["coverage", "boundary_edit"]
    assert (command, seconds) == ("python -m bench", 60.0)
    assert timings == {"boundary_edit": 200.0, "coverage": 100.0}  # not the failed one's
    # another source database: nothing is kept
    assert resumable(out, "other") == ([], "", 0.0, {})
    assert resumable(tmp_path / "missing", "db") == ([], "", 0.0, {})
    assert parse_args(["--resume"]).resume and not parse_args([]).resume


def test_the_city_benchmark_produces_its_figures_for_a_tiny_city(fresh_url, tmp_path):
    """`python -m bench --city --quick`: a city of 3 sub-districts beside a one-district
    database (both built on the test server, dropped again when this test made them)."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    names = ("gridmap_bench_city_one_2500", "gridmap_bench_city_3x2500")
    admin = create_engine(
        make_url(fresh_url).set(database="postgres"), isolation_level="AUTOCOMMIT"
    )
    with admin.connect() as conn:
        had = set(
            conn.execute(text("SELECT datname FROM pg_database WHERE datname IN :n"), {"n": names})
            .scalars()
            .all()
        )
    out = tmp_path / "city"
    try:
        done = subprocess.run(
            [sys.executable, "-m", "bench", "--city", "--quick", "--server-url", fresh_url,
             "--out", str(out)],
            cwd=ROOT, capture_output=True, text=True, timeout=1500,
        )  # fmt: skip
        # --in-place: no scratch copy of the city; its edits and copies rolled back
        in_place = subprocess.run(
            [sys.executable, "-m", "bench", "--city", "--quick", "--server-url", fresh_url,
             "--out", str(tmp_path / "in_place"), "--in-place", "--steps", "partitions,edit"],
            cwd=ROOT, capture_output=True, text=True, timeout=1500,
        )  # fmt: skip
        city = create_engine(make_url(fresh_url).set(database=names[1]))
        with city.connect() as conn:
            edited = conn.execute(text("SELECT count(*) FROM units WHERE version > 1")).scalar()
            bench_tables = "SELECT count(*) FROM pg_tables WHERE tablename LIKE 'bench%'"
            left = conn.execute(text(bench_tables)).scalar()
        city.dispose()
    finally:
        with admin.connect() as conn:
            for name in set(names) - had:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
    assert done.returncode == 0, done.stderr[-6000:]
    result = json.loads(out.with_suffix(".json").read_text())
    assert result["failures"] == {}
    names = [f["figure"] for f in result["figures"]]
    assert any("one sub-district of the city" in n for n in names)
    assert any("whole city" in n for n in names)
    assert any(n.startswith("boundary edit") for n in names)
    assert sum(n.startswith("partitioned by sub-district") for n in names) == 3
    for f in result["figures"]:
        assert f["ours"] > 0 and f["baseline"] > 0, f
    assert "Generating the city" in out.with_suffix(".md").read_text()
    assert in_place.returncode == 0, in_place.stderr[-6000:]
    figures = json.loads((tmp_path / "in_place.json").read_text())["figures"]
    assert any(f["figure"].startswith("boundary edit") for f in figures)
    assert (edited, left) == (0, 0)  # the source city as it was

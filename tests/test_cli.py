"""The `gridmap` command line: exit status and one-line reasons, as the contract says."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

GRIDMAP = str(Path(sys.executable).parent / "gridmap")


def run(*args: str, url: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "GRIDMAP_DATABASE_URL": url}
    return subprocess.run([GRIDMAP, *args], capture_output=True, text=True, env=env, timeout=300)


def test_seed_on_a_loaded_district_exits_1_with_one_line_saying_what_to_do(fresh_url):
    done = run("seed", url=fresh_url)
    assert done.returncode == 1
    assert done.stderr.strip().count("\n") == 0
    assert "already loaded" in done.stderr and "--replace" in done.stderr


def test_seed_if_empty_leaves_a_loaded_district_alone(fresh_url):
    done = run("seed", "--if-empty", url=fresh_url)
    assert done.returncode == 0 and "left as it is" in done.stdout


def test_migrate_is_idempotent_and_db_url_prints_the_database(fresh_url):
    assert run("migrate", url=fresh_url).returncode == 0
    done = run("db", "url", url=fresh_url)
    assert done.returncode == 0
    assert done.stdout.strip().startswith("postgresql://")
    assert done.stdout.strip().endswith(fresh_url.rsplit("/", 1)[1])


def test_unreachable_database_is_one_line_on_stderr():
    done = run("migrate", url="postgresql://gridmap:pw@127.0.0.1:1/gridmap")
    assert done.returncode == 1
    assert done.stderr.startswith("gridmap: cannot reach the database at")
    assert "pw@" not in done.stderr

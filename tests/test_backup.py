"""`gridmap db backup PATH` / `gridmap db restore PATH`: a round trip through pg_dump's
custom format onto a throwaway database gives the same rows, and the photos come back."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from sqlalchemy import create_engine, text

GRIDMAP = str(Path(sys.executable).parent / "gridmap")


def gridmap(*args: str, url: str, home: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "GRIDMAP_DATABASE_URL": url, "GRIDMAP_HOME": str(home)}
    return subprocess.run([GRIDMAP, *args], env=env, capture_output=True, text=True, timeout=600)


def counts(url: str) -> dict[str, int]:
    from geo.ops.backup import table_counts

    engine = create_engine(url)
    try:
        return table_counts(engine)
    finally:
        engine.dispose()


def test_backup_and_restore_round_trip_gives_the_same_counts_and_photos(
    fresh_url, databases, tmp_path
):
    home_before, home_after = tmp_path / "home-a", tmp_path / "home-b"
    (home_before / "photos" / "I0000000001").mkdir(parents=True)
    photo = home_before / "photos" / "I0000000001" / "p1.jpg"
    photo.write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    target = tmp_path / "backup-2026-12-01"

    made = gridmap("db", "backup", str(target), url=fresh_url, home=home_before)
    assert made.returncode == 0, made.stderr
    assert {p.name for p in target.iterdir()} == {"database.dump", "photos.tar", "manifest.json"}
    assert (target / "database.dump").read_bytes()[:5] == b"PGDMP"  # pg_dump custom format
    manifest = json.loads((target / "manifest.json").read_text())
    before = counts(fresh_url)
    assert manifest["counts"] == before and before["incidents"] > 1000

    again = gridmap("db", "backup", str(target), url=fresh_url, home=home_before)
    assert again.returncode == 1 and "not empty" in again.stderr

    throwaway = databases.url(databases.create())
    restored = gridmap("db", "restore", str(target), url=throwaway, home=home_after)
    assert restored.returncode == 0, restored.stderr
    assert "row counts match" in restored.stdout
    assert counts(throwaway) == before
    engine = create_engine(throwaway)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT postgis_lib_version()")).scalar()
        sectors = conn.execute(
            text("SELECT count(*) FROM units WHERE level = 'sector' AND valid_to IS NULL")
        ).scalar_one()
    engine.dispose()
    assert sectors == 22
    assert (home_after / "photos" / "I0000000001" / "p1.jpg").read_bytes() == photo.read_bytes()

    # a database with data in it is not overwritten unless asked
    refused = gridmap("db", "restore", str(target), url=throwaway, home=home_after)
    assert refused.returncode == 1 and "--replace" in refused.stderr
    replaced = gridmap("db", "restore", str(target), "--replace", url=throwaway, home=home_after)
    assert replaced.returncode == 0, replaced.stderr
    assert counts(throwaway) == before

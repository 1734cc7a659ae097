"""Backups: `gridmap db backup PATH` and `gridmap db restore PATH`.

A backup is a directory: `database.dump` (pg_dump custom format, by PostgreSQL 15's own
pg_dump), `photos.tar` when `$GRIDMAP_HOME/photos` exists (the incident photos), and
`manifest.json` (when, which revision, row counts) so a restore can be checked.

    >>> backup(engine, Path("/var/backups/gridmap/2026-12-01"))   # doctest: +SKIP
    >>> restore(engine, Path("/var/backups/gridmap/2026-12-01"))  # doctest: +SKIP
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tarfile
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import Engine

from geo.core.errors import InvalidInput, SetupError
from geo.core.settings import get_settings
from geo.ops.localdb import ensure_server_installed

DUMP, PHOTOS, MANIFEST = "database.dump", "photos.tar", "manifest.json"


def _tool(name: str) -> str:
    """pg_dump / pg_restore of PostgreSQL 15 (the server's major version)."""
    path = ensure_server_installed() / name
    if not path.exists():
        raise SetupError(f"{path} is missing; install postgresql-client-15")
    return str(path)


def _libpq(engine: Engine) -> tuple[list[str], dict[str, str]]:
    """Connection options for the PostgreSQL tools; the password goes in the environment."""
    url = engine.url
    args = ["--host", url.host or "127.0.0.1", "--port", str(url.port or 5432)]
    args += ["--username", url.username or "postgres", "--dbname", url.database or "postgres"]
    env = {**os.environ, "PGPASSWORD": url.password or "", "PGCONNECT_TIMEOUT": "10"}
    return args, env


def _run(cmd: list[str], env: dict[str, str], what: str) -> None:
    done = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        lines = [line for line in done.stderr.strip().splitlines() if line.strip()]
        raise SetupError(f"{what} failed: {lines[-1] if lines else done.returncode}")


def table_counts(engine: Engine) -> dict[str, int]:
    """Rows of every table of the public schema (the manifest's check figures)."""
    with engine.connect() as conn:
        tables = conn.execute(
            text(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
                "AND tablename <> 'spatial_ref_sys' ORDER BY tablename"
            )
        ).scalars()
        return {
            t: conn.execute(text(f'SELECT count(*) FROM "{t}"')).scalar_one() for t in list(tables)
        }


def photos_dir() -> Path:
    return Path(get_settings().home) / "photos"


def backup(engine: Engine, target: Path) -> dict:
    """Dump the database (and the photo store, if any) into the new directory `target`;
    returns the manifest."""
    if target.exists() and any(target.iterdir()):
        raise InvalidInput(f"{target} exists and is not empty; give a new directory")
    target.mkdir(parents=True, exist_ok=True)
    args, env = _libpq(engine)
    _run(
        [_tool("pg_dump"), *args, "--format=custom", "--no-owner", "--file", str(target / DUMP)],
        env,
        "pg_dump",
    )
    photos = photos_dir()
    if photos.is_dir():
        with tarfile.open(target / PHOTOS, "w") as tar:
            tar.add(photos, arcname="photos")
    with engine.connect() as conn:
        revision = conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
    manifest = {
        "made_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "revision": revision,
        "photos": photos.is_dir(),
        "counts": table_counts(engine),
    }
    (target / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest


def restore(engine: Engine, source: Path, replace: bool = False) -> dict:
    """Load a backup made by `backup` into the database (empty, or `replace`d: its tables
    are dropped first) and put the photos back; returns the manifest, checked."""
    dump = source / DUMP
    if not dump.is_file():
        raise InvalidInput(f"{source} holds no {DUMP}; is it a `gridmap db backup` directory?")
    manifest = json.loads((source / MANIFEST).read_text()) if (source / MANIFEST).exists() else {}
    existing = table_counts(engine)
    if existing and not replace:
        raise InvalidInput(
            f"the database already holds {len(existing)} tables; restore into an empty "
            "database, or pass --replace to drop them first"
        )
    args, env = _libpq(engine)
    clean = ["--clean", "--if-exists"] if replace else []
    _run(
        [_tool("pg_restore"), *args, *clean, "--no-owner", "--exit-on-error", str(dump)],
        env,
        "pg_restore",
    )
    if (source / PHOTOS).exists():
        photos = photos_dir()
        if photos.exists() and replace:
            shutil.rmtree(photos)
        photos.parent.mkdir(parents=True, exist_ok=True)
        with tarfile.open(source / PHOTOS) as tar:
            tar.extractall(photos.parent, filter="data")
    counts = table_counts(engine)
    expected = manifest.get("counts")
    if expected and counts != expected:
        differ = sorted(t for t in expected if counts.get(t) != expected[t])
        raise SetupError(f"restored, but the row counts differ in: {', '.join(differ)}")
    return {**manifest, "counts": counts}

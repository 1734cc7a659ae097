"""Migrations: the models are what the migrations build (Alembic's autogenerate finds
nothing to do), every downgrade undoes its upgrade, and `gridmap migrate --to REV` moves
the schema either way. Generic over the whole chain, whatever revisions it holds."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from geoalchemy2 import alembic_helpers
from sqlalchemy import create_engine, text

from geo.core.models import Base
from geo.ops.localdb import find_bindir
from geo.ops.migrate import current_revision, migrate_to, revisions, upgrade

GRIDMAP = str(Path(sys.executable).parent / "gridmap")


def schema(url: str) -> str:
    """The database's schema as pg_dump prints it, comments and spacing normalised (so a
    function rebuilt with other line breaks compares equal, a changed body does not)."""
    from sqlalchemy.engine import make_url

    u = make_url(url)
    done = subprocess.run(
        [str(find_bindir() / "pg_dump"), "--schema-only", "--no-owner", "--host", u.host,
         "--port", str(u.port), "--username", u.username, "--dbname", u.database],
        env={**os.environ, "PGPASSWORD": u.password or ""},
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    lines = [re.sub(r"--.*$", "", line) for line in done.stdout.splitlines()]
    skip = ("SET ", "SELECT pg_catalog.", "\\restrict", "\\unrestrict")  # random keys
    kept = [line for line in lines if not line.startswith(skip)]
    return re.sub(r"\s+", " ", " ".join(kept)).strip()


def test_models_and_migrations_agree(empty_engine):
    upgrade(empty_engine)
    with empty_engine.connect() as conn:
        context = MigrationContext.configure(
            conn,
            opts={"include_object": alembic_helpers.include_object, "compare_type": True},
        )
        differences = compare_metadata(context, Base.metadata)
    assert differences == [], "models and migrations differ; add a migration or fix models"


def test_every_downgrade_undoes_its_upgrade(empty_engine):
    url = empty_engine.url.render_as_string(hide_password=False)
    chain = revisions()
    assert chain[0] == "0001" and len(chain) >= 5
    upgrade(empty_engine)  # PostGIS and the whole chain once, so each step below is real
    migrate_to(empty_engine, "base")
    after = {}
    for revision in chain:
        migrate_to(empty_engine, revision)
        after[revision] = schema(url)
    for previous, revision in reversed(list(zip(chain, chain[1:], strict=False))):
        assert current_revision(empty_engine) == revision
        migrate_to(empty_engine, previous)
        now = schema(url)
        if now != after[previous]:
            first = len(os.path.commonprefix([now, after[previous]]))
            raise AssertionError(
                f"downgrade of {revision} left a difference: …{now[first - 200 : first + 300]}…"
            )
    migrate_to(empty_engine, "base")
    with empty_engine.connect() as conn:
        tables = conn.execute(
            text(
                "SELECT count(*) FROM pg_tables WHERE schemaname = 'public' "
                "AND tablename NOT IN ('spatial_ref_sys', 'alembic_version')"
            )
        ).scalar_one()
    assert tables == 0
    upgrade(empty_engine)
    assert schema(url) == after[chain[-1]]


def test_gridmap_migrate_to_moves_the_schema_both_ways(empty_engine):
    url = empty_engine.url.render_as_string(hide_password=False)
    env = {**os.environ, "GRIDMAP_DATABASE_URL": url}
    chain = revisions()

    def migrate(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [GRIDMAP, "migrate", *args], env=env, capture_output=True, text=True, timeout=300
        )

    assert migrate().returncode == 0
    down = migrate("--to", chain[-2])
    assert down.returncode == 0, down.stderr
    assert chain[-2] in down.stdout
    assert current_revision(create_engine(url)) == chain[-2]
    up = migrate("--to", "head")
    assert up.returncode == 0 and chain[-1] in up.stdout
    unknown = migrate("--to", "9999")
    assert unknown.returncode == 1
    assert unknown.stderr.startswith("gridmap: no migration '9999'")


def test_the_tenancy_migration_gives_existing_rows_the_sub_district_their_codes_name(fresh_url):
    """A database that already held two sub-districts' rows (e.g. `gridmap seed
    --subdistricts`) before 0017t: each incident, and its append-only history, takes the
    sub-district its sector code names."""
    engine = create_engine(fresh_url)
    try:
        migrate_to(engine, "0017h")
        with engine.begin() as conn:
            moved = (
                conn.execute(
                    text(
                        "UPDATE incidents SET sector_code = '620902004' || substr(sector_code, 10) "
                        "WHERE id IN (SELECT incident_id FROM incident_events ORDER BY id LIMIT 3) "
                        "RETURNING id"
                    )
                )
                .scalars()
                .all()
            )
        assert moved
        migrate_to(engine, "head")
        with engine.connect() as conn:
            incidents = (
                conn.execute(
                    text("SELECT DISTINCT subdistrict FROM incidents WHERE id = ANY(:ids)"),
                    {"ids": moved},
                )
                .scalars()
                .all()
            )
            events = (
                conn.execute(
                    text(
                        "SELECT DISTINCT subdistrict FROM incident_events "
                        "WHERE incident_id = ANY(:ids)"
                    ),
                    {"ids": moved},
                )
                .scalars()
                .all()
            )
            others = conn.execute(
                text("SELECT count(DISTINCT subdistrict) FROM incident_events")
            ).scalar()
        assert incidents == ["620902004"] and events == ["620902004"]
        assert others == 2
    finally:
        engine.dispose()

"""Schema migrations (Alembic, scripts in `geo/migrations`) and the reference rows they need."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.engine import Engine

from geo.cases.categories import CATEGORIES
from geo.core.errors import InvalidInput
from geo.ops.database import require_postgis


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(Path(__file__).parents[1] / "migrations"))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(engine: Engine) -> str:
    """Bring the schema to head and add missing reference rows; returns the head revision."""
    require_postgis(engine)
    url = engine.url.render_as_string(hide_password=False)
    command.upgrade(alembic_config(url), "head")
    add_missing_categories(engine)
    return current_revision(engine) or "base"


def current_revision(engine: Engine) -> str | None:
    """The revision the database's schema is at (None: not migrated, or at base)."""
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def revisions() -> list[str]:
    """Every revision id, oldest first (the chain as Alembic walks it)."""
    script = ScriptDirectory.from_config(alembic_config("postgresql://"))
    return [r.revision for r in reversed(list(script.walk_revisions("base", "heads")))]


def migrate_to(engine: Engine, target: str) -> str:
    """Upgrade or downgrade the schema to `target` (a revision id, `head` or `base`);
    returns the revision reached. Downgrades drop what later revisions added."""
    require_postgis(engine)
    url = engine.url.render_as_string(hide_password=False)
    config = alembic_config(url)
    known = revisions()
    if target not in ("head", "heads", "base") and target not in known:
        raise InvalidInput(
            f"no migration {target!r}; revisions: {', '.join(known)} (or head, base)"
        )
    if target in ("head", "heads"):
        return upgrade(engine)
    current = current_revision(engine)
    here = known.index(current) if current in known else -1
    there = -1 if target == "base" else known.index(target)
    if there < here:
        command.downgrade(config, target)
    elif there > here:
        command.upgrade(config, target)
    return current_revision(engine) or "base"


def add_missing_categories(engine: Engine) -> None:
    """Insert the default categories not yet in the table; never overwrite configured limits."""
    rows = [{**c.__dict__, "sort": i} for i, c in enumerate(CATEGORIES)]
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO incident_categories (code, name_zh, name_en, urgent, sensitive, "
                "dispatch_minutes, close_minutes, close_working_days, sort) VALUES (:code, "
                ":name_zh, :name_en, :urgent, :sensitive, :dispatch_minutes, :close_minutes, "
                ":close_working_days, :sort) ON CONFLICT (code) DO NOTHING"
            ),
            rows,
        )

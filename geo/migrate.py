"""Schema migrations (Alembic, scripts in `geo/migrations`) and the reference rows they need."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import text
from sqlalchemy.engine import Engine

from geo.categories import CATEGORIES
from geo.database import require_postgis


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(engine: Engine) -> str:
    """Bring the schema to head and add missing reference rows; returns the head revision."""
    require_postgis(engine)
    url = engine.url.render_as_string(hide_password=False)
    command.upgrade(alembic_config(url), "head")
    add_missing_categories(engine)
    with engine.connect() as conn:
        return conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one()


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

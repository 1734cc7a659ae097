"""Service health: is the database reachable, which PostGIS, which schema and data version."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError

from geo.core.dataversion import data_version
from geo.core.errors import DatabaseUnreachable
from geo.ops.database import masked


def health(engine: Engine, reads=None) -> dict:
    """What `/api/health` reports; raises DatabaseUnreachable (URL masked) when it is not.
    With `reads` (a `geo.ops.readpath.ReadRouter`), also the read replica: `replica`."""
    try:
        with engine.connect() as conn:
            postgis = conn.execute(
                text("SELECT extversion FROM pg_extension WHERE extname = 'postgis'")
            ).scalar()
            migrated = conn.execute(text("SELECT to_regclass('alembic_version')")).scalar()
            schema = version = None
            units = 0
            if migrated:
                schema = conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
                version = data_version(conn)
                units = conn.execute(text("SELECT count(*) FROM units")).scalar()
    except DBAPIError as exc:
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
        url = masked(engine.url.render_as_string(hide_password=False))
        raise DatabaseUnreachable(f"cannot reach the database at {url}: {reason}") from exc
    answer = {
        "status": "ok" if postgis and schema and units else "degraded",
        "database": "reachable",
        "postgis": postgis,
        "schema_revision": schema,
        "district_loaded": bool(units),
        "data_version": version.version if version else None,
        "data_changed_at": version.changed_at.isoformat()
        if version and version.changed_at
        else None,
    }
    if reads is not None and reads.configured:
        answer["replica"] = reads.health()
    return answer

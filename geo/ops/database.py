"""Connections: which PostGIS to use, engines, sessions, and clear errors when it is absent."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from geo.core import tenancy
from geo.core.errors import DatabaseUnreachable, SetupError
from geo.core.settings import Settings, get_settings
from geo.ops.localdb import LocalCluster


def database_url(settings: Settings | None = None) -> str:
    """`GRIDMAP_DATABASE_URL` when set, else the local cluster's URL."""
    s = settings or get_settings()
    if s.database_url:
        url = make_url(s.database_url)
        if url.drivername in ("postgresql", "postgres"):
            url = url.set(drivername="postgresql+psycopg2")
        return url.render_as_string(hide_password=False)
    return LocalCluster.from_settings(s).url()


def masked(url: str) -> str:
    """The URL with its password replaced by ***, for messages and logs."""
    return make_url(url).render_as_string(hide_password=True)


#: every connection: JIT compilation costs more than it saves on this service's queries
CONNECT_ARGS = {"options": "-c jit=off"}


def connect_options(settings: Settings | None = None) -> str:
    """The connection options: CONNECT_ARGS, and unscoped work (CLI, seed, background
    threads) writing for the home sub-district (`geo.core.tenancy`)."""
    s = settings or get_settings()
    return f"{CONNECT_ARGS['options']} -c {tenancy.GUC}={s.street_prefix}"


def engine_for(url: str | None = None, **kwargs) -> Engine:
    """An engine on `url` (default: `database_url()`) with the service's connection options;
    it connects lazily."""
    return create_engine(
        url or database_url(),
        pool_pre_ping=True,
        connect_args={"options": connect_options()},
        **kwargs,
    )


def service_engine(
    settings: Settings | None = None,
    url: str | None = None,
    connect_timeout_s: int | None = None,
    **kwargs,
) -> Engine:
    """The HTTP service's engine: connect and statement timeouts from the settings, so a
    database that is down or frozen gives an error (503) instead of a request that hangs.
    Every engine of the service comes from here (the primary's, the read replica's: see
    `read_engine`), so whatever is hooked on it here applies to all of them."""
    s = settings or get_settings()
    timeout = connect_timeout_s or s.db_connect_timeout_s
    options = connect_options(s)
    if s.db_statement_timeout_s:
        options += f" -c statement_timeout={s.db_statement_timeout_s * 1000}"
    return create_engine(
        url or database_url(s),
        pool_pre_ping=True,
        pool_timeout=timeout,
        connect_args={"options": options, "connect_timeout": timeout},
        **kwargs,
    )


def read_database_url(settings: Settings | None = None) -> str | None:
    """`GRIDMAP_READ_DATABASE_URL` (a read replica) with the service's driver, or None."""
    s = settings or get_settings()
    if not s.read_database_url:
        return None
    url = make_url(s.read_database_url)
    if url.drivername in ("postgresql", "postgres"):
        url = url.set(drivername="postgresql+psycopg2")
    return url.render_as_string(hide_password=False)


def read_engine(settings: Settings | None = None, **kwargs) -> Engine | None:
    """The service's engine on the read replica (a short connect timeout, so a dead replica
    costs little before reads fall back to the primary), or None when none is configured."""
    s = settings or get_settings()
    url = read_database_url(s)
    if url is None:
        return None
    return service_engine(s, url=url, connect_timeout_s=s.replica_connect_timeout_s, **kwargs)


def make_engine(url: str | None = None, **kwargs) -> Engine:
    """An engine on `url` (default: `database_url()`), checked to be reachable and PostGIS."""
    url = url or database_url()
    engine = engine_for(url, **kwargs)
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except OperationalError as exc:
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
        engine.dispose()
        raise DatabaseUnreachable(
            f"cannot reach the database at {masked(url)}: {reason}. "
            "Start the local one with `gridmap db up`, or check GRIDMAP_DATABASE_URL."
        ) from exc
    return engine


def require_postgis(engine: Engine) -> str:
    """The PostGIS version, creating the extension if the role may; a clear error if not."""
    with engine.begin() as conn:
        have = conn.execute(text("SELECT extversion FROM pg_extension WHERE extname='postgis'"))
        version = have.scalar()
        if version:
            return version
        available = conn.execute(
            text("SELECT 1 FROM pg_available_extensions WHERE name='postgis'")
        ).scalar()
    if not available:
        raise SetupError(
            f"the PostGIS extension is not installed on the server at {masked(str(engine.url))}: "
            "install postgresql-15-postgis-3 (or your server's PostGIS package) there"
        )
    try:
        with engine.begin() as conn:
            conn.execute(text("CREATE EXTENSION IF NOT EXISTS postgis"))
            return conn.execute(
                text("SELECT extversion FROM pg_extension WHERE extname='postgis'")
            ).scalar()
    except Exception as exc:  # insufficient privilege, typically
        raise SetupError(
            f"PostGIS is available but not enabled in {masked(str(engine.url))} and this role "
            f"cannot enable it ({exc.__class__.__name__}); ask the DBA to run "
            "CREATE EXTENSION postgis"
        ) from exc


@contextmanager
def transaction(engine: Engine) -> Iterator[Session]:
    """A session in one transaction: committed on success, rolled back on any error."""
    with Session(engine, expire_on_commit=False) as session, session.begin():
        yield session

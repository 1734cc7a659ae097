"""The `gridmap` command line: thin Typer wrappers over `geo` functions.

Exit status 0 on success; otherwise non-zero with a one-line reason on stderr.
"""

from __future__ import annotations

import sys
from functools import wraps
from pathlib import Path

import typer
from rich.console import Console

from geo.core.errors import GridmapError

app = typer.Typer(
    help="gridmap: grid management for 西北街街道 (Xibeijie sub-district).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
db_app = typer.Typer(help="The project-managed local PostGIS.", no_args_is_help=True)
app.add_typer(db_app, name="db")
token_app = typer.Typer(help="API tokens: create, list, revoke.", no_args_is_help=True)
app.add_typer(token_app, name="token")
deploy_app = typer.Typer(help="Running behind nginx: configuration.", no_args_is_help=True)
app.add_typer(deploy_app, name="deploy")

user_app = typer.Typer(
    help="People's accounts: create, list, disable, reset-password.", no_args_is_help=True
)
app.add_typer(user_app, name="user")

district_app = typer.Typer(help="Sub-districts (街道) in this database.", no_args_is_help=True)
app.add_typer(district_app, name="district")

out = Console()
err = Console(stderr=True)


def reports_errors(fn):
    """Turn a GridmapError into one line on stderr and exit status 1."""

    @wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except GridmapError as exc:
            print(f"gridmap: {exc.detail}", file=sys.stderr)
            raise typer.Exit(1) from None

    return wrapper


def _engine():
    from geo.ops.database import make_engine

    return make_engine()


@db_app.command("up")
@reports_errors
def db_up(
    replica: bool = typer.Option(
        False, "--replica", help="Also start a streaming-replication hot standby (read replica)."
    ),
) -> None:
    """Install PostgreSQL/PostGIS if missing, initialise once, and start the local cluster."""
    from geo.core.settings import get_settings
    from geo.ops.localdb import LocalCluster

    if get_settings().database_url:
        if replica:
            from geo.ops.replica import EXTERNAL

            raise GridmapError(EXTERNAL)
        out.print("GRIDMAP_DATABASE_URL is set: using that PostGIS; no local cluster started")
        return
    out.print(f"local database {LocalCluster.from_settings().up()}")
    if replica:
        _replica_up()


def _replica_up() -> None:
    from geo.ops.replica import LocalReplica

    standby = LocalReplica.from_settings()
    out.print(f"read replica {standby.up()}")
    out.print(
        "send the service's reads to it: export GRIDMAP_READ_DATABASE_URL="
        '"$(gridmap db url --replica)"'
    )


@db_app.command("down")
@reports_errors
def db_down() -> None:
    """Stop the local cluster and its read replica, if any (their data stay)."""
    from geo.ops.localdb import LocalCluster
    from geo.ops.replica import LocalReplica

    standby = LocalReplica.from_settings()
    if standby.is_made():
        out.print(f"read replica {standby.down()}")
    out.print(f"local database {LocalCluster.from_settings().down()}")


@db_app.command("status")
@reports_errors
def db_status() -> None:
    """Running or stopped, where its files are, and which port."""
    from geo.ops.localdb import LocalCluster
    from geo.ops.replica import LocalReplica

    for key, value in LocalCluster.from_settings().status().items():
        out.print(f"{key:9} {value}")
    standby = LocalReplica.from_settings()
    if standby.is_made():
        for key, value in standby.status().items():
            out.print(f"{key:16} {value}")


@db_app.command("url")
@reports_errors
def db_url(
    replica: bool = typer.Option(False, "--replica", help="The local read replica's URL."),
) -> None:
    """Print the connection URL (libpq form, for psql) of the database in use."""
    from sqlalchemy.engine import make_url

    from geo.ops.database import database_url

    if replica:
        from geo.core.settings import get_settings
        from geo.ops.replica import EXTERNAL, LocalReplica

        if get_settings().database_url:
            raise GridmapError(EXTERNAL)
        url = LocalReplica.from_settings().url()
    else:
        url = database_url()
    print(make_url(url).set(drivername="postgresql").render_as_string(False))


@db_app.command("backup")
@reports_errors
def db_backup(
    path: Path = typer.Argument(..., help="A new directory to write the backup into."),
) -> None:
    """Back up the database (pg_dump custom format) and the photo store into PATH."""
    from geo.ops.backup import backup

    with err.status("backing up"):
        manifest = backup(_engine(), path)
    rows = sum(manifest["counts"].values())
    photos = " and the photos" if manifest["photos"] else ""
    out.print(f"backed up {rows:,} rows in {len(manifest['counts'])} tables{photos} to {path}")


@db_app.command("restore")
@reports_errors
def db_restore(
    path: Path = typer.Argument(..., help="A directory written by `gridmap db backup`."),
    replace: bool = typer.Option(
        False, "--replace", help="Drop the database's tables first (else it must be empty)."
    ),
) -> None:
    """Restore a backup into the database in use (empty, or --replace) and its photos."""
    from geo.ops.backup import restore

    with err.status("restoring"):
        manifest = restore(_engine(), path, replace=replace)
    rows = sum(manifest["counts"].values())
    out.print(
        f"restored {rows:,} rows in {len(manifest['counts'])} tables from {path} "
        f"(schema revision {manifest.get('revision')}); row counts match the backup"
    )


@app.command()
@reports_errors
def migrate(
    to: str = typer.Option(
        None, "--to", help="A revision to upgrade or downgrade to (e.g. 0008, base); default head."
    ),
) -> None:
    """Upgrade the schema to the newest Alembic revision (or move it to `--to REV`)."""
    from geo.ops.migrate import migrate_to, upgrade

    engine = _engine()
    reached = upgrade(engine) if to is None else migrate_to(engine, to)
    out.print(f"schema at revision {reached}")


@app.command()
@reports_errors
def seed(
    scale: float = typer.Option(1.0, help="Multiply the incident history (load tests)."),
    replace: bool = typer.Option(False, help="Empty the data tables and load again."),
    if_empty: bool = typer.Option(False, help="Load only when the database holds no district."),
    subdistricts: int = typer.Option(
        1, help="A synthetic city: this many sub-districts side by side (copies of the home one)."
    ),
) -> None:
    """Load the district: boundaries, then the synthetic population and incident history."""
    from rich.progress import Progress

    from geo.ops import seed as seeding

    engine = _engine()
    if if_empty:
        with engine.connect() as conn:
            if seeding.existing_counts(conn)["units"]:
                out.print("the district is already loaded; left as it is")
                return
    with Progress(console=err, transient=True) as bar:
        task = bar.add_task("seeding", total=len(seeding.STEPS))

        def step(name: str) -> None:
            done = seeding.STEPS.index(name) if name in seeding.STEPS else len(seeding.STEPS)
            bar.update(task, description=name, completed=done)

        report = seeding.seed(
            engine, scale=scale, replace=replace, progress=step, subdistricts=subdistricts
        )
    verb = "replaced the district with" if report.replaced else "loaded"
    counts = ", ".join(f"{v:,} {k}" for k, v in report.counts.items())
    out.print(f"{verb}: {counts} (history to {report.end:%Y-%m-%d %H:%M} UTC)")


@district_app.command("add")
@reports_errors
def district_add(
    code: str = typer.Option(..., help="Nine digits: GB/T 2260 district + street, e.g. 620902004."),
    name: str = typer.Option(..., help="Chinese name, e.g. 新城街道."),
    name_en: str = typer.Option(None, "--name-en", help="English name."),
    boundaries: Path = typer.Option(
        ..., help="GeoJSON, GeoPackage or zipped Shapefile: the outline (code CODE) and units."
    ),
) -> None:
    """Add a sub-district: its outline and optional communities, grids and sectors."""
    from geo.access import audit
    from geo.planning.subdistricts import add_subdistrict

    with _engine().begin() as conn:
        result = add_subdistrict(conn, code, name, name_en, boundaries, _cli_actor())
        audit.record(conn, _cli_actor(), "district_add", target=code, detail=result)
    units = ", ".join(f"{n} {level}" for level, n in result["units"].items())
    out.print(f"sub-district {code} {name} added: {units}")


@app.command()
@reports_errors
def serve(
    host: str = typer.Option(None, help="Bind address (default GRIDMAP_HOST, 127.0.0.1)."),
    port: int = typer.Option(None, help="HTTP port (default GRIDMAP_PORT, 8000)."),
    workers: int = typer.Option(1, help="Worker processes."),
) -> None:
    """Serve the HTTP API and map pages."""
    import uvicorn

    from geo.core.errors import SetupError
    from geo.core.settings import get_settings
    from geo.ops.database import make_engine
    from geo.ops.localdb import port_in_use

    settings = get_settings()
    host, port = host or settings.host, port or settings.port
    if port_in_use(port, host if host != "0.0.0.0" else "127.0.0.1"):
        raise SetupError(
            f"port {port} on {host} is in use by another program; set GRIDMAP_PORT or pass --port"
        )
    from geo.core.logs import uvicorn_log_config

    engine = make_engine()  # fail now, with the URL, if the database is not there
    _first_sign_in_hint(engine)
    engine.dispose()
    out.print(f"serving 西北街街道 gridmap at http://{host}:{port}{settings.root_path}")
    uvicorn.run(
        "api.main:app",
        host=host,
        port=port,
        workers=workers,
        log_config=uvicorn_log_config(settings.log_level),
        log_level=settings.log_level.lower(),
        access_log=False,  # one JSON line per request comes from api.middleware instead
        proxy_headers=True,  # scheme and client address from nginx (trusted: 127.0.0.1)
    )


@deploy_app.command("nginx")
@reports_errors
def deploy_nginx(
    server_name: str = typer.Option("_", help="The site's host name(s)."),
    root_path: str = typer.Option(None, help="Sub-path (default GRIDMAP_ROOT_PATH)."),
    upstream: str = typer.Option(None, help="host:port of `gridmap serve` (default GRIDMAP_PORT)."),
    tls: bool = typer.Option(True, help="HTTPS on 443 (and a redirect from 80)."),
    certificate: str = typer.Option("/etc/ssl/gridmap/fullchain.pem", help="TLS certificate."),
    certificate_key: str = typer.Option("/etc/ssl/gridmap/privkey.pem", help="Its key."),
) -> None:
    """Print an nginx site for the current settings (body limit, sub-path, port)."""
    from geo.ops.deploy import nginx_site

    print(
        nginx_site(
            server_name=server_name,
            upstream=upstream,
            root_path=root_path,
            listen="443 ssl" if tls else "80",
            certificate=certificate,
            certificate_key=certificate_key,
        ),
        end="",
    )


FIRST_ADMIN = (
    ".venv/bin/gridmap user create admin --role admin --display-name 管理员"
    "   # prints a one-time password"
)


def _first_sign_in_hint(engine) -> None:
    """A newcomer's first question: how do I sign in? Answered while nobody can."""
    from sqlalchemy import inspect

    from geo.access import accounts

    if not inspect(engine).has_table("users"):
        return
    with engine.connect() as conn:
        if accounts.enabled_admins(conn) == 0:
            err.print(
                "no admin can sign in yet: create the first one, then sign in at /login "
                f"with it and choose a password:\n  {FIRST_ADMIN}"
            )


def _cli_actor() -> str:
    import getpass

    return f"cli:{getpass.getuser()}"


@token_app.command("create")
@reports_errors
def token_create(
    role: str = typer.Option(
        ..., help="admin, planner, patrol, grid_worker, official, supervisor or city."
    ),
    name: str = typer.Option(..., help="Who or what uses the token."),
    grid: list[str] = typer.Option(None, help="A grid worker's unit code (repeatable)."),
    worker: str = typer.Option(None, help="Or the id of the grid worker resource they are."),
    subdistrict: str = typer.Option(
        None, help="The sub-district (nine digits) it belongs to; default: the home one."
    ),
) -> None:
    """Print a new API token, and only the token, on stdout (it is not shown again)."""
    from geo.access import audit, tenants
    from geo.access import roles as access

    with _engine().begin() as conn:
        if subdistrict:
            tenants.use(conn, subdistrict)
        token = access.create_token(conn, role, name, grid or [], worker)
        audit.record(conn, _cli_actor(), "token_create", target=name, detail={"role": role})
    print(token)


@token_app.command("list")
@reports_errors
def token_list() -> None:
    """Every token: id, name, role, scope, last use, whether revoked."""
    from rich.table import Table

    from geo.access import roles as access

    with _engine().connect() as conn:
        tokens = access.list_tokens(conn)
    table = Table("id", "name", "role", "grids", "created", "last used", "revoked")
    for t in tokens:
        table.add_row(
            str(t.id),
            t.name,
            t.role,
            ",".join(t.scope_codes),
            f"{t.created_at:%Y-%m-%d %H:%M}",
            f"{t.last_used_at:%Y-%m-%d %H:%M}" if t.last_used_at else "",
            f"{t.revoked_at:%Y-%m-%d %H:%M}" if t.revoked_at else "",
        )
    out.print(table)


@token_app.command("revoke")
@reports_errors
def token_revoke(
    token_id: int = typer.Argument(..., help="The id from `gridmap token list`."),
) -> None:
    """Revoke a token at once."""
    from geo.access import audit
    from geo.access import roles as access

    with _engine().begin() as conn:
        access.revoke_token(conn, token_id)
        audit.record(conn, _cli_actor(), "token_revoke", target=str(token_id))
    out.print(f"token {token_id} revoked")


@user_app.command("create")
@reports_errors
def user_create(
    login: str = typer.Argument(..., help="The login name, e.g. a mobile number."),
    role: list[str] = typer.Option(..., help="A role (repeatable): one of `Role`."),
    display_name: str = typer.Option(..., help="The name shown on pages."),
    worker: str = typer.Option(None, help="A grid worker's resource id (their grids)."),
    grid: list[str] = typer.Option(None, help="Or a unit code they serve (repeatable)."),
    subdistrict: str = typer.Option(
        None, help="The sub-district (nine digits) it belongs to; default: the home one."
    ),
) -> None:
    """Print the new user's one-time password, and only it, on stdout (shown once; the
    first sign-in must replace it). A `city` user reads every sub-district."""
    from geo.access import accounts, audit, tenants

    with _engine().begin() as conn:
        if subdistrict:
            tenants.use(conn, subdistrict)
        _, password = accounts.create_user(conn, login, role, display_name, worker, grid or [])
        audit.record(conn, _cli_actor(), "user_create", target=login, detail={"roles": role})
    print(password)


@user_app.command("list")
@reports_errors
def user_list() -> None:
    """Every user: id, login, name, roles, worker, state."""
    from rich.table import Table

    from geo.access import accounts

    with _engine().connect() as conn:
        users = accounts.list_users(conn)
    table = Table("id", "login", "name", "roles", "worker", "grids", "state")
    for u in users:
        state = (
            "disabled"
            if u.disabled
            else ("one-time password" if u.must_change_password else "active")
        )
        table.add_row(
            str(u.id),
            u.login,
            u.display_name,
            ",".join(u.roles),
            u.worker_id or "",
            ",".join(u.scope_codes),
            state,
        )
    out.print(table)


@user_app.command("disable")
@reports_errors
def user_disable(login: str = typer.Argument(..., help="The login name.")) -> None:
    """Disable a user: their sessions and tokens stop working at once."""
    from geo.access import accounts, audit

    with _engine().begin() as conn:
        accounts.disable_user(conn, login)
        audit.record(conn, _cli_actor(), "user_disable", target=login)
    out.print(f"user {login} disabled")


@user_app.command("reset-password")
@reports_errors
def user_reset_password(login: str = typer.Argument(..., help="The login name.")) -> None:
    """Print a new one-time password, and only it, on stdout; the user's sessions end."""
    from geo.access import accounts, audit

    with _engine().begin() as conn:
        password = accounts.reset_password(conn, login)
        audit.record(conn, _cli_actor(), "user_reset_password", target=login)
    print(password)


KIND_HELP = (
    "households, residents, businesses, resources, incidents, boundaries, streets or landmarks"
)
SHOWN_ROWS = 20


def _print_problems(report) -> None:
    """The first rejected rows as a table on stdout (the whole list goes to --report)."""
    from rich.table import Table

    if not len(report.problems):
        return
    table = Table(report.row_label, "column", "value", "reason", title="rejected rows")
    for r in report.problems.head(SHOWN_ROWS).itertuples():
        table.add_row(str(r.row), str(r.column), str(r.value), str(r.reason))
    out.print(table)
    if len(report.problems) > SHOWN_ROWS:
        out.print(f"… and {len(report.problems) - SHOWN_ROWS:,} more (see --report PATH)")


def import_boundaries_command(
    file: Path, level: str | None, reason: str | None, dry_run: bool, report: Path | None
) -> None:
    """`gridmap import boundaries FILE --level ...`: validate, replace the layer in one
    transaction, re-attach the changed area; prints what moved. (The point imports add
    their kinds to the same `import` command.)"""
    import json

    from geo.core.errors import InvalidInput
    from geo.core.spreadsheet import write_csv
    from geo.planning.importer import IMPORT_LEVELS, import_boundaries

    if level is None:
        raise InvalidInput(f"gridmap import boundaries needs --level ({'|'.join(IMPORT_LEVELS)})")
    try:
        with _engine().begin() as conn, err.status(f"importing {file.name}"):
            result = import_boundaries(conn, file, level, _cli_actor(), reason, None, dry_run)
    except InvalidInput as exc:
        if report is not None and exc.extra.get("problems"):
            with report.open("w", newline="", encoding="utf-8") as f:
                write_csv(
                    f,
                    [["rule", "feature", "units", "area_m2", "detail", "where"]]
                    + [
                        [
                            p["rule"],
                            p.get("feature") or "",
                            " ".join(p["units"]),
                            p.get("area_m2") or "",
                            p["detail"],
                            json.dumps(p["where"]) if p["where"] else "",
                        ]
                        for p in exc.extra["problems"]
                    ],
                )
            exc.detail += f" (all problems in {report})"
        raise
    if report is not None:
        with report.open("w", newline="", encoding="utf-8") as f:
            write_csv(
                f,
                [["kind", "from", "to", "count"]]
                + [
                    [kind, flow["from"], flow["to"], flow.get("count", 1)]
                    for kind, moves in result["moves"].items()
                    for flow in moves["flows"]
                ],
            )
    verb = "would change" if dry_run else "changed"
    units = ", ".join(
        f"{u['code']} {u['action']}" for u in result["units"] if u["level"] == "sector"
    )
    out.print(f"{file.name}: {len(result['units'])} units {verb} ({units or 'no sector'})")
    if result.get("courtyards"):
        out.print(f"courtyards {verb}: {len(result['courtyards'])}")
    for kind, moves in result["moves"].items():
        examined = f"{moves['examined']:,} examined, " if "examined" in moves else ""
        out.print(f"  {kind:11} {examined}{moves['moved']:,} moved")
    out.print(f"  open incidents re-dispatched: {result['redispatched']:,}")
    if dry_run:
        out.print("dry run: nothing was written")


def import_orientation_command(kind: str, file: Path, layer: str | None) -> None:
    """`gridmap import streets|landmarks FILE`: replace the orientation layer in one
    transaction (an OpenStreetMap extract as GeoPackage, say); prints what was loaded."""
    from geo.access import audit
    from geo.grid.streets import import_orientation

    with _engine().begin() as conn, err.status(f"importing {file.name}"):
        result = import_orientation(conn, kind, file, layer)
        audit.record(conn, _cli_actor(), f"import {kind}", target=str(file), detail=result)
    out.print(
        f"{file.name}: {result['loaded']:,} {kind} loaded ({result['outside']:,} outside the "
        f"district left out, {result['unnamed']:,} unnamed left out, from "
        f"{result['merged_from']:,} features)"
    )


@app.command("import")
@reports_errors
def import_(
    kind: str = typer.Argument(..., help=KIND_HELP),
    file: Path = typer.Argument(..., help="CSV, XLSX, GeoJSON, GeoPackage or zipped Shapefile."),
    crs: str = typer.Option(
        None, help="Coordinates: wgs84 (default), cgcs2000, gcj02 (Gaode/Tencent), bd09 (Baidu)."
    ),
    skip_invalid: bool = typer.Option(
        False, "--skip-invalid", help="Load the valid rows and report the rest."
    ),
    report: Path = typer.Option(None, "--report", help="Write every rejected row here (CSV)."),
    columns: list[str] = typer.Option(
        None,
        "--columns",
        "-c",
        help="Column mapping HEADER=field (repeatable or comma-separated); HEADER=- ignores it.",
    ),
    sheet: str = typer.Option(
        None, "--sheet", "--layer", help="The XLSX sheet, GeoPackage layer or zipped Shapefile."
    ),
    level: str = typer.Option(
        None, help="boundaries: the layer to replace (sector, grid2, community, courtyard)."
    ),
    reason: str = typer.Option(None, help="boundaries: why the layer changes (its history)."),
    dry_run: bool = typer.Option(
        False, "--dry-run", help="boundaries: validate and report what would move; write nothing."
    ),
) -> None:
    """Import a file of KIND in one transaction: all rows or, with bad rows, none.
    `gridmap import boundaries FILE --level sector` replaces a boundary layer."""
    if kind == "boundaries":
        import_boundaries_command(file, level, reason, dry_run, report)
        return
    if kind in ("streets", "landmarks"):
        import_orientation_command(kind, file, sheet)
        return
    from rich.progress import Progress

    from geo import imports
    from geo.access import audit

    steps = imports.steps_of(kind)
    options = imports.ImportOptions.chosen(_cli_actor(), crs, skip_invalid, columns, sheet, level)
    data = imports.read_file(file)
    engine = _engine()
    try:
        with Progress(console=err, transient=True) as bar, engine.begin() as conn:
            task = bar.add_task(steps[0], total=len(steps))

            def step(name: str) -> None:
                bar.update(task, description=name, completed=steps.index(name))

            result = imports.import_file(conn, kind, data, file.name, options, progress=step)
            audit.record(
                conn, _cli_actor(), f"import {kind}", target=str(file), detail=result.as_dict(0)
            )
    except imports.ImportRejected as exc:
        _print_problems(exc.report)
        if report:
            exc.report.to_csv(report)
        raise
    if report:
        result.to_csv(report)
    out.print(result.summary())
    out.print(f"read as {result.read_as}; coordinates: {result.coordinates or 'none'}")
    for note in result.notes:
        out.print(f"note: {note}")
    _print_problems(result)


def main() -> None:  # pragma: no cover - console entry point
    app()


category_app = typer.Typer(
    help="Incident categories: the city-wide defaults every sub-district follows.",
    no_args_is_help=True,
)
app.add_typer(category_app, name="category")


@category_app.command("default")
@reports_errors
def category_default(
    code: str = typer.Argument(..., help="The category's code, e.g. sanitation."),
    dispatch_minutes: int = typer.Option(None, "--dispatch-minutes"),
    close_minutes: int = typer.Option(None, "--close-minutes", help="A limit on the clock."),
    close_working_days: int = typer.Option(None, "--close-working-days"),
    name_zh: str = typer.Option(None, "--name-zh"),
    name_en: str = typer.Option(None, "--name-en"),
) -> None:
    """Change a category's city-wide default (sub-districts' own overrides stay)."""
    from geo.cases.categories import configure_category

    given = {
        "dispatch_minutes": dispatch_minutes,
        "close_minutes": close_minutes,
        "close_working_days": close_working_days,
        "name_zh": name_zh,
        "name_en": name_en,
    }
    with _engine().begin() as conn:
        row = configure_category(
            conn, code, {k: v for k, v in given.items() if v is not None}, _cli_actor()
        )
    out.print(f"{row['code']} {row['name_zh']}: {row['limit']} (city-wide default)")

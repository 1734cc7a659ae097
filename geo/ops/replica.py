"""The local read replica (`gridmap db up --replica`): a hot standby of the local cluster,
made and fed by PostgreSQL's own streaming replication.

`pg_basebackup -R -X stream` copies the running primary into `<cluster root>/replica/data`
(next to the primary's `data/`, so it belongs to the same OS user: `postgres` when root
runs it) and writes `standby.signal` and `primary_conninfo`; `pg_ctl` starts it on
`GRIDMAP_REPLICA_PORT` (default GRIDMAP_PG_PORT + 1), 127.0.0.1 only. The primary streams its
WAL over its Unix socket. The replica copies the roles too, so the primary's URL with the
replica's port reaches it. Like the primary, it takes a free port when a connection's end
holds its default one (`LocalCluster.start_server`); its URL and status read the port it runs
on.

    >>> replica = LocalReplica.from_settings()          # doctest: +SKIP
    >>> replica.up()
    'started on 127.0.0.1:55433 (…/pg/replica), streaming from 127.0.0.1:55432'
"""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import Connection

from geo.core.errors import SetupError
from geo.core.settings import Settings, get_settings
from geo.ops.localdb import (
    DB_USER,
    RUN_AS,
    LocalCluster,
    _is_root,
    find_bindir,
    held_note,
    refuse_if_listened,
)

#: a replication line the primary's pg_hba.conf needs for pg_basebackup and the WAL stream
HBA_REPLICATION = "local replication all trust"
#: how long a restarted standby may take to stream before it is copied afresh
STREAM_WAIT_S = 15.0
EXTERNAL = (
    "--replica makes a standby of the local cluster, but GRIDMAP_DATABASE_URL points at an "
    "external PostGIS: set up its replica with the server's own streaming replication and "
    "set GRIDMAP_READ_DATABASE_URL to it"
)


@dataclass
class LocalReplica:
    """The hot standby of one local cluster (`primary`), on its own port."""

    primary: LocalCluster
    port: int
    #: the port was asked for (GRIDMAP_REPLICA_PORT): never start on another
    port_fixed: bool = False

    @classmethod
    def from_settings(cls, settings: Settings | None = None) -> LocalReplica:
        s = settings or get_settings()
        return cls(
            primary=LocalCluster.from_settings(s),
            port=s.local_replica_port,
            port_fixed=s.replica_port is not None,
        )

    # -- where things are -------------------------------------------------------------
    @property
    def root(self) -> Path:
        return self.primary.root / "replica"

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    @property
    def log_file(self) -> Path:
        return self.root / "postgres.log"

    def is_made(self) -> bool:
        return (self.data_dir / "PG_VERSION").exists() and (
            self.data_dir / "standby.signal"
        ).exists()

    def _bin(self, name: str) -> str:
        bindir = find_bindir()
        if bindir is None:
            raise SetupError("PostgreSQL is not installed: run `gridmap db up` first")
        return str(bindir / name)

    # -- lifecycle ------------------------------------------------------------------------
    def is_running(self) -> bool:
        if find_bindir() is None or not self.is_made():
            return False
        done = self.primary._run([self._bin("pg_ctl"), "-D", str(self.data_dir), "status"], False)
        return done.returncode == 0

    def up(self) -> str:
        """Start the primary if needed, make the standby once, start it; what happened."""
        self.primary.up()
        if self.is_running():
            return f"already running on 127.0.0.1:{self._running_port()} ({self.root})"
        refuse_if_listened(self.port, "GRIDMAP_REPLICA_PORT")  # before copying anything
        asked = self.port
        if self.is_made() and not (self._start(check=False) and self._streams()):
            # stopped too long: the primary has recycled the WAL it needs; copy afresh
            self.down()
            self._make()
        if not self.is_made():
            self._make()
        if not self.is_running():
            self._start(check=True)
        streams = self._streams()
        return (
            f"started on 127.0.0.1:{self.port} ({self.root}){held_note(asked, self.port)}, "
            + ("streaming" if streams else "NOT YET streaming (see its log)")
            + f" from 127.0.0.1:{self.primary._running_port()}"
        )

    def down(self) -> str:
        if not self.is_running():
            return "not running"
        self.primary._run(
            [self._bin("pg_ctl"), "-D", str(self.data_dir), "-m", "fast", "-w", "stop"]
        )
        return "stopped"

    def remove(self) -> None:
        """Stop the standby and delete its files (the primary is untouched)."""
        self.down()
        shutil.rmtree(self.root, ignore_errors=True)

    def _start(self, check: bool) -> bool:
        """Start the standby (on a free port if its default one is held: see
        `LocalCluster.start_server`); a failure raises, or with `check=False` returns False
        (a port that cannot be had always raises: copying the standby afresh would not help)."""
        port = self.primary.start_server(
            self.data_dir,
            self.log_file,
            self.root,
            self.port,
            self.port_fixed,
            variable="GRIDMAP_REPLICA_PORT",
            check=check,
        )
        if port is None:
            return False
        self.port = port
        return True

    def _make(self) -> None:
        """A fresh copy of the running primary, configured as a hot standby."""
        self._allow_replication()
        shutil.rmtree(self.root, ignore_errors=True)
        self.root.mkdir(parents=True)
        if _is_root():
            shutil.chown(self.root, RUN_AS, RUN_AS)
        self.primary._run(
            [
                self._bin("pg_basebackup"),
                *self._to_primary(),
                *("-D", str(self.data_dir), "-R", "-X", "stream", "-c", "fast"),
            ]
        )
        conf = self.data_dir / "postgresql.conf"
        with open(conf, "a") as out:
            # feedback keeps the primary from vacuuming rows a long replica read still needs
            out.write(
                "\n# gridmap: a hot standby (gridmap db up --replica)\n"
                "hot_standby = on\n"
                "hot_standby_feedback = on\n"
                "cluster_name = 'gridmap_replica'\n"
            )

    def _streams(self, timeout: float = STREAM_WAIT_S) -> bool:
        """Does the primary stream WAL to a standby within `timeout` seconds?"""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            streaming = self._psql_primary(
                "SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming'"
            )
            if streaming != "0":
                return True
            time.sleep(0.5)
        return False

    def _to_primary(self) -> list[str]:
        """libpq options reaching the primary over its Unix socket as its superuser."""
        port = str(self.primary._running_port())
        return ["-h", str(self.primary.socket_dir), "-p", port, "-U", DB_USER]

    def _psql_primary(self, sql: str) -> str:
        psql = [self._bin("psql"), *self._to_primary(), "-d", "postgres", "-tAc", sql]
        return self.primary._run(psql).stdout.strip()

    def _allow_replication(self) -> None:
        """The primary must send WAL: wal_level replica (the default), WAL senders, and a
        pg_hba line for replication over its socket (initdb writes one; added if gone)."""
        level = self._psql_primary("SHOW wal_level")
        senders = int(self._psql_primary("SHOW max_wal_senders") or 0)
        if level == "minimal" or senders < 1:
            raise SetupError(
                f"the local cluster cannot stream WAL (wal_level={level}, "
                f"max_wal_senders={senders}): set wal_level = replica and max_wal_senders >= 2 "
                f"in {self.primary.data_dir / 'postgresql.conf'} and restart it"
            )
        allowed = self._psql_primary(
            "SELECT count(*) FROM pg_hba_file_rules WHERE type = 'local' "
            "AND 'replication' = ANY(database) AND auth_method IN ('trust', 'peer')"
        )
        if allowed == "0":
            with open(self.primary.data_dir / "pg_hba.conf", "a") as hba:
                hba.write(f"\n# gridmap: the local read replica\n{HBA_REPLICATION}\n")
            self._psql_primary("SELECT pg_reload_conf()")

    def _running_port(self) -> int:
        try:
            return int((self.data_dir / "postmaster.pid").read_text().splitlines()[3])
        except (OSError, IndexError, ValueError):
            return self.port

    def url(self, database: str | None = None, driver: str = "postgresql+psycopg2") -> str:
        """The replica's URL: the primary's (same roles, same password), on its port."""
        from geo.ops.localdb import DB_NAME

        if not self.is_made():
            raise SetupError("the local read replica is not made: run `gridmap db up --replica`")
        primary = self.primary.url(database or DB_NAME, driver)
        return primary.replace(
            f"@127.0.0.1:{self.primary._running_port()}/", f"@127.0.0.1:{self._running_port()}/"
        )

    def status(self) -> dict[str, str]:
        running = self.is_running()
        facts = {
            "replica": "running" if running else ("stopped" if self.is_made() else "not made"),
            "replica location": str(self.root),
            "replica port": str(self._running_port()),
        }
        if running:
            from geo.ops.database import engine_for

            engine = engine_for(self.primary.url("postgres"))
            try:
                with engine.connect() as conn:
                    facts["replica lag"] = describe_lag(streaming_lag(conn))
            finally:
                engine.dispose()
        return facts


def streaming_lag(primary: Connection) -> dict | None:
    """What the primary knows of its (first) standby: bytes sent but not yet replayed and
    the replay lag in seconds (0 when caught up), from `pg_stat_replication`; None when no
    standby streams from it."""
    row = primary.execute(
        text(
            "SELECT application_name, state, "
            "pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn) AS behind_bytes, "
            "extract(epoch FROM replay_lag) AS replay_lag_s "
            "FROM pg_stat_replication ORDER BY backend_start LIMIT 1"
        )
    ).first()
    if row is None:
        return None
    return {
        "name": row.application_name,
        "state": row.state,
        "behind_bytes": int(row.behind_bytes or 0),
        "replay_lag_s": float(row.replay_lag_s or 0.0),
    }


def replay_lag(replica: Connection) -> dict:
    """What a standby knows of itself: in recovery, and seconds since the last replayed
    transaction when it has received WAL it has not yet replayed (0 when caught up)."""
    row = replica.execute(
        text(
            "SELECT pg_is_in_recovery() AS standby, "
            "CASE WHEN pg_last_wal_receive_lsn() IS NOT DISTINCT FROM pg_last_wal_replay_lsn() "
            "THEN 0 ELSE extract(epoch FROM now() - pg_last_xact_replay_timestamp()) "
            "END AS lag_s"
        )
    ).one()
    return {"in_recovery": bool(row.standby), "lag_s": round(float(row.lag_s or 0.0), 3)}


def describe_lag(lag: dict | None) -> str:
    if lag is None:
        return "not streaming"
    return f"{lag['state']}, {lag['behind_bytes']:,} bytes behind, {lag['replay_lag_s']:.3f} s"

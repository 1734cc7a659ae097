"""The project-managed local PostgreSQL 15 + PostGIS 3 cluster (`gridmap db up|down|status|url`).

Where the files go: `$GRIDMAP_HOME/pg/` when the user that runs the cluster can reach it.
`initdb` refuses to run as root, so when root starts it the cluster runs as the `postgres`
system user; if that user cannot enter the checkout (a home folder of mode 700, say), the
cluster's files go to `/var/lib/gridmap/<hash of $GRIDMAP_HOME>/` instead, and
`$GRIDMAP_HOME/cluster.json` records where. `gridmap db status` prints the location.
"""

from __future__ import annotations

import glob
import hashlib
import json
import os
import secrets
import shutil
import socket
import subprocess
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from geo.core.errors import SetupError
from geo.core.settings import Settings, get_settings

PG_MAJOR = "15"
POSTGIS_PACKAGE = f"postgresql-{PG_MAJOR}-postgis-3"
SERVER_PACKAGE = f"postgresql-{PG_MAJOR}"
DB_NAME = "gridmap"
DB_USER = "gridmap"
FALLBACK_ROOT = Path("/var/lib/gridmap")
RUN_AS = "postgres"


def _is_root() -> bool:
    return os.geteuid() == 0


def _on_debian() -> bool:
    return Path("/etc/debian_version").exists() and shutil.which("apt-get") is not None


def find_bindir() -> Path | None:
    """The PostgreSQL 15 server binaries (`initdb`, `pg_ctl`), or None if not installed."""
    candidates = [f"/usr/lib/postgresql/{PG_MAJOR}/bin"]
    pg_config = shutil.which("pg_config")
    if pg_config:
        out = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True)
        candidates.insert(0, out.stdout.strip())
    candidates += sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)
    for c in candidates:
        if c and Path(c, "initdb").exists() and Path(c, "pg_ctl").exists():
            return Path(c)
    return None


def _sharedir(bindir: Path) -> Path:
    out = subprocess.run([str(bindir / "pg_config"), "--sharedir"], capture_output=True, text=True)
    if out.returncode == 0 and out.stdout.strip():
        return Path(out.stdout.strip())
    return Path(f"/usr/share/postgresql/{bindir.parent.name}")


def _apt_install(*packages: str) -> None:
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for cmd in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", *packages]):
        done = subprocess.run(cmd, env=env, capture_output=True, text=True)
        if done.returncode != 0:
            tail = (done.stderr or done.stdout).strip().splitlines()[-1:]
            raise SetupError(f"`{' '.join(cmd)}` failed: {' '.join(tail)}")


def ensure_server_installed() -> Path:
    """PostgreSQL 15 and PostGIS 3, installed with apt when missing and allowed; the bindir."""
    bindir = find_bindir()
    needs = []
    if bindir is None:
        needs.append(SERVER_PACKAGE)
    if bindir is None or not (_sharedir(bindir) / "extension" / "postgis.control").exists():
        needs.append(POSTGIS_PACKAGE)
    if needs:
        if not (_is_root() and _on_debian()):
            raise SetupError(
                f"PostgreSQL/PostGIS missing: install the Debian package(s) {' '.join(needs)} "
                "(as root: apt-get install -y " + " ".join(needs) + "), or set "
                "GRIDMAP_DATABASE_URL to an external PostGIS"
            )
        _apt_install(*needs)
        bindir = find_bindir()
        if bindir is None:
            raise SetupError(f"installed {' '.join(needs)} but found no initdb; check apt's output")
    return bindir


def port_in_use(port: int, host: str = "127.0.0.1") -> bool:
    """True when something accepts TCP connections on host:port."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(0.5)
        return s.connect_ex((host, port)) == 0


def refuse_if_listened(port: int, variable: str) -> None:
    """A port another program listens on is somebody's service: say so, never take it."""
    if port_in_use(port):
        raise SetupError(
            f"port {port} on 127.0.0.1 is in use by another program; set {variable} to a free port"
        )


def held_note(asked: int, port: int) -> str:
    """What a start message adds when the server had to take another port."""
    return "" if port == asked else f" (port {asked} was held by a connection)"


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port on `host` that nothing holds at this moment (the kernel's choice)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


#: starts tried when the port turns out to be held (each on another free port)
PORT_TRIES = 3
#: what PostgreSQL logs when it cannot listen on its port
BIND_REFUSED = "could not bind"


def _logged_since(log_file: Path, offset: int, words: str) -> bool:
    """Did `log_file` say `words` after `offset`?"""
    if not log_file.exists():
        return False
    with open(log_file, errors="replace") as log:
        log.seek(offset)
        return words in log.read()


@dataclass
class LocalCluster:
    """One local cluster, keyed by `$GRIDMAP_HOME`; its TCP port comes from the environment."""

    home: Path
    port: int
    #: the port was asked for (GRIDMAP_PG_PORT): never start on another
    port_fixed: bool = False

    @classmethod
    def from_settings(cls, settings: Settings | None = None) -> LocalCluster:
        s = settings or get_settings()
        fixed = "pg_port" in s.model_fields_set
        return cls(home=Path(s.home).resolve(), port=s.pg_port, port_fixed=fixed)

    # -- where things are -------------------------------------------------------------
    @property
    def _record(self) -> Path:
        return self.home / "cluster.json"

    @property
    def password_file(self) -> Path:
        return self.home / "pg-password"

    @property
    def root(self) -> Path:
        """The folder holding data, socket and log (recorded once it is chosen)."""
        if self._record.exists():
            return Path(json.loads(self._record.read_text())["root"])
        return self._choose_root()

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    @property
    def socket_dir(self) -> Path:
        return self.root

    @property
    def log_file(self) -> Path:
        return self.root / "postgres.log"

    def _fallback_root(self) -> Path:
        digest = hashlib.sha1(str(self.home).encode()).hexdigest()[:12]
        return FALLBACK_ROOT / digest

    def _choose_root(self) -> Path:
        preferred = self.home / "pg"
        if not _is_root():
            return preferred
        self.home.mkdir(parents=True, exist_ok=True)
        preferred.mkdir(exist_ok=True)
        shutil.chown(preferred, RUN_AS, RUN_AS)
        reachable = subprocess.run(["runuser", "-u", RUN_AS, "--", "test", "-w", str(preferred)])
        if reachable.returncode == 0:
            return preferred
        preferred.rmdir()
        return self._fallback_root()

    # -- running commands as the cluster's owner ---------------------------------------
    def _run(self, args: list[str], check: bool = True) -> subprocess.CompletedProcess[str]:
        cmd = ["runuser", "-u", RUN_AS, "--", *args] if _is_root() else args
        done = subprocess.run(cmd, capture_output=True, text=True, cwd=self.root)
        if check and done.returncode != 0:
            msg = (done.stderr or done.stdout).strip().splitlines()
            raise SetupError(
                f"{Path(args[0]).name} failed: {' '.join(msg[-2:])} (log: {self.log_file})"
            )
        return done

    # -- lifecycle ------------------------------------------------------------------------
    def is_initialised(self) -> bool:
        return (
            self._record.exists()
            and (self.data_dir / "PG_VERSION").exists()
            and (self.password_file.exists())
        )

    def init(self, bindir: Path) -> None:
        root = self._choose_root()
        if root != self.home / "pg" and root.exists():
            # a cluster left by an earlier checkout at the same path, whose password is gone
            shutil.rmtree(root)
        root.mkdir(parents=True, exist_ok=True)
        if _is_root():
            FALLBACK_ROOT.mkdir(parents=True, exist_ok=True)
            FALLBACK_ROOT.chmod(0o755)
            shutil.chown(root, RUN_AS, RUN_AS)
        self.home.mkdir(parents=True, exist_ok=True)
        self._record.write_text(json.dumps({"root": str(root)}))
        password = secrets.token_urlsafe(24)
        pwfile = root / "initdb-password"
        pwfile.write_text(password + "\n")
        if _is_root():
            shutil.chown(pwfile, RUN_AS, RUN_AS)
        try:
            self._run(
                [
                    str(bindir / "initdb"),
                    "-D",
                    str(self.data_dir),
                    "-U",
                    DB_USER,
                    "--pwfile",
                    str(pwfile),
                    "--auth-local=trust",
                    "--auth-host=scram-sha-256",
                    "-E",
                    "UTF8",
                    "--locale=C.UTF-8",
                ]
            )
        finally:
            pwfile.unlink(missing_ok=True)
        with open(self.data_dir / "postgresql.conf", "a") as conf:
            conf.write(
                "\n# gridmap: loopback only; a small machine\n"
                "listen_addresses = '127.0.0.1'\n"
                "shared_buffers = 256MB\n"
                "work_mem = 32MB\n"
                "maintenance_work_mem = 256MB\n"
                "synchronous_commit = off\n"
                "max_connections = 200\n"
            )
        self.password_file.write_text(password)
        self.password_file.chmod(0o600)

    def is_running(self) -> bool:
        bindir = find_bindir()
        if bindir is None or not self.is_initialised():
            return False
        return (
            self._run(
                [str(bindir / "pg_ctl"), "-D", str(self.data_dir), "status"], check=False
            ).returncode
            == 0
        )

    def up(self) -> str:
        """Install if needed, initialise once, start; returns what happened."""
        bindir = ensure_server_installed()
        if not self.is_initialised():
            self.init(bindir)
        if self.is_running():
            self._ensure_database(bindir)
            return f"already running on 127.0.0.1:{self._running_port()} ({self.root})"
        asked = self.port
        self.port = self.start_server(
            self.data_dir, self.log_file, self.socket_dir, self.port, self.port_fixed
        )
        self._ensure_database(bindir)
        return f"started on 127.0.0.1:{self.port} ({self.root}){held_note(asked, self.port)}"

    def start_server(
        self,
        data_dir: Path,
        log_file: Path,
        socket_dir: Path,
        port: int,
        port_fixed: bool,
        variable: str = "GRIDMAP_PG_PORT",
        check: bool = True,
    ) -> int | None:
        """`pg_ctl start` of the server in `data_dir` (this cluster's, or its replica's) as
        this cluster's OS user; returns the port it listens on. A port another program listens
        on is refused before starting (that is somebody's service). The default ports lie in the
        range Linux lends to outgoing connections (32768-60999): when the local end of some
        connection holds `port` at the moment of starting, the server starts on a free port
        instead, unless the port was set (`port_fixed`, by `variable`): then one SetupError
        names it. Another failure raises, or with `check=False` returns None."""
        bindir = find_bindir()
        if bindir is None:
            raise SetupError("PostgreSQL is not installed: run `gridmap db up` first")
        refuse_if_listened(port, variable)
        for _ in range(PORT_TRIES):
            logged = log_file.stat().st_size if log_file.exists() else 0
            done = self._run(
                [
                    *(str(bindir / "pg_ctl"), "-D", str(data_dir), "-l", str(log_file), "-o"),
                    *(f"-p {port} -k {socket_dir}", "-w", "-t", "60", "start"),
                ],
                check=False,
            )
            if done.returncode == 0:
                return port
            if not _logged_since(log_file, logged, BIND_REFUSED):
                if not check:
                    return None
                said = (done.stderr or done.stdout).strip().splitlines()
                raise SetupError(f"pg_ctl failed: {' '.join(said[-2:])} (log: {log_file})")
            if port_fixed:
                raise SetupError(
                    f"PostgreSQL cannot listen on 127.0.0.1:{port}: something holds it; "
                    f"set {variable} to a free port (log: {log_file})"
                )
            port = free_port()
        raise SetupError(f"PostgreSQL found no free port to listen on (log: {log_file})")

    def down(self) -> str:
        bindir = find_bindir()
        if bindir is None or not self.is_running():
            return "not running"
        self._run([str(bindir / "pg_ctl"), "-D", str(self.data_dir), "-m", "fast", "-w", "stop"])
        return "stopped"

    def _running_port(self) -> int:
        pid_file = self.data_dir / "postmaster.pid"
        try:
            return int(pid_file.read_text().splitlines()[3])
        except (OSError, IndexError, ValueError):
            return self.port

    def _ensure_database(self, bindir: Path) -> None:
        port = str(self._running_port())
        psql = [str(bindir / "psql"), "-h", str(self.socket_dir), "-p", port, "-U", DB_USER]
        exists = self._run(
            [
                *psql,
                "-d",
                "postgres",
                "-tAc",
                f"SELECT 1 FROM pg_database WHERE datname = '{DB_NAME}'",
            ]
        )
        if exists.stdout.strip() != "1":
            self._run([*psql, "-d", "postgres", "-c", f'CREATE DATABASE "{DB_NAME}"'])

    def url(self, database: str = DB_NAME, driver: str = "postgresql+psycopg2") -> str:
        """The connection URL of the running cluster (TCP, password included)."""
        if not self.password_file.exists():
            raise SetupError("the local database is not initialised: run `gridmap db up`")
        password = quote(self.password_file.read_text().strip(), safe="")
        port = self._running_port() if self.is_initialised() else self.port
        return f"{driver}://{DB_USER}:{password}@127.0.0.1:{port}/{database}"

    def status(self) -> dict[str, str]:
        return {
            "state": "running" if self.is_running() else "stopped",
            "location": str(self.root),
            "port": str(self._running_port()),
            "database": DB_NAME,
        }

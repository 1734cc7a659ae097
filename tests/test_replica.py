"""The read replica: a real streaming-replication hot standby of a local cluster of its own
(own GRIDMAP_HOME, own ports), the service reading from it, read-your-own-writes, and the
service answering from the primary once the replica is stopped.

Everything here is started by the module and stopped at its end; each wait is bounded.
"""

from __future__ import annotations

import os
import shutil
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine

from geo.core.settings import get_settings
from geo.ops.localdb import LocalCluster, free_port
from geo.ops.replica import LocalReplica, replay_lag, streaming_lag
from tests.conftest import SEED_END
from tests.incident_support import inside, report_body

#: longest wait for the replica to replay a write (it streams: normally milliseconds)
REPLAY_WAIT_S = 30.0
OGC_ITEMS = "/ogc/collections/incidents/items?limit=5"


def _wait_for(check, what: str, timeout: float = REPLAY_WAIT_S):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"{what}: not within {timeout:g} s")


@dataclass
class Pair:
    primary: LocalCluster
    replica: LocalReplica
    primary_engine: Engine
    replica_engine: Engine
    #: admin tokens of two callers: `writer` files a case, `other` only reads
    writer: str
    other: str


@pytest.fixture(scope="module")
def pair(tmp_path_factory) -> Iterator[Pair]:
    """A seeded primary and its hot standby, in a GRIDMAP_HOME of their own."""
    from geo.access.roles import Role, create_token
    from geo.ops.migrate import upgrade
    from geo.ops.seed import seed

    primary = LocalCluster(home=tmp_path_factory.mktemp("replica-home"), port=free_port())
    replica = LocalReplica(primary=primary, port=free_port())
    engines: list[Engine] = []
    try:
        primary.up()
        primary_engine = create_engine(primary.url())
        engines.append(primary_engine)
        upgrade(primary_engine)
        seed(primary_engine, scale=0.02, end=SEED_END)
        with primary_engine.begin() as conn:
            writer = create_token(conn, Role.ADMIN, "replica test writer")
            other = create_token(conn, Role.ADMIN, "replica test reader")
        assert replica.up().startswith("started on 127.0.0.1:")
        replica_engine = create_engine(replica.url(), pool_pre_ping=True)
        engines.append(replica_engine)
        yield Pair(primary, replica, primary_engine, replica_engine, writer, other)
    finally:
        for engine in engines:
            engine.dispose()
        replica.remove()
        primary.down()
        shutil.rmtree(primary.root, ignore_errors=True)


def _version(engine: Engine) -> int:
    with engine.connect() as conn:
        return conn.execute(text("SELECT count(*) FROM data_changes")).scalar()


def test_the_standby_streams_and_a_write_on_the_primary_appears_on_it(pair):
    with pair.replica_engine.connect() as conn:
        assert replay_lag(conn)["in_recovery"] is True
    # idempotent: a second `up` says so and changes nothing
    assert pair.replica.up().startswith("already running on 127.0.0.1:")
    with pair.primary_engine.begin() as conn:
        first = "(SELECT min(id) FROM resources)"
        conn.execute(text(f"UPDATE resources SET name_zh = name_zh || '·' WHERE id = {first}"))
        wanted = conn.execute(text("SELECT name_zh FROM resources ORDER BY id LIMIT 1")).scalar()

    def replayed():
        with pair.replica_engine.connect() as conn:
            name = conn.execute(text("SELECT name_zh FROM resources ORDER BY id LIMIT 1")).scalar()
        return name == wanted

    _wait_for(replayed, "the primary's write on the replica")
    with pair.primary_engine.connect() as conn:
        lag = streaming_lag(conn)
    assert lag is not None and lag["state"] == "streaming"
    status = pair.replica.status()
    assert status["replica"] == "running" and "streaming" in status["replica lag"]


@pytest.fixture(scope="module")
def service(pair, tmp_path_factory) -> Iterator[TestClient]:
    """The HTTP service on the primary, with GRIDMAP_READ_DATABASE_URL naming the replica."""
    from api.main import create_app

    with pytest.MonkeyPatch.context() as env:
        env.setenv("GRIDMAP_DATABASE_URL", pair.primary.url())
        env.setenv("GRIDMAP_READ_DATABASE_URL", pair.replica.url())
        env.setenv("GRIDMAP_REPLICA_RETRY_S", "60")
        env.setenv("GRIDMAP_HOME", str(tmp_path_factory.mktemp("replica-service")))
        get_settings.cache_clear()
        try:
            with TestClient(create_app()) as client:
                yield client
        finally:
            get_settings.cache_clear()
    get_settings.cache_clear()


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_reads_are_answered_by_the_replica(service, pair):
    health = service.get("/api/health").json()
    assert health["replica"]["reachable"] is True and health["replica"]["in_recovery"] is True
    for path in ("/ogc/collections/incidents/items?limit=5", "/api/coverage", "/api/cases"):
        answer = service.get(path, headers=_bearer(pair.other))
        assert answer.status_code == 200, (path, answer.text)
        assert answer.headers["x-read-source"] == "replica", path


def _file_case(service, pair, which: str) -> str:
    """The writer reports a case in the first (`min`) or last (`max`) sector; its id."""
    with pair.primary_engine.connect() as conn:
        sector = conn.execute(
            text(f"SELECT {which}(code) FROM units WHERE level = 'sector' AND valid_to IS NULL")
        ).scalar()
    filed = service.post(
        "/api/incidents",
        json=report_body(*inside(pair.primary_engine, sector)),
        headers=_bearer(pair.writer),
    )
    assert filed.status_code == 201, filed.text
    return filed.json()["id"]


def _feature(service, token: str, incident_id: str):
    return service.get(f"/ogc/collections/incidents/items/{incident_id}", headers=_bearer(token))


def test_a_person_reads_their_own_write_at_once_others_when_the_replica_has_it(service, pair):
    with pair.replica_engine.connect() as conn:  # a replica that lags: replay stopped
        conn.execute(text("SELECT pg_wal_replay_pause()"))
    try:
        incident_id = _file_case(service, pair, "min")
        # the writer sees it at once: their reads go to the primary until the replica has it
        mine = _feature(service, pair.writer, incident_id)
        assert mine.status_code == 200 and mine.headers["x-read-source"] == "primary"
        # someone else reads the replica, which has not replayed it: proof the replica answers
        theirs = _feature(service, pair.other, incident_id)
        assert theirs.status_code == 404 and theirs.headers["x-read-source"] == "replica"
    finally:
        with pair.replica_engine.connect() as conn:
            conn.execute(text("SELECT pg_wal_replay_resume()"))
    primary_version = _version(pair.primary_engine)
    _wait_for(lambda: _version(pair.replica_engine) >= primary_version, "replay after resume")
    time.sleep(0.6)  # past the router's cache of the replica's data version
    for token in (pair.writer, pair.other):
        answer = _feature(service, token, incident_id)
        assert answer.status_code == 200 and answer.headers["x-read-source"] == "replica"


def test_with_the_replica_stopped_the_service_keeps_answering_from_the_primary(service, pair):
    assert pair.replica.down() == "stopped"
    started = time.monotonic()
    for _ in range(5):
        answer = service.get(OGC_ITEMS, headers=_bearer(pair.other))
        assert answer.status_code == 200, answer.text
        assert answer.headers["x-read-source"] == "primary"
        cases = service.get("/api/cases", headers=_bearer(pair.other))
        assert cases.status_code == 200 and cases.headers["x-read-source"] == "primary"
    # the dead replica is not tried on every request: ten reads take far less than ten timeouts
    assert time.monotonic() - started < 10 * get_settings().replica_connect_timeout_s
    health = service.get("/api/health")
    assert health.status_code == 200 and health.json()["status"] == "ok"
    assert health.json()["replica"]["reachable"] is False
    # writes go on as before, and the writer reads them back
    assert _feature(service, pair.writer, _file_case(service, pair, "max")).status_code == 200


def test_a_standby_left_behind_by_the_primarys_wal_is_copied_afresh(service, pair):
    """Stopped (by the test before) while the primary writes and recycles its WAL: the
    standby cannot stream from where it stopped; `up` notices and makes a new copy."""
    assert not pair.replica.is_running()
    with pair.primary_engine.connect() as conn:
        conn.execute(text("SET synchronous_commit = on"))
        for _ in range(6):  # segments the standby needs are recycled at the checkpoints
            conn.execute(text("UPDATE resources SET name_zh = name_zh WHERE kind = 'grid_worker'"))
            conn.commit()
            conn.execute(text("SELECT pg_switch_wal()"))
            conn.execute(text("CHECKPOINT"))
        conn.commit()
    said = pair.replica.up()
    assert said.startswith("started on 127.0.0.1:") and ", streaming from" in said, said
    with pair.primary_engine.connect() as conn:
        assert streaming_lag(conn)["state"] == "streaming"
    wanted = _version(pair.primary_engine)
    _wait_for(lambda: _version(pair.replica_engine) >= wanted, "the fresh copy catches up")
    pair.replica.down()


def test_a_standby_whose_port_a_connection_holds_starts_on_a_free_one(pair):
    """Linux lends ports of 32768-60999 to outgoing connections, and GRIDMAP_PG_PORT + 1 is in
    that range: a start that finds its default port held by a connection's local end (bound,
    not listening: the CI failure of stop 31) starts on a free port and says so; a port
    asked for by GRIDMAP_REPLICA_PORT is never changed: one clear error, nothing copied."""
    from geo.core.errors import SetupError

    pair.replica.down()
    held = socket.socket()
    held.bind(("127.0.0.1", 0))  # (the port the standby had may linger in TIME_WAIT)
    default = pair.replica.port = held.getsockname()[1]
    try:
        asked = LocalReplica(primary=pair.primary, port=default, port_fixed=True)
        copied = (pair.replica.data_dir / "PG_VERSION").stat().st_mtime_ns
        with pytest.raises(SetupError, match=f"127.0.0.1:{default}: .*GRIDMAP_REPLICA_PORT"):
            asked.up()
        assert (pair.replica.data_dir / "PG_VERSION").stat().st_mtime_ns == copied
        said = pair.replica.up()
    finally:
        held.close()
    port = pair.replica.port
    assert port != default and pair.replica._running_port() == port
    assert said.startswith(f"started on 127.0.0.1:{port} ") and f"port {default} was held" in said
    assert ", streaming from" in said
    with create_engine(pair.replica.url()).connect() as conn:
        assert replay_lag(conn)["in_recovery"] is True


def test_replica_refuses_an_external_primary_with_one_line(monkeypatch):
    from typer.testing import CliRunner

    from geo.ops.cli import app

    monkeypatch.setenv("GRIDMAP_DATABASE_URL", "postgresql://x:y@db.example:5432/gridmap")
    get_settings.cache_clear()
    try:
        done = CliRunner().invoke(app, ["db", "up", "--replica"])
    finally:
        get_settings.cache_clear()
    assert done.exit_code == 1
    assert "GRIDMAP_DATABASE_URL" in done.output and "GRIDMAP_READ_DATABASE_URL" in done.output
    assert os.environ["GRIDMAP_DATABASE_URL"].endswith("db.example:5432/gridmap")

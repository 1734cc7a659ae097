"""The project-managed local cluster: where it lives, and clear errors when it cannot start."""

from __future__ import annotations

import os
import shutil
import socket

import pytest

from geo.core.errors import DatabaseUnreachable, SetupError
from geo.ops.database import make_engine
from geo.ops.localdb import FALLBACK_ROOT, LocalCluster, free_port


@pytest.fixture
def busy_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        yield s.getsockname()[1]


def test_a_port_in_use_stops_the_cluster_with_the_port_named(tmp_path, busy_port):
    cluster = LocalCluster(home=tmp_path / "home", port=busy_port)
    with pytest.raises(SetupError, match=f"port {busy_port} .* in use.*GRIDMAP_PG_PORT"):
        cluster.up()
    assert not cluster.is_running()


def test_a_port_a_connections_end_holds_is_left_for_a_free_one_unless_it_was_set(tmp_path):
    """The default ports (55432, 55433) lie in the range Linux lends to outgoing connections
    (32768-60999). A port held by a connection's local end (bound, not listening: nothing
    answers there) fails PostgreSQL's bind; the cluster then starts on a free port and says
    so, unless GRIDMAP_PG_PORT set the port: then one error names it and its log."""
    held = socket.socket()
    held.bind(("127.0.0.1", 0))
    port = held.getsockname()[1]
    cluster = LocalCluster(home=tmp_path / "home", port=port, port_fixed=True)
    try:
        with pytest.raises(SetupError, match=f"127.0.0.1:{port}: .* set GRIDMAP_PG_PORT"):
            cluster.up()
        assert not cluster.is_running()
        cluster.port_fixed = False
        said = cluster.up()
        assert cluster.port != port and cluster._running_port() == cluster.port
        assert said.startswith(f"started on 127.0.0.1:{cluster.port} ")
        assert f"(port {port} was held by a connection)" in said
        assert f"@127.0.0.1:{cluster.port}/" in cluster.url()
    finally:
        held.close()
        cluster.down()
        shutil.rmtree(cluster.root, ignore_errors=True)


@pytest.mark.skipif(os.geteuid() != 0, reason="the fallback location is for a root-run cluster")
def test_cluster_starts_from_a_checkout_the_postgres_user_cannot_enter(tmp_path):
    private = tmp_path / "private"
    private.mkdir(mode=0o700)
    port = free_port()
    cluster = LocalCluster(home=private / ".gridmap", port=port)
    try:
        assert cluster.up().startswith("started")
        assert str(cluster.root).startswith(str(FALLBACK_ROOT))
        assert cluster.status()["state"] == "running"
        engine = make_engine(cluster.url())
        engine.dispose()
    finally:
        cluster.down()
    assert cluster.status()["state"] == "stopped"


def test_unreachable_database_names_the_url_with_the_password_masked():
    with pytest.raises(DatabaseUnreachable) as caught:
        make_engine("postgresql+psycopg2://gridmap:hunter2@127.0.0.1:1/gridmap")
    assert "127.0.0.1:1" in caught.value.detail and "hunter2" not in caught.value.detail
    assert "gridmap db up" in caught.value.detail


def test_missing_postgis_is_created_when_the_role_may(empty_engine):
    from geo.ops.database import require_postgis

    assert require_postgis(empty_engine).startswith("3.")

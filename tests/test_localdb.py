"""The project-managed local cluster: where it lives, and clear errors when it cannot start."""

from __future__ import annotations

import os
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

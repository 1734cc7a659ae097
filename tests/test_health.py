"""`GET /api/health`: reachable database, PostGIS version, data version; 503 when not."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy.engine import make_url

from api.main import create_app
from geo.core.settings import get_settings


def test_health_reports_postgis_schema_and_data_version(seeded_url):
    with TestClient(create_app()) as client:
        response = client.get("/api/health")
    body = response.json()
    assert response.status_code == 200
    assert body["status"] == "ok" and body["database"] == "reachable"
    assert body["postgis"].startswith("3.")
    assert body["district_loaded"] is True
    assert body["data_version"] > 0


def test_data_version_grows_with_a_committed_change(fresh_url, fresh_engine):
    from sqlalchemy import text

    with TestClient(create_app()) as client:
        before = client.get("/api/health").json()["data_version"]
        with fresh_engine.begin() as conn:
            conn.execute(text("UPDATE businesses SET name_en = name_en WHERE id = 'S00001'"))
        after = client.get("/api/health").json()["data_version"]
    assert after == before + 1


def test_unreachable_database_is_503_problem_with_the_password_masked(seeded_url, monkeypatch):
    dead = make_url(seeded_url).set(port=1, password="s3cret-pw")
    monkeypatch.setenv("GRIDMAP_DATABASE_URL", dead.render_as_string(hide_password=False))
    get_settings.cache_clear()
    with TestClient(create_app()) as client:
        response = client.get("/api/health")
    get_settings.cache_clear()
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
    assert "127.0.0.1:1" in response.json()["detail"]
    assert "s3cret-pw" not in response.text and "***" in response.text

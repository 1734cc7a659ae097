"""Versions: the grid as of a date before and after a change, history, rollback, and
statistics of a past period on the boundaries valid then."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import shapely
from shapely.geometry import shape
from sqlalchemy import text

from geo.core.errors import InvalidInput
from geo.planning import asof, edits
from geo.planning.layer import current_layer_etag
from tests.conftest import auth
from tests.planning_support import coverage_is_clean, etag, grow, metric, neighbours, sectors

ACTOR = "planner:测试"
A, B = "6209020030010101", "6209020030010102"


def area(geom) -> float:
    return metric(geom).area


def moved_border(engine) -> tuple[datetime, dict, dict]:
    """Move the A/B border; returns the moment just before, and the sectors before and after."""
    with engine.begin() as conn:
        before = sectors(conn)
        moment = conn.execute(text("SELECT clock_timestamp()")).scalar_one()
        new_a, _ = grow(conn, A, B, 25)
        edits.put_sector(conn, A, new_a, "道路改线", ACTOR, [etag(conn, A)])
    with engine.connect() as conn:
        return moment, before, sectors(conn)


def by_code(collection: dict) -> dict:
    return {f["id"]: shape(f["geometry"]) for f in collection["features"]}


def test_as_of_before_and_after_a_change_returns_the_grid_as_it_was(fresh_client, fresh_engine):
    moment, before, after = moved_border(fresh_engine)
    old = fresh_client.get(
        "/api/boundaries", params={"as_of": moment.isoformat()}, headers=auth("official")
    )
    new = fresh_client.get("/api/boundaries", headers=auth("official"))
    assert old.status_code == new.status_code == 200
    assert old.headers["content-type"].startswith("application/geo+json")
    old_geoms, new_geoms = by_code(old.json()), by_code(new.json())
    assert area(shapely.symmetric_difference(old_geoms[A], before[A])) < 1.0
    assert area(shapely.symmetric_difference(new_geoms[A], after[A])) < 1.0
    assert area(new_geoms[A]) > area(old_geoms[A]) + 10_000
    assert {f["properties"]["version"] for f in old.json()["features"] if f["id"] == A} == {1}
    assert new.headers["etag"] == new.json()["layer_etag"]


def test_as_of_a_date_means_the_end_of_that_day_in_beijing():
    end = asof.parse_as_of("2026-11-01")
    assert end.isoformat() == "2026-11-01T23:59:59.999999+08:00"
    assert asof.parse_as_of("2026-11-01T08:00:00").utcoffset() == timedelta(hours=8)
    with pytest.raises(InvalidInput, match="as_of"):
        asof.parse_as_of("yesterday")


def test_before_the_first_load_there_is_no_grid_and_the_answer_says_when_it_starts(client):
    response = client.get("/api/boundaries", params={"as_of": "2000-01-01"}, headers=auth("admin"))
    assert response.status_code == 404
    assert "earliest" in response.json()["detail"]


def test_history_lists_every_version_with_the_change_that_wrote_it(fresh_client, fresh_engine):
    moved_border(fresh_engine)
    history = fresh_client.get(f"/api/boundaries/units/{A}/history", headers=auth("admin"))
    versions = history.json()["features"]
    assert [v["properties"]["version"] for v in versions] == [1, 2]
    first, second = (v["properties"] for v in versions)
    assert first["valid_to"] == second["valid_from"]
    assert second["reason"] == "道路改线" and second["change_kind"] == "move_border"
    assert second["changed_by"] == ACTOR
    unit = fresh_client.get(f"/api/boundaries/units/{A}", headers=auth("patrol"))
    assert unit.headers["etag"] == f'"{A}:v2"'


def test_rolling_a_unit_back_restores_its_old_shape_as_a_new_version(fresh_engine):
    _, before, _ = moved_border(fresh_engine)
    with fresh_engine.begin() as conn:
        edits.rollback_unit(conn, A, 1, "撤销", ACTOR, [etag(conn, A)])
    with fresh_engine.connect() as conn:
        now = sectors(conn)
        assert etag(conn, A) == f'"{A}:v3"'
        assert coverage_is_clean(conn)
    assert area(shapely.symmetric_difference(now[A], before[A])) < 1.0
    assert area(shapely.symmetric_difference(now[B], before[B])) < 1.0


def test_rolling_back_a_merged_away_sector_brings_it_back(fresh_engine):
    with fresh_engine.begin() as conn:
        before = sectors(conn)
        edits.merge(conn, B, A, "合并", ACTOR, [etag(conn, B), etag(conn, A)])
    with fresh_engine.begin() as conn:
        report = edits.rollback_unit(conn, A, 1, "撤销合并", ACTOR, [etag(conn, A)])
    with fresh_engine.connect() as conn:
        now = sectors(conn)
        assert coverage_is_clean(conn)
        incidents = conn.execute(
            text("SELECT count(*) FROM incidents WHERE sector_code = :a"), {"a": A}
        ).scalar_one()
    assert {u["code"]: u["action"] for u in report["units"]}[A] == "reopened"
    assert area(shapely.symmetric_difference(now[A], before[A])) < 1.0
    assert area(shapely.symmetric_difference(now[B], before[B])) < 1.0
    assert incidents > 0


def test_rolling_the_layer_back_restores_every_unit_as_it_was(fresh_engine):
    with fresh_engine.begin() as conn:
        before = sectors(conn)
        moment = conn.execute(text("SELECT clock_timestamp()")).scalar_one()
        c, d = neighbours(conn)[3]
        edits.merge(conn, B, A, "合并", ACTOR, [etag(conn, B), etag(conn, A)])
    with fresh_engine.begin() as conn:
        new_c, _ = grow(conn, c, d, 25)
        edits.put_sector(conn, c, new_c, "调整", ACTOR, [etag(conn, c)])
    with pytest.raises(InvalidInput, match="no boundaries"), fresh_engine.begin() as conn:
        edits.rollback_layer(conn, datetime(2000, 1, 1, tzinfo=UTC), "太早", ACTOR)
    with fresh_engine.begin() as conn:
        edits.rollback_layer(conn, moment, "恢复", ACTOR, [current_layer_etag(conn)])
    with fresh_engine.connect() as conn:
        now = sectors(conn)
        assert coverage_is_clean(conn)
    assert set(now) == set(before)
    assert all(area(shapely.symmetric_difference(now[k], before[k])) < 1.0 for k in before)


def test_counts_as_of_use_the_boundaries_valid_then(fresh_engine):
    moment, _, _ = moved_border(fresh_engine)
    with fresh_engine.connect() as conn:
        then = asof.counts_as_of(conn, "incidents", "sector", moment).set_index("code")["count"]
        now = asof.counts_as_of(
            conn, "incidents", "sector", datetime.now(UTC) + timedelta(seconds=1)
        ).set_index("code")["count"]
        stored = dict(
            conn.execute(text("SELECT sector_code, count(*) FROM incidents GROUP BY 1")).all()
        )
        old_b = conn.execute(
            text(
                "SELECT count(*) FROM incidents i JOIN units u ON u.code = :b AND u.version = 1 "
                "WHERE ST_Covers(u.geom, i.geom) AND NOT EXISTS (SELECT 1 FROM units v "
                "WHERE v.code = :a AND v.version = 1 AND ST_Covers(v.geom, i.geom))"
            ),
            {"a": A, "b": B},
        ).scalar_one()
    assert now.to_dict() == {k: stored.get(k, 0) for k in now.index}
    assert then[B] == old_b
    assert then[B] > now[B] and then[A] < now[A]
    assert then.sum() == now.sum()


def test_every_level_and_the_courtyards_come_as_geojson_with_their_etags(client):
    counts = {}
    for level in ("district", "community", "grid2", "sector", "courtyard"):
        body = client.get("/api/boundaries", params={"level": level}, headers=auth("patrol")).json()
        counts[level] = len(body["features"])
        assert all(f["properties"]["etag"].startswith(f'"{f["id"]}:v') for f in body["features"])
    assert counts == {"district": 1, "community": 3, "grid2": 12, "sector": 22, "courtyard": 60}
    yards = client.get("/api/boundaries?level=courtyard", headers=auth("patrol")).json()
    assert all(f["properties"]["parent_code"].startswith("620902003") for f in yards["features"])
    bad = client.get("/api/boundaries?level=street", headers=auth("patrol"))
    assert bad.status_code == 422 and bad.headers["content-type"] == "application/problem+json"

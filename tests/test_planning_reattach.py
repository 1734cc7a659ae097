"""Incremental re-attach and re-dispatch: only the changed area is examined, the result is
what a full re-attach would give, and open incidents moved to another sector are
re-dispatched with a history event saying why — all in the change's transaction."""

from __future__ import annotations

import pytest
import shapely
from sqlalchemy import text

from geo.core.terms import CLOSED_STATUSES
from geo.grid.attach import POINT_TABLES, attach_points
from geo.planning import edits
from tests.planning_support import etag, grow, metric, neighbours, sectors, strip

ACTOR = "planner:测试"


def test_only_points_in_the_changed_area_are_examined(fresh_engine):
    with fresh_engine.begin() as conn:
        a, b = neighbours(conn)[0]
        new_a, piece = grow(conn, a, b, 25)
        inside = conn.execute(
            text("SELECT count(*) FROM incidents WHERE ST_Covers(ST_GeomFromText(:g, 4326), geom)"),
            {"g": piece.wkt},
        ).scalar_one()
        near = conn.execute(
            text(
                "SELECT count(*) FROM incidents WHERE ST_DWithin(ST_Transform(geom, 4542), "
                "ST_Transform(ST_GeomFromText(:g, 4326), 4542), 1.0)"
            ),
            {"g": piece.wkt},
        ).scalar_one()
        total = conn.execute(text("SELECT count(*) FROM incidents")).scalar_one()
        report = edits.put_sector(conn, a, new_a, "调整", ACTOR, [etag(conn, a)])
    examined = report["moves"]["incidents"]["examined"]
    assert inside <= examined <= near
    assert examined < total / 50
    assert report["moves"]["incidents"]["moved"] == sum(
        f["count"] for f in report["moves"]["incidents"]["flows"]
    )


def test_after_any_edit_every_point_carries_what_a_full_re_attach_gives(fresh_engine):
    with fresh_engine.begin() as conn:
        a, b = neighbours(conn)[2]
        new_a, _ = grow(conn, a, b, 200)
        edits.put_sector(conn, a, new_a, "调整", ACTOR, [etag(conn, a)])
    with fresh_engine.begin() as conn:
        survivor, retired = neighbours(conn)[5]
        edits.merge(
            conn, survivor, retired, "合并", ACTOR, [etag(conn, survivor), etag(conn, retired)]
        )
    with fresh_engine.begin() as conn:
        code, target = "6209020030010101", "62090200300102"
        edits.reassign(conn, code, target, "改属", ACTOR, [etag(conn, code)])
    with fresh_engine.begin() as conn:
        redo = {t: attach_points(conn, t).moved for t in POINT_TABLES}
        conn.rollback()
    assert redo == {t: 0 for t in POINT_TABLES}


def test_a_point_on_the_new_border_goes_to_the_lowest_code(fresh_engine):
    with fresh_engine.begin() as conn:
        a, b = neighbours(conn)[0]
        new_a, _ = grow(conn, a, b, 25)
        inside_b = shapely.buffer(sectors(conn)[b], 1e-9)
        outside_a = shapely.buffer(sectors(conn)[a], 1e-9)
        corners = shapely.points(shapely.get_coordinates(new_a))
        mine = shapely.contains(inside_b, corners) & ~shapely.contains(outside_a, corners)
        vertex = shapely.get_coordinates(corners[mine][0])[0].tolist() if mine.any() else None
        if vertex is None:
            pytest.fail("the new border has no vertex of its own")
        conn.execute(
            text(
                "INSERT INTO households (id, geom) VALUES ('H-EDGE', "
                "ST_SetSRID(ST_MakePoint(:x, :y), 4326))"
            ),
            {"x": vertex[0], "y": vertex[1]},
        )
        attach_points(conn, "households")
        edits.put_sector(conn, a, new_a, "调整", ACTOR, [etag(conn, a)])
        stored = conn.execute(
            text("SELECT sector_code FROM households WHERE id = 'H-EDGE'")
        ).scalar_one()
        covering = conn.execute(
            text(
                "SELECT array_agg(code ORDER BY code) FROM units WHERE level = 'sector' AND "
                "valid_to IS NULL AND ST_Covers(geom, ST_SetSRID(ST_MakePoint(:x, :y), 4326))"
            ),
            {"x": vertex[0], "y": vertex[1]},
        ).scalar_one()
    assert covering and stored == covering[0]


def open_incident_near_border(conn, a: str, b: str, width: float) -> str:
    piece = strip(conn, a, b, width)
    return conn.execute(
        text(
            "SELECT id FROM incidents WHERE sector_code = :b AND dispatched_at IS NOT NULL "
            "AND status <> ALL(:closed) AND ST_Covers(ST_GeomFromText(:g, 4326), geom) "
            "ORDER BY id LIMIT 1"
        ),
        {"b": b, "g": piece.wkt, "closed": sorted(CLOSED_STATUSES)},
    ).scalar()


def test_an_open_incident_moved_by_a_border_change_is_redispatched_with_its_reason(fresh_engine):
    with fresh_engine.begin() as conn:
        found = None
        for a, b in neighbours(conn):
            for width in (25, 60, 120):
                incident = open_incident_near_border(conn, a, b, width)
                if incident:
                    found = (a, b, width, incident)
                    break
            if found:
                break
        assert found, "the seed has open incidents near sector borders"
        a, b, width, incident = found
        new_a, _ = grow(conn, a, b, width)
        closed_moved = conn.execute(
            text(
                "SELECT id FROM incidents WHERE sector_code = :b AND status = 'verified' "
                "AND ST_Covers(ST_GeomFromText(:g, 4326), geom) LIMIT 1"
            ),
            {"b": b, "g": strip(conn, a, b, width).wkt},
        ).scalar()
        report = edits.put_sector(conn, a, new_a, "道路改线", ACTOR, [etag(conn, a)])
    change = report["change"]["id"]
    with fresh_engine.connect() as conn:
        row = conn.execute(
            text("SELECT sector_code, assigned_to, status FROM incidents WHERE id = :i"),
            {"i": incident},
        ).one()
        team = conn.execute(
            text(
                "SELECT array_agg(id ORDER BY id) FROM resources WHERE kind = 'grid_worker' "
                "AND serves_code = :a"
            ),
            {"a": a},
        ).scalar()
        if team is None:  # the sector has no worker: its level-2 grid's workers
            team = conn.execute(
                text(
                    "SELECT array_agg(r.id ORDER BY r.id) FROM resources r JOIN units s "
                    "ON s.code = r.serves_code AND s.valid_to IS NULL WHERE r.kind = "
                    "'grid_worker' AND (s.parent_code = :g OR r.serves_code = :g)"
                ),
                {"g": a[:-2]},
            ).scalar()
        events = conn.execute(
            text(
                "SELECT kind, note, actor, from_status, to_status FROM incident_events "
                "WHERE incident_id = :i AND kind = 'redispatch'"
            ),
            {"i": incident},
        ).all()
        closed_events = conn.execute(
            text(
                "SELECT count(*) FROM incident_events WHERE incident_id = :i "
                "AND kind = 'redispatch'"
            ),
            {"i": closed_moved},
        ).scalar_one()
    assert row.sector_code == a and row.assigned_to == team
    assert len(events) == 1
    note = events[0].note
    assert f"#{change}" in note and "道路改线" in note and f"{b} → {a}" in note
    assert events[0].actor == ACTOR and events[0].from_status == events[0].to_status == row.status
    assert report["redispatched"] >= 1
    assert closed_moved is None or closed_events == 0


def test_a_failure_midway_leaves_no_half_applied_change(fresh_engine, monkeypatch):
    import geo.planning.commit as commit_module

    def broken(*args, **kwargs):
        raise RuntimeError("dispatch service down")

    monkeypatch.setattr(commit_module, "redispatch_moved", broken)
    with fresh_engine.connect() as conn:
        a, b = neighbours(conn)[0]
        new_a, _ = grow(conn, a, b, 60)
        before = conn.execute(
            text(
                "SELECT (SELECT count(*) FROM units), (SELECT md5(string_agg(sector_code, ',' "
                "ORDER BY id)) FROM incidents)"
            )
        ).one()
    with pytest.raises(RuntimeError), fresh_engine.begin() as conn:
        edits.put_sector(conn, a, new_a, "调整", ACTOR, [etag(conn, a)])
    with fresh_engine.connect() as conn:
        after = conn.execute(
            text(
                "SELECT (SELECT count(*) FROM units), (SELECT md5(string_agg(sector_code, ',' "
                "ORDER BY id)) FROM incidents)"
            )
        ).one()
        assert (
            conn.execute(
                text("SELECT count(*) FROM boundary_changes WHERE kind <> 'initial_load'")
            ).scalar_one()
            == 0
        )
    assert tuple(after) == tuple(before)
    assert metric(new_a).area > 0

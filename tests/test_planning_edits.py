"""Boundary edits on PostGIS: each kind, each rule that refuses one, stable codes."""

from __future__ import annotations

import numpy as np
import pytest
import shapely
from sqlalchemy import text

from geo.core.errors import InvalidInput, NotFound
from geo.core.settings import get_settings
from geo.planning import edits
from tests.planning_support import (
    courtyards,
    coverage_is_clean,
    etag,
    grow,
    metric,
    neighbours,
    sectors,
    strip,
    wgs84,
)

ACTOR = "planner:测试"


def first_pair(engine) -> tuple[str, str]:
    with engine.connect() as conn:
        return neighbours(conn)[0]


def area(geom) -> float:
    return metric(geom).area


def problems_of(excinfo) -> list[dict]:
    return excinfo.value.extra["problems"]


def test_moving_a_border_adjusts_the_neighbour_and_keeps_a_clean_coverage(fresh_engine):
    a, b = first_pair(fresh_engine)
    with fresh_engine.begin() as conn:
        before = sectors(conn)
        new_a, piece = grow(conn, a, b, 25)
        report = edits.put_sector(conn, a, new_a, "新建道路", ACTOR, [etag(conn, a)])
    with fresh_engine.connect() as conn:
        after = sectors(conn)
        assert coverage_is_clean(conn)
        versions = dict(
            conn.execute(
                text("SELECT code, max(version) FROM units WHERE code IN (:a, :b) GROUP BY code"),
                {"a": a, "b": b},
            ).all()
        )
    assert area(after[a]) - area(before[a]) == pytest.approx(area(piece), rel=1e-3)
    assert area(before[b]) - area(after[b]) == pytest.approx(area(piece), rel=1e-3)
    assert versions == {a: 2, b: 2}
    assert {u["code"]: u["action"] for u in report["units"] if u["level"] == "sector"}[
        b
    ] == "changed"


def test_abandoned_area_goes_to_the_neighbour_along_it(fresh_engine):
    a, b = first_pair(fresh_engine)
    with fresh_engine.begin() as conn:
        before = sectors(conn)
        piece = strip(conn, b, a, 25)  # the part of a along its border with b
        shrunk = shapely.difference(before[a], piece)
        edits.put_sector(conn, a, shrunk, "让出道路", ACTOR, [etag(conn, a)])
    with fresh_engine.connect() as conn:
        after = sectors(conn)
        assert coverage_is_clean(conn)
    assert area(after[b]) - area(before[b]) == pytest.approx(area(piece), rel=1e-3)


def test_refuse_mode_reports_the_exact_overlap_and_writes_nothing(fresh_engine):
    a, b = first_pair(fresh_engine)
    with fresh_engine.connect() as conn:
        new_a, piece = grow(conn, a, b, 25)
        rows_before = conn.execute(text("SELECT count(*) FROM units")).scalar_one()
    with pytest.raises(InvalidInput) as refused, fresh_engine.begin() as conn:
        edits.put_sector(conn, a, new_a, "试", ACTOR, [etag(conn, a)], mode="refuse")
    overlap = [p for p in problems_of(refused) if p["rule"] == "overlap"]
    assert len(overlap) == 1 and set(overlap[0]["units"]) == {a, b}
    assert overlap[0]["area_m2"] == pytest.approx(area(piece), rel=0.001)
    where = shapely.geometry.shape(overlap[0]["where"])
    assert area(shapely.symmetric_difference(where, piece)) < 1e-3 * area(piece)
    with fresh_engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM units")).scalar_one() == rows_before


def test_refuse_mode_reports_the_gap_left_by_an_abandoned_strip(fresh_engine):
    a, b = first_pair(fresh_engine)
    with fresh_engine.connect() as conn:
        piece = strip(conn, b, a, 25)
        shrunk = shapely.difference(sectors(conn)[a], piece)
    with pytest.raises(InvalidInput) as refused, fresh_engine.begin() as conn:
        edits.put_sector(conn, a, shrunk, "试", ACTOR, [etag(conn, a)], mode="refuse")
    gaps = [p for p in problems_of(refused) if p["rule"] == "gap"]
    assert len(gaps) == 1 and gaps[0]["area_m2"] == pytest.approx(area(piece), rel=0.001)
    assert b in gaps[0]["units"]


def test_an_invalid_polygon_is_refused_with_its_reason_and_location(fresh_engine):
    a, _ = first_pair(fresh_engine)
    with fresh_engine.connect() as conn:
        x0, y0, x1, y1 = sectors(conn)[a].bounds
    bowtie = shapely.Polygon([(x0, y0), (x1, y1), (x1, y0), (x0, y1), (x0, y0)])
    with pytest.raises(InvalidInput) as refused, fresh_engine.begin() as conn:
        edits.put_sector(conn, a, bowtie, "试", ACTOR, [etag(conn, a)])
    problem = problems_of(refused)[0]
    assert problem["rule"] == "invalid_polygon" and "Self-intersection" in problem["detail"]
    assert problem["where"]["type"] == "Point"


def test_a_polygon_with_too_many_vertices_is_refused(fresh_engine, monkeypatch):
    a, _ = first_pair(fresh_engine)
    monkeypatch.setenv("GRIDMAP_MAX_POLYGON_VERTICES", "10")
    get_settings.cache_clear()
    with pytest.raises(InvalidInput) as refused, fresh_engine.begin() as conn:
        edits.put_sector(conn, a, sectors(conn)[a], "试", ACTOR, [etag(conn, a)])
    get_settings.cache_clear()
    assert problems_of(refused)[0]["rule"] == "too_many_vertices"


def test_a_change_without_a_reason_is_refused(fresh_engine):
    a, b = first_pair(fresh_engine)
    with pytest.raises(InvalidInput, match="reason"), fresh_engine.begin() as conn:
        new_a, _ = grow(conn, a, b, 25)
        edits.put_sector(conn, a, new_a, "  ", ACTOR, [etag(conn, a)])


def _split_line(conn, code: str, avoid: bool = True, offset_m: float | None = None):
    """A north-south line across sector `code` (metres east of its west edge), avoiding
    (or, with avoid=False, through) a courtyard."""
    sector = metric(sectors(conn)[code])
    yards = [metric(g) for g in courtyards(conn).values() if metric(g).within(sector)]
    minx, miny, maxx, maxy = sector.bounds
    xs = [minx + offset_m] if offset_m is not None else np.linspace(minx + 200, maxx - 200, 60)
    for x in xs:
        line = shapely.LineString([(x, miny - 50), (x, maxy + 50)])
        pieces = shapely.get_parts(shapely.ops.split(sector, line))
        crosses = any(line.intersects(y) for y in yards)
        if len(pieces) == 2 and crosses != avoid:
            return wgs84(line), [wgs84(p) for p in pieces]
    raise AssertionError("no suitable line")


def busy_sector(conn) -> str:
    return conn.execute(
        text(
            "SELECT sector_code FROM courtyards WHERE valid_to IS NULL GROUP BY 1 "
            "ORDER BY count(*) DESC, 1 LIMIT 1"
        )
    ).scalar_one()


def test_splitting_keeps_the_code_for_the_larger_part_and_numbers_the_new_one(fresh_engine):
    import shapely.ops  # noqa: F401  (split)

    with fresh_engine.begin() as conn:
        code = busy_sector(conn)
        line, pieces = _split_line(conn, code)
        larger, smaller = sorted(pieces, key=area, reverse=True)
        grid = code[:-2]
        used = conn.execute(
            text("SELECT max(seq) FROM units WHERE parent_code = :g"), {"g": grid}
        ).scalar_one()
        expected = {
            "households": conn.execute(
                text(
                    "SELECT count(*) FROM households WHERE sector_code = :c "
                    "AND ST_Covers(ST_GeomFromText(:g, 4326), geom)"
                ),
                {"c": code, "g": smaller.wkt},
            ).scalar_one()
        }
        report = edits.split(conn, code, line, "新建小区", ACTOR, [etag(conn, code)])
    new_code = f"{grid}{used + 1:02d}"
    with fresh_engine.connect() as conn:
        now = sectors(conn)
        assert coverage_is_clean(conn)
        moved = conn.execute(
            text("SELECT count(*) FROM households WHERE sector_code = :c"), {"c": new_code}
        ).scalar_one()
        name = conn.execute(
            text("SELECT name_zh FROM units WHERE code = :c"), {"c": new_code}
        ).scalar_one()
    assert area(shapely.symmetric_difference(now[code], larger)) < 1e-4 * area(larger)
    assert area(shapely.symmetric_difference(now[new_code], smaller)) < 1e-4 * area(smaller)
    assert moved == expected["households"]
    assert name.endswith(f"-{used + 1}片区")
    created = [u for u in report["units"] if u["action"] == "created"]
    assert [u["code"] for u in created] == [new_code]


def test_a_split_line_through_a_courtyard_is_refused_naming_it(fresh_engine):
    import shapely.ops  # noqa: F401

    with pytest.raises(InvalidInput) as refused, fresh_engine.begin() as conn:
        code = busy_sector(conn)
        line, _ = _split_line(conn, code, avoid=False)
        edits.split(conn, code, line, "试", ACTOR, [etag(conn, code)])
    split = [p for p in problems_of(refused) if p["rule"] == "courtyard_split"]
    assert split and split[0]["units"][0].startswith("620902003Y")
    assert split[0]["where"]["type"] in ("Polygon", "MultiPolygon")


def test_a_split_leaving_a_part_below_the_size_bound_is_refused(fresh_engine):
    import shapely.ops  # noqa: F401

    with pytest.raises(InvalidInput) as refused, fresh_engine.begin() as conn:
        code = busy_sector(conn)
        line, _ = _split_line(conn, code, offset_m=20)
        edits.split(conn, code, line, "试", ACTOR, [etag(conn, code)])
    assert "size" in [p["rule"] for p in problems_of(refused)]


def test_a_line_that_does_not_cross_the_sector_is_refused(fresh_engine):
    a, _ = first_pair(fresh_engine)
    with pytest.raises(InvalidInput) as refused, fresh_engine.begin() as conn:
        x0, y0, _, _ = sectors(conn)[a].bounds
        line = shapely.LineString([(x0 - 0.01, y0 - 0.01), (x0 - 0.02, y0 - 0.02)])
        edits.split(conn, a, line, "试", ACTOR, [etag(conn, a)])
    assert problems_of(refused)[0]["rule"] == "split_line"


def test_merging_retires_one_sector_and_its_workers_points_and_tokens_follow(fresh_engine):
    survivor, retired = "6209020030010102", "6209020030010101"  # W001 serves 0101
    with fresh_engine.begin() as conn:
        union = shapely.union(sectors(conn)[survivor], sectors(conn)[retired])
        points = conn.execute(
            text("SELECT count(*) FROM incidents WHERE sector_code IN (:a, :b)"),
            {"a": survivor, "b": retired},
        ).scalar_one()
        edits.merge(
            conn, survivor, retired, "合并", ACTOR, [etag(conn, survivor), etag(conn, retired)]
        )
    with fresh_engine.connect() as conn:
        assert area(shapely.symmetric_difference(sectors(conn)[survivor], union)) < 1.0
        assert retired not in sectors(conn)
        row = conn.execute(
            text("SELECT successor_code FROM units WHERE code = :c AND valid_to IS NOT NULL"),
            {"c": retired},
        ).one()
        assert row.successor_code == survivor
        assert (
            conn.execute(text("SELECT serves_code FROM resources WHERE id = 'W001'")).scalar_one()
            == survivor
        )
        scopes = conn.execute(
            text("SELECT scope_codes FROM api_tokens WHERE worker_id = 'W001'")
        ).scalar_one()
        assert scopes == [survivor]
        assert (
            conn.execute(
                text("SELECT count(*) FROM incidents WHERE sector_code = :a"), {"a": survivor}
            ).scalar_one()
            == points
        )
        assert coverage_is_clean(conn)


def test_merging_sectors_that_do_not_touch_is_refused(fresh_engine):
    with pytest.raises(InvalidInput) as refused, fresh_engine.begin() as conn:
        a, b = "6209020030010101", "6209020030030401"
        edits.merge(conn, a, b, "试", ACTOR, [etag(conn, a), etag(conn, b)])
    assert problems_of(refused)[0]["rule"] == "contiguity"
    assert problems_of(refused)[0]["where"]["type"] == "LineString"


def test_reassigning_gives_the_next_free_code_under_the_new_grid(fresh_engine):
    code, target = "6209020030010101", "62090200300102"
    with fresh_engine.begin() as conn:
        geom = sectors(conn)[code]
        used = conn.execute(
            text("SELECT max(seq) FROM units WHERE parent_code = :g"), {"g": target}
        ).scalar_one()
        count = conn.execute(
            text("SELECT count(*) FROM incidents WHERE sector_code = :c"), {"c": code}
        ).scalar_one()
        report = edits.reassign(conn, code, target, "调整网格", ACTOR, [etag(conn, code)])
    new_code = f"{target}{used + 1:02d}"
    with fresh_engine.connect() as conn:
        assert area(shapely.symmetric_difference(sectors(conn)[new_code], geom)) < 1e-6
        assert (
            conn.execute(
                text("SELECT count(*) FROM incidents WHERE sector_code = :c AND grid2_code = :g"),
                {"c": new_code, "g": target},
            ).scalar_one()
            == count
        )
        assert (
            conn.execute(
                text("SELECT successor_code FROM units WHERE code = :c AND valid_to IS NOT NULL"),
                {"c": code},
            ).scalar_one()
            == new_code
        )
        assert coverage_is_clean(conn)
    assert report["moves"]["incidents"]["flows"] == [{"from": code, "to": new_code, "count": count}]


def test_reassigning_into_another_community_is_refused_as_not_nested(fresh_engine):
    with pytest.raises(InvalidInput) as refused, fresh_engine.begin() as conn:
        code = "6209020030010102"
        edits.reassign(conn, code, "62090200300301", "试", ACTOR, [etag(conn, code)])
    assert "nesting" in [p["rule"] for p in problems_of(refused)]


def test_reassigning_that_breaks_a_grid_in_two_is_refused_as_not_contiguous(fresh_engine):
    with pytest.raises(InvalidInput) as refused, fresh_engine.begin() as conn:
        code = "6209020030010102"
        edits.reassign(conn, code, "62090200300104", "试", ACTOR, [etag(conn, code)])
    contiguity = [p for p in problems_of(refused) if p["rule"] == "contiguity"]
    assert contiguity and contiguity[0]["units"] == ["62090200300104"]


def test_reassigning_the_only_sector_of_a_grid_is_refused(fresh_engine):
    with pytest.raises(InvalidInput) as refused, fresh_engine.begin() as conn:
        code = "6209020030010401"
        edits.reassign(conn, code, "62090200300103", "试", ACTOR, [etag(conn, code)])
    assert [p["rule"] for p in problems_of(refused)] == ["empty_grid"]


def test_codes_are_never_reused(fresh_engine):
    import shapely.ops  # noqa: F401

    with fresh_engine.begin() as conn:
        code = busy_sector(conn)
        line, _ = _split_line(conn, code)
        first = edits.split(conn, code, line, "拆", ACTOR, [etag(conn, code)])
    new = next(u["code"] for u in first["units"] if u["action"] == "created")
    with fresh_engine.begin() as conn:
        edits.merge(conn, code, new, "并", ACTOR, [etag(conn, code), etag(conn, new)])
    with fresh_engine.begin() as conn:
        line, _ = _split_line(conn, code)
        second = edits.split(conn, code, line, "再拆", ACTOR, [etag(conn, code)])
    again = next(u["code"] for u in second["units"] if u["action"] == "created")
    assert int(again[-2:]) == int(new[-2:]) + 1


def test_editing_a_retired_sector_says_where_its_area_went(fresh_engine):
    survivor, retired = "6209020030010102", "6209020030010101"
    with fresh_engine.begin() as conn:
        edits.merge(
            conn, survivor, retired, "并", ACTOR, [etag(conn, survivor), etag(conn, retired)]
        )
    with pytest.raises(NotFound, match=survivor), fresh_engine.begin() as conn:
        edits.put_sector(conn, retired, None, "试", ACTOR, [etag(conn, retired)])

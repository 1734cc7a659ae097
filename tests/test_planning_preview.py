"""Preview: a dry run writes nothing and reports exactly what applying does; its numbers
match counts made here from the raw rows; the preview map loads nothing from outside."""

from __future__ import annotations

import re

import shapely
from sqlalchemy import text

from geo.grid.attach import POINT_TABLES
from geo.planning import edits
from tests.conftest import auth
from tests.planning_support import (
    courtyards,
    etag,
    geojson,
    grow,
    metric,
    neighbours,
    sectors,
    strip,
    wgs84,
)

ACTOR = "planner:测试"
COUNTS = "SELECT count(*), max(id) FROM units UNION ALL SELECT count(*), 0 FROM incident_events"
CODES = "SELECT md5(string_agg(sector_code, ',' ORDER BY id)) FROM incidents"


def courtyard_pair(conn) -> tuple[str, str, float]:
    """Two neighbouring sectors and a strip width of b that takes a whole courtyard (and
    its households) into a."""
    geoms, yards = sectors(conn), courtyards(conn)
    for x, y in neighbours(conn):
        for a, b in ((x, y), (y, x)):
            border = metric(geoms[a]).boundary.intersection(metric(geoms[b]).boundary)
            for yard in sorted(
                (metric(g) for g in yards.values() if g.within(geoms[b])), key=border.distance
            ):
                corners = shapely.points(shapely.get_coordinates(yard))
                width = float(shapely.distance(border, corners).max()) + 20
                piece = strip(conn, a, b, width)
                if piece.contains(wgs84(yard.buffer(-1))) and width < 300:
                    return a, b, width
    raise AssertionError("no sector pair with a courtyard near its border")


def raw_flows(conn, table: str, a: str, new_a) -> dict[tuple[str, str], int]:
    """Points of `table` that a's new geometry takes from other sectors, counted here."""
    rows = conn.execute(
        text(
            f"SELECT sector_code, count(*) FROM {table} WHERE sector_code <> :a "
            "AND ST_Covers(ST_GeomFromText(:g, 4326), geom) GROUP BY 1"
        ),
        {"a": a, "g": new_a.wkt},
    ).all()
    return {(code, a): n for code, n in rows}


def test_dry_run_writes_nothing_and_reports_what_applying_does(fresh_engine):
    with fresh_engine.connect() as conn:
        a, b, width = courtyard_pair(conn)
        new_a, _ = grow(conn, a, b, width)
        state = conn.execute(text(COUNTS)).all()
        codes = conn.execute(
            text("SELECT md5(string_agg(sector_code, ',' ORDER BY id)) FROM incidents")
        ).scalar_one()
    with fresh_engine.begin() as conn:
        preview = edits.put_sector(conn, a, new_a, "预览", ACTOR, [etag(conn, a)], dry_run=True)
    with fresh_engine.connect() as conn:
        assert conn.execute(text(COUNTS)).all() == state
        assert (
            conn.execute(
                text("SELECT md5(string_agg(sector_code, ',' ORDER BY id)) FROM incidents")
            ).scalar_one()
            == codes
        )
        assert (
            conn.execute(
                text("SELECT count(*) FROM boundary_changes WHERE kind <> 'initial_load'")
            ).scalar_one()
            == 0
        )
    with fresh_engine.begin() as conn:
        applied = edits.put_sector(conn, a, new_a, "预览", ACTOR, [etag(conn, a)])
    assert preview["dry_run"] and preview["change"] is None and applied["change"]["id"]
    for key in ("units", "moves", "load", "redispatched"):
        assert preview[key] == applied[key], key


def test_preview_moves_match_an_independent_count_from_raw_rows(fresh_client, fresh_engine):
    with fresh_engine.connect() as conn:
        a, b, width = courtyard_pair(conn)
        new_a, _ = grow(conn, a, b, width)
        expected = {t: raw_flows(conn, t, a, new_a) for t in POINT_TABLES}
        yards = conn.execute(
            text(
                "SELECT code, sector_code FROM courtyards WHERE valid_to IS NULL AND sector_code "
                "<> :a AND ST_Covers(ST_GeomFromText(:g, 4326), ST_PointOnSurface(geom))"
            ),
            {"a": a, "g": new_a.wkt},
        ).all()
        tag = etag(conn, a)
    response = fresh_client.put(
        f"/api/boundaries/sectors/{a}",
        params={"dry_run": "true"},
        json={"geometry": geojson(new_a), "reason": "预览"},
        headers={**auth("planner"), "If-Match": tag},
    )
    assert response.status_code == 200, response.text
    report = response.json()
    assert expected["households"], "the strip should take households"
    for table in POINT_TABLES:
        got = {(f["from"], f["to"]): f["count"] for f in report["moves"][table]["flows"]}
        assert got == expected[table], table
    assert {(f["code"], f["from"], f["to"]) for f in report["moves"]["courtyards"]["flows"]} == {
        (code, sector, a) for code, sector in yards
    }


def test_preview_households_per_worker_match_raw_counts(fresh_engine):
    with fresh_engine.connect() as conn:
        a, b, width = courtyard_pair(conn)
        new_a, _ = grow(conn, a, b, width)
        counts = dict(
            conn.execute(text("SELECT sector_code, count(*) FROM households GROUP BY 1")).all()
        )
        taken = raw_flows(conn, "households", a, new_a)
        workers = dict(
            conn.execute(
                text(
                    "SELECT serves_code, count(*) FROM resources WHERE kind = 'grid_worker' "
                    "GROUP BY 1"
                )
            ).all()
        )
    with fresh_engine.begin() as conn:
        report = edits.put_sector(conn, a, new_a, "预览", ACTOR, [etag(conn, a)], dry_run=True)
    rows = {r["code"]: r for r in report["load"]["sectors"]}
    gained = sum(taken.values())
    assert rows[a]["households_after"] == counts.get(a, 0) + gained
    assert rows[b]["households_after"] == counts.get(b, 0) - taken.get((b, a), 0)
    assert rows[a]["households_before"] == counts.get(a, 0)
    if workers.get(a):
        assert rows[a]["households_per_worker_after"] == round(
            (counts.get(a, 0) + gained) / workers[a], 1
        )
    assert report["load"]["target"] == 300


def test_the_preview_map_draws_old_and_new_borders_and_loads_nothing_external(
    fresh_client, fresh_engine
):
    with fresh_engine.connect() as conn:
        a, b = neighbours(conn)[0]
        new_a, _ = grow(conn, a, b, 25)
        tag = etag(conn, a)
    page = fresh_client.put(
        f"/api/boundaries/sectors/{a}",
        params={"dry_run": "true", "format": "html"},
        json={"geometry": geojson(new_a), "reason": "预览"},
        headers={**auth("planner"), "If-Match": tag},
    )
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    html = page.text
    assert html.count("<path") >= 4  # old and new of both sectors
    assert not re.search(r"(src|href)\s*=\s*[\"']?(https?:)?//", html)
    assert "<script" not in html and "@import" not in html and "url(" not in html


def test_a_committed_change_has_a_map_page_of_its_old_and_new_borders(fresh_client, fresh_engine):
    with fresh_engine.begin() as conn:
        a, b = neighbours(conn)[0]
        new_a, _ = grow(conn, a, b, 25)
        change = edits.put_sector(conn, a, new_a, "调整", ACTOR, [etag(conn, a)])["change"]["id"]
    page = fresh_client.get(f"/maps/boundaries/changes/{change}", headers=auth("official"))
    assert page.status_code == 200 and "调整" in page.text and "https://" not in page.text
    api = fresh_client.get(f"/api/boundaries/changes/{change}", headers=auth("official")).json()
    assert {f["id"] for f in api["after"]["features"]} >= {a, b}
    assert {f["id"] for f in api["before"]["features"]} >= {a, b}


def test_the_preview_map_names_the_streets_under_the_borders(fresh_client, fresh_engine):
    import json
    from pathlib import Path

    from shapely.geometry import shape

    with fresh_engine.connect() as conn:
        a, b = neighbours(conn)[0]
        new_a, _ = grow(conn, a, b, 25)
        tag = etag(conn, a)

    def preview(fmt: str):
        return fresh_client.put(
            f"/api/boundaries/sectors/{a}",
            params={"dry_run": "true", "format": fmt},
            json={"geometry": geojson(new_a), "reason": "预览"},
            headers={**auth("planner"), "If-Match": tag},
        )

    report = preview("json").json()
    drawn = [
        shape(f["geometry"])
        for side in ("before", "after")
        for f in report["map"][side]["features"]
    ]
    view = shapely.box(*shapely.union_all(drawn).bounds)
    streets = json.loads(
        (Path(__file__).resolve().parents[1] / "data/boundaries/streets.geojson").read_text()
    )
    expected = {
        f["properties"]["name_zh"]
        for f in streets["features"]
        if shape(f["geometry"]).intersection(view).length > 0
    }
    page = preview("html").text
    named = set(re.findall(r'<text class="street"[^>]*>([^<]+)</text>', page))
    assert expected and named == expected

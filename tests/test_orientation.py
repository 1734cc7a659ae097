"""The orientation layers: the district's streets and landmarks in PostGIS (seeded from
`data/boundaries/`, replaced from a file such as an OpenStreetMap GeoPackage by `gridmap
import streets|landmarks FILE`), served to the map pages, drawn on the generated ones."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import geopandas as gpd
import shapely
from shapely.geometry import LineString, Point, Polygon
from sqlalchemy import text

from tests.conftest import auth

GRIDMAP = str(Path(sys.executable).parent / "gridmap")
DATA = Path(__file__).resolve().parent.parent / "data" / "boundaries"


def committed(layer: str) -> list[dict]:
    return json.loads((DATA / f"{layer}.geojson").read_text(encoding="utf-8"))["features"]


def district_centre(conn) -> tuple[float, float]:
    return conn.execute(
        text(
            "SELECT ST_X(c), ST_Y(c) FROM (SELECT ST_PointOnSurface(geom) AS c FROM units "
            "WHERE level = 'district' AND valid_to IS NULL) s"
        )
    ).one()


def gridmap(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([GRIDMAP, *args], capture_output=True, text=True, timeout=120)


def test_the_seed_loads_every_committed_street_and_landmark(seeded_engine):
    with seeded_engine.connect() as conn:
        streets = dict(conn.execute(text("SELECT name_zh, arterial FROM streets")).all())
        landmarks = {r[0] for r in conn.execute(text("SELECT name_zh FROM landmarks"))}
    files = committed("streets")
    assert streets == {f["properties"]["name_zh"]: f["properties"]["arterial"] for f in files}
    assert landmarks == {f["properties"]["name_zh"] for f in committed("landmarks")}


def test_an_osm_geopackage_replaces_the_streets_merging_the_pieces_of_each_street(
    fresh_engine, tmp_path
):
    with fresh_engine.connect() as conn:
        x, y = district_centre(conn)
    d = 0.002
    osm = gpd.GeoDataFrame(
        {
            "name": ["测试大街", "测试大街", "幸福巷", None, "远方路"],
            "name:en": ["Test Avenue", "Test Avenue", None, None, "Far Road"],
            "highway": ["primary", "primary", "residential", "service", "primary"],
        },
        geometry=[
            LineString([(x - 2 * d, y), (x, y)]),
            LineString([(x, y), (x + 2 * d, y)]),
            LineString([(x, y - d), (x, y + d)]),
            LineString([(x + d, y - d), (x + d, y + d)]),
            LineString([(x + 1.0, y), (x + 1.1, y)]),  # some 85 km east: another town
        ],
        crs=4326,
    )
    path = tmp_path / "jiuquan-osm.gpkg"
    osm.to_file(path, layer="lines", driver="GPKG", engine="pyogrio")

    done = gridmap("import", "streets", str(path))
    assert done.returncode == 0, done.stderr
    assert "1 outside the district left out" in done.stdout
    with fresh_engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT name_zh, name_en, highway, arterial, ST_NumGeometries(geom), "
                "ST_Length(ST_Transform(geom, 4542)) FROM streets ORDER BY name_zh NULLS LAST"
            )
        ).all()
    by_name = {r[0]: r for r in rows}
    assert len(rows) == 3 and "远方路" not in by_name  # the old layer is gone, the far road too
    avenue = by_name["测试大街"]
    assert avenue[1:5] == ("Test Avenue", "primary", True, 2)  # one street of two pieces
    assert 600 < avenue[5] < 750  # 4 × 0.002° of longitude at 39.76° N ≈ 685 m
    assert by_name["幸福巷"][3] is False and by_name[None][2] == "service"


def test_landmarks_from_a_file_become_named_points_the_unnamed_left_out(fresh_engine, tmp_path):
    with fresh_engine.connect() as conn:
        x, y = district_centre(conn)
    square = Polygon([(x, y), (x + 0.001, y), (x + 0.001, y + 0.001), (x, y + 0.001)])
    places = gpd.GeoDataFrame(
        {"name": ["人民广场", "测试小学", None], "amenity": [None, "school", "bench"]},
        geometry=[square, Point(x - 0.001, y), Point(x, y - 0.001)],
        crs=4326,
    )
    path = tmp_path / "pois.gpkg"
    places.to_file(path, driver="GPKG", engine="pyogrio")
    done = gridmap("import", "landmarks", str(path))
    assert done.returncode == 0, done.stderr
    with fresh_engine.connect() as conn:
        rows = conn.execute(
            text("SELECT name_zh, kind, ST_AsText(geom) FROM landmarks ORDER BY name_zh")
        ).all()
    assert [r[0] for r in rows] == sorted(["人民广场", "测试小学"])
    plaza = next(r for r in rows if r[0] == "人民广场")
    assert shapely.from_wkt(plaza[2]).within(square)  # an area becomes a point inside it
    assert next(r for r in rows if r[0] == "测试小学")[1] == "school"


def test_a_file_of_points_is_refused_as_streets_and_nothing_changes(fresh_engine, tmp_path):
    with fresh_engine.connect() as conn:
        x, y = district_centre(conn)
        before = conn.execute(text("SELECT count(*) FROM streets")).scalar_one()
    path = tmp_path / "points.gpkg"
    gpd.GeoDataFrame({"name": ["甲"]}, geometry=[Point(x, y)], crs=4326).to_file(path)
    done = gridmap("import", "streets", str(path))
    assert done.returncode != 0 and "no line features" in done.stderr
    with fresh_engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM streets")).scalar_one() == before


def test_every_role_that_sees_maps_gets_the_streets_and_landmarks(client):
    answer = client.get("/api/orientation", headers=auth("patrol"))
    assert answer.status_code == 200
    body = answer.json()
    names = {f["properties"]["name_zh"] for f in body["streets"]["features"]}
    assert names == {f["properties"]["name_zh"] for f in committed("streets")}
    assert len(body["landmarks"]["features"]) == len(committed("landmarks"))
    assert body["streets"]["features"][0]["properties"]["arterial"] is True  # arterial first


def test_the_generated_map_pages_carry_the_street_names_and_their_script(client):
    street = committed("streets")[0]["properties"]["name_zh"]
    for path in ("/maps/incidents", "/maps/hotspots", "/maps/coverage"):
        page = client.get(path, headers=auth("admin"))
        assert page.status_code == 200, path
        inline = json.dumps(street)[1:-1]  # the data inline, JSON-escaped (\\uXXXX)
        assert street in page.text or inline in page.text, path
        assert '<script src="/static/web/streets.js">' in page.text, path
        assert "gmStreets.draw" in page.text, path

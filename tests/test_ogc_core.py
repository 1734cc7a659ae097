"""OGC API – Features Core in full (links, HEAD, 6-number bbox, 400s), Part 3 queryables and
the features' schema read by Debian's own GDAL (`ogrinfo`), counter-clockwise rings
everywhere polygons leave the service, and gzip for the big GeoJSON answers."""

from __future__ import annotations

import gzip
import json
import os
import re
import subprocess
from pathlib import Path

import pytest
import shapely
from shapely.geometry import shape

from geo.grid.district import BOUNDARY_DIR
from tests.conftest import TOKENS, auth

OGRINFO = "/usr/bin/ogrinfo"  # Debian's GDAL 3.6, not the one inside pyogrio's wheel
UNIT_COLLECTIONS = ("communities", "grids", "sectors", "courtyards", "coverage")


def exterior_rings(geometry: dict):
    """Every exterior ring of a GeoJSON (Multi)Polygon, as shapely LinearRings."""
    geom = shape(geometry)
    for polygon in getattr(geom, "geoms", [geom]):
        if polygon.geom_type == "Polygon":
            yield polygon.exterior


def assert_counter_clockwise(features: list[dict], where: str) -> int:
    rings = 0
    for feature in features:
        for ring in exterior_rings(feature["geometry"]):
            assert shapely.is_ccw(ring), f"{where}: {feature.get('id')} has a clockwise ring"
            rings += 1
    return rings


def links_of(body: dict) -> dict[str, dict]:
    return {link["rel"]: link for link in body["links"]}


def test_every_polygon_the_api_and_ogc_return_is_counter_clockwise(client):
    checked = 0
    for level in ("district", "community", "grid2", "sector", "courtyard"):
        body = client.get(f"/api/boundaries?level={level}", headers=auth("planner")).json()
        checked += assert_counter_clockwise(body["features"], f"/api/boundaries {level}")
    for name in UNIT_COLLECTIONS:
        body = client.get(f"/ogc/collections/{name}/items?limit=1000", headers=auth("admin")).json()
        checked += assert_counter_clockwise(body["features"], f"/ogc {name}")
    one = client.get("/ogc/collections/sectors/items?limit=1", headers=auth("admin")).json()
    code = one["features"][0]["id"]
    single = client.get(f"/ogc/collections/sectors/items/{code}", headers=auth("admin")).json()
    checked += assert_counter_clockwise([single], "/ogc one sector")
    assert checked > 22 + 60  # every sector and courtyard at least


def test_committed_boundary_files_have_counter_clockwise_rings():
    for path in sorted(Path(BOUNDARY_DIR).glob("*.geojson")):
        features = json.loads(path.read_text())["features"]
        assert_counter_clockwise(features, path.name)


def test_a_single_feature_links_itself_and_its_collection(client):
    page = client.get("/ogc/collections/sectors/items?limit=1", headers=auth("admin")).json()
    code = page["features"][0]["id"]
    body = client.get(f"/ogc/collections/sectors/items/{code}", headers=auth("admin")).json()
    rels = links_of(body)
    assert rels["self"]["href"].endswith(f"/ogc/collections/sectors/items/{code}")
    assert rels["self"]["type"] == "application/geo+json"
    assert rels["collection"]["href"].endswith("/ogc/collections/sectors")
    assert rels["alternate"]["type"] == "text/html"


def test_collections_link_their_html_queryables_and_schema(client):
    body = client.get("/ogc/collections/sectors", headers=auth("admin")).json()
    rels = links_of(body)
    assert rels["alternate"]["type"] == "text/html" and "f=html" in rels["alternate"]["href"]
    assert rels["describedby"]["href"].endswith("/ogc/collections/sectors/schema")
    queryables = rels["http://www.opengis.net/def/rel/ogc/1.0/queryables"]
    assert queryables["href"].endswith("/ogc/collections/sectors/queryables")
    listing = client.get("/ogc/collections", headers=auth("admin")).json()
    for c in listing["collections"]:
        assert "alternate" in links_of(c), c["id"]


def test_queryables_and_schema_type_every_property(client):
    queryables = client.get("/ogc/collections/sectors/queryables", headers=auth("admin"))
    assert queryables.status_code == 200
    assert queryables.headers["content-type"] == "application/schema+json"
    q = queryables.json()
    assert q["type"] == "object" and q["$schema"].startswith("https://json-schema.org/")
    assert set(q["properties"]) >= {"code", "parent_code", "name_zh", "geometry"}
    schema = client.get("/ogc/collections/sectors/schema", headers=auth("admin")).json()
    props = schema["properties"]["properties"]["properties"]
    assert props["version"]["type"] == props["seq"]["type"] == "integer"
    assert props["valid_to"] == {"title": "valid_to", "type": "string", "format": "date-time"}
    assert props["code"]["type"] == "string"
    incidents = client.get("/ogc/collections/incidents/schema", headers=auth("admin")).json()
    assert incidents["properties"]["properties"]["properties"]["observed_at"]["format"] == (
        "date-time"
    )
    coverage = client.get("/ogc/collections/coverage/schema", headers=auth("admin")).json()
    assert coverage["properties"]["properties"]["properties"]["code"]["type"] == "string"
    missing = client.get("/ogc/collections/nothing/queryables", headers=auth("admin"))
    assert missing.status_code == 404


def test_head_is_answered_like_get_without_a_body(client):
    for path in (
        "/ogc",
        "/ogc/conformance",
        "/ogc/collections",
        "/ogc/collections/sectors",
        "/ogc/collections/sectors/items",
        "/ogc/collections/sectors/queryables",
    ):
        response = client.head(path, headers=auth("admin"))
        assert response.status_code == 200, path
        assert response.content == b"", path
        assert "json" in response.headers["content-type"], path


def test_a_six_number_bbox_is_accepted_and_heights_ignored(client):
    four = client.get(
        "/ogc/collections/businesses/items?bbox=98.40,39.70,98.60,39.80&limit=1",
        headers=auth("admin"),
    ).json()
    six = client.get(
        "/ogc/collections/businesses/items?bbox=98.40,39.70,-100,98.60,39.80,3000&limit=1",
        headers=auth("admin"),
    )
    assert six.status_code == 200
    assert six.json()["numberMatched"] == four["numberMatched"] > 0
    five = client.get("/ogc/collections/businesses/items?bbox=1,2,3,4,5", headers=auth("admin"))
    assert five.status_code == 400


def test_bad_parameters_on_ogc_are_400_problems_with_the_request_id(client):
    for query in ("f=xml", "limit=-1", "bbox=a,b,c,d"):
        response = client.get(
            f"/ogc/collections/sectors/items?{query}",
            headers={**auth("admin"), "X-Request-ID": "ogc-bad-1"},
        )
        assert response.status_code == 400, query
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["request_id"] == "ogc-bad-1"
    # the rest of the API keeps 422 for a malformed request
    api = client.get("/api/boundaries/changes?limit=0", headers=auth("admin"))
    assert api.status_code == 422


def test_next_link_asks_for_big_pages_so_old_gdal_is_fast(client):
    body = client.get("/ogc/collections/incidents/items?limit=10", headers=auth("admin")).json()
    assert body["numberReturned"] == 10
    assert "limit=1000" in links_of(body)["next"]["href"]


def test_boundaries_are_gzip_encoded_for_a_client_that_asks(client):
    asked = client.get(
        "/api/boundaries?level=sector",
        headers={**auth("planner"), "Accept-Encoding": "gzip"},
    )
    assert asked.headers["content-encoding"] == "gzip"
    assert asked.json()["type"] == "FeatureCollection"  # httpx decoded it
    plain = client.get(
        "/api/boundaries?level=sector", headers={**auth("planner"), "Accept-Encoding": "identity"}
    )
    assert "content-encoding" not in plain.headers
    assert len(gzip.compress(plain.content)) < len(plain.content) / 3
    items = client.get(
        "/ogc/collections/incidents/items?limit=500",
        headers={**auth("admin"), "Accept-Encoding": "gzip"},
    )
    assert items.headers["content-encoding"] == "gzip"


def ogrinfo_fields(live_url: str, layer: str) -> dict[str, str]:
    """`ogrinfo -so` of a layer through Debian's GDAL: field name → OGR type."""
    env = {
        **os.environ,
        "GDAL_HTTP_HEADERS": f"Authorization: Bearer {TOKENS['admin']}",
        "CPL_DEBUG": "OFF",
    }
    done = subprocess.run(
        [OGRINFO, "-ro", "-so", "-oo", "PAGE_SIZE=1000", f"OAPIF:{live_url}/ogc", layer],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return dict(re.findall(r"^(\w+): (\w+) \(", done.stdout, flags=re.M))


def test_debian_ogrinfo_reads_sectors_with_typed_fields(live_url):
    if not Path(OGRINFO).exists():
        pytest.fail("the test needs Debian's gdal-bin (apt-get install gdal-bin)")
    fields = ogrinfo_fields(live_url, "sectors")
    assert fields["version"] == fields["seq"] == "Integer"
    assert fields["valid_from"] == fields["valid_to"] == "DateTime"
    assert fields["code"] == fields["name_zh"] == "String"

"""OGC API – Features: conformance, collections and items, read by real clients (GDAL's
OAPIF driver through pyogrio, and OWSLib) and compared with the database."""

from __future__ import annotations

import pandas as pd
import pyogrio
import pytest
from owslib.ogcapi.features import Features
from sqlalchemy import text

from tests.conftest import TOKENS, auth

CONFORMANCE = {
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/html",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/queryables",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/queryables-query-parameters",
}
#: the published collections and the database rows each must match (admin's view)
COUNTS = {
    "communities": "SELECT count(*) FROM units WHERE level = 'community' AND valid_to IS NULL",
    "grids": "SELECT count(*) FROM units WHERE level = 'grid2' AND valid_to IS NULL",
    "sectors": "SELECT count(*) FROM units WHERE level = 'sector' AND valid_to IS NULL",
    "courtyards": "SELECT count(*) FROM courtyards WHERE valid_to IS NULL",
    "businesses": "SELECT count(*) FROM businesses",
    "resources": "SELECT count(*) FROM resources WHERE geom IS NOT NULL",
    "incidents": "SELECT count(*) FROM incidents",
    "coverage": "SELECT count(*) FROM units WHERE level <> 'district' AND valid_to IS NULL",
}


def db(engine, sql: str, **params):
    with engine.connect() as conn:
        return conn.execute(text(sql), params).scalar_one()


def gdal_read(live_url: str, layer: str, role: str = "admin", **kwargs) -> pd.DataFrame:
    pyogrio.set_gdal_config_options({"GDAL_HTTP_AUTH": "BEARER", "GDAL_HTTP_BEARER": TOKENS[role]})
    try:
        return pyogrio.read_dataframe(f"OAPIF:{live_url}/ogc", layer=layer, **kwargs)
    finally:
        pyogrio.set_gdal_config_options({"GDAL_HTTP_AUTH": None, "GDAL_HTTP_BEARER": None})


def owslib(live_url: str, role: str = "admin") -> Features:
    return Features(f"{live_url}/ogc", headers=auth(role))


def test_landing_page_links_the_api_definition_conformance_and_data(client):
    body = client.get("/ogc", headers=auth("official")).json()
    rels = {link["rel"]: link for link in body["links"]}
    assert {"self", "service-desc", "conformance", "data"} <= set(rels)
    assert rels["service-desc"]["type"] == "application/vnd.oai.openapi+json;version=3.0"
    api = client.get("/ogc/api", headers=auth("official"))
    assert api.headers["content-type"].startswith("application/vnd.oai.openapi+json")
    document = api.json()
    assert document["openapi"].startswith("3.0")
    assert "/collections/incidents/items" in document["paths"]


def test_conformance_declares_core_geojson_html_and_openapi30(live_url):
    assert set(owslib(live_url).conformance()["conformsTo"]) == CONFORMANCE


def test_gdal_reads_every_collection_with_the_database_counts(live_url, seeded_engine):
    for collection, sql in COUNTS.items():
        frame = gdal_read(live_url, collection)
        assert len(frame) == db(seeded_engine, sql), collection


def test_gdal_attributes_match_the_database(live_url, seeded_engine):
    sectors = gdal_read(live_url, "sectors").set_index("code")
    with seeded_engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT code, name_zh, parent_code FROM units "
                "WHERE level = 'sector' AND valid_to IS NULL"
            )
        ).all()
    for code, name, parent in rows:
        assert sectors.loc[code, "name_zh"] == name and sectors.loc[code, "parent_code"] == parent
    shops = gdal_read(live_url, "businesses", where="kind = 'shop'")
    assert len(shops) == db(seeded_engine, "SELECT count(*) FROM businesses WHERE kind = 'shop'")


def test_owslib_pages_through_items_with_matched_counts_and_links(live_url, seeded_engine):
    features = owslib(live_url)
    page = features.collection_items("businesses", limit=500, offset=1000)
    assert page["numberMatched"] == db(seeded_engine, "SELECT count(*) FROM businesses")
    assert page["numberReturned"] == len(page["features"]) == 500
    links = {link["rel"]: link for link in page["links"]}
    assert links["next"]["type"] == links["prev"]["type"] == "application/geo+json"
    assert "offset=1500" in links["next"]["href"] and "offset=500" in links["prev"]["href"]
    ids = [f["id"] for f in page["features"]]
    assert ids == sorted(ids)


def test_bbox_and_property_filters_match_the_database(live_url, seeded_engine):
    bbox = (98.47, 39.75, 98.49, 39.77)
    page = owslib(live_url).collection_items(
        "incidents", bbox=list(bbox), category="sanitation", limit=1
    )
    expected = db(
        seeded_engine,
        "SELECT count(*) FROM incidents WHERE category = 'sanitation' "
        "AND ST_Intersects(geom, ST_MakeEnvelope(:a, :b, :c, :d, 4326))",
        a=bbox[0],
        b=bbox[1],
        c=bbox[2],
        d=bbox[3],
    )
    assert page["numberMatched"] == expected > 0


def test_datetime_intervals_filter_incidents_by_time_observed(client, seeded_engine):
    response = client.get(
        "/ogc/collections/incidents/items",
        params={"datetime": "2026-01-01T00:00:00Z/2026-02-01T00:00:00Z", "limit": 1},
        headers=auth("admin"),
    )
    expected = db(
        seeded_engine,
        "SELECT count(*) FROM incidents WHERE observed_at >= "
        "'2026-01-01T00:00:00Z' AND observed_at <= '2026-02-01T00:00:00Z'",
    )
    assert response.json()["numberMatched"] == expected > 0
    open_ended = client.get(
        "/ogc/collections/incidents/items",
        params={"datetime": "../2025-01-01T00:00:00Z", "limit": 1},
        headers=auth("admin"),
    ).json()
    assert open_ended["numberMatched"] == db(
        seeded_engine, "SELECT count(*) FROM incidents WHERE observed_at <= '2025-01-01T00:00:00Z'"
    )


def test_limit_is_capped_and_bad_queries_are_400(client):
    capped = client.get("/ogc/collections/incidents/items?limit=50000", headers=auth("admin"))
    assert capped.json()["numberReturned"] == len(capped.json()["features"]) == 10_000
    for query in ("limit=0", "limit=abc", "bbox=1,2,3", "colour=red", "datetime=yesterday"):
        response = client.get(f"/ogc/collections/businesses/items?{query}", headers=auth("admin"))
        assert response.status_code == 400, query
        assert response.headers["content-type"] == "application/problem+json"


def test_items_are_geojson_and_html_on_request(client):
    items = client.get("/ogc/collections/sectors/items", headers=auth("planner"))
    assert items.headers["content-type"] == "application/geo+json"
    body = items.json()
    assert body["type"] == "FeatureCollection" and body["features"][0]["geometry"]["type"]
    html = client.get("/ogc/collections/sectors/items?f=html", headers=auth("planner"))
    assert html.headers["content-type"].startswith("text/html") and "官北沟" in html.text
    one = client.get(
        f"/ogc/collections/sectors/items/{body['features'][0]['id']}", headers=auth("planner")
    )
    assert one.headers["content-type"] == "application/geo+json"
    assert one.json()["id"] == body["features"][0]["id"]


def test_residents_and_households_are_not_published(client):
    for name in ("households", "residents"):
        response = client.get(f"/ogc/collections/{name}/items", headers=auth("admin"))
        assert response.status_code == 404


def test_collections_follow_the_callers_role(live_url, client):
    official = {c["id"] for c in owslib(live_url, "official").collections()["collections"]}
    patrol = {c["id"] for c in owslib(live_url, "patrol").collections()["collections"]}
    assert "incidents" not in official and "coverage" in official
    assert "incidents" in patrol and "coverage" not in patrol
    denied = client.get("/ogc/collections/incidents/items", headers=auth("official"))
    assert denied.status_code == 404


def test_key_population_incidents_only_for_admins_and_their_grid_workers(client, seeded_engine):
    def count(role: str) -> int:
        response = client.get(
            "/ogc/collections/incidents/items",
            params={"category": "key_population", "limit": 1},
            headers=auth(role),
        )
        return response.json()["numberMatched"]

    total = db(seeded_engine, "SELECT count(*) FROM incidents WHERE category = 'key_population'")
    # the worker's cases: in their sector, or dispatched to a worker serving it
    own = db(
        seeded_engine,
        """SELECT count(*) FROM incidents i, resources w
           WHERE w.id = 'W001' AND i.category = 'key_population'
             AND (i.sector_code LIKE w.serves_code || '%' OR EXISTS (
                  SELECT 1 FROM resources r WHERE r.id = ANY(i.assigned_to)
                  AND r.serves_code LIKE w.serves_code || '%'))""",
    )
    assert count("admin") == total > own
    assert count("grid_worker") == own
    assert count("patrol") == 0


def test_people_are_masked_for_everyone_but_admins(client, seeded_engine):
    params = {"kind": "grid_worker", "limit": 5}
    masked = client.get("/ogc/collections/resources/items", params=params, headers=auth("planner"))
    plain = client.get("/ogc/collections/resources/items", params=params, headers=auth("admin"))
    withheld = client.get(
        "/ogc/collections/resources/items", params=params, headers=auth("official")
    )
    for m, p, w in zip(
        masked.json()["features"],
        plain.json()["features"],
        withheld.json()["features"],
        strict=True,
    ):
        name, shown = p["properties"]["name_zh"], m["properties"]["name_zh"]
        assert shown == name[0] + "*" * (len(name) - 1) != name
        assert m["properties"]["phone"][3:7] == "****"
        # officials get no personal data at all
        assert w["properties"]["name_zh"] is None and w["properties"]["phone"] is None
    companies = client.get(
        "/ogc/collections/resources/items",
        params={"kind": "property_company", "limit": 1},
        headers=auth("official"),
    ).json()
    assert "*" not in companies["features"][0]["properties"]["name_zh"]
    contact = client.get(
        "/ogc/collections/incidents/items", params={"limit": 200}, headers=auth("patrol")
    ).json()
    contacts = [f["properties"]["reporter_contact"] for f in contact["features"]]
    assert any(contacts) and all(c is None or "****" in c for c in contacts)


def test_sql_and_python_masks_agree(seeded_engine):
    from geo.access.privacy import mask_actor, mask_id_number, mask_name, mask_phone, sql_masked

    samples = ["张三", "欧阳娜娜", "13812341234", "620902199001011234", "", "123"]
    samples += ["grid_worker:郑娟桂", "system", "cli:", "patrol:王"]
    with seeded_engine.connect() as conn:
        for column, mask, kind in (
            ("name", mask_name, "residents"),
            ("phone", mask_phone, "residents"),
            ("id_number", mask_id_number, "residents"),
            ("actor", mask_actor, "events"),
        ):
            expr = sql_masked(kind, column)
            for value in samples:
                got = conn.execute(
                    text(f"SELECT {expr} FROM (SELECT CAST(:v AS text) AS {column}) t"),
                    {"v": value},
                ).scalar_one()
                assert got == mask(value), (column, value)


def test_coverage_collection_carries_the_coverage_rows(client):
    rows = client.get("/api/coverage?level=grid2", headers=auth("official")).json()["rows"]
    items = client.get(
        "/ogc/collections/coverage/items", params={"level": "grid2"}, headers=auth("official")
    ).json()
    assert items["numberMatched"] == len(rows)
    by_code = {f["id"]: f["properties"] for f in items["features"]}
    for row in rows:
        assert by_code[row["code"]]["households"] == row["households"]
        assert by_code[row["code"]]["grid_workers"] == row["grid_workers"]


@pytest.mark.parametrize("path", ["/ogc", "/ogc/collections", "/ogc/conformance"])
def test_ogc_needs_a_token(client, path):
    assert client.get(path, headers={"Accept": "application/json"}).status_code == 401

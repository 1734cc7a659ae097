"""The incident, weekly and hotspot map pages over HTTP: offline assets, filters, bad input,
who sees what, the cache, GCJ-02 basemaps, and the hotspot GeoJSON."""

from __future__ import annotations

import ast
import json
import re
from datetime import timedelta

import geopandas as gpd
import numpy as np
import pytest
import shapely
from sqlalchemy import text

from geo.access.roles import Principal, Role
from geo.cases.selection import LOCAL, IncidentFilter
from geo.core.settings import get_settings
from geo.grid.district import BOUNDARY_DIR
from geo.maps.assets import FOLIUM_ASSETS, VENDOR_DIR, VENDOR_URL, manifest
from geo.maps.heat import incident_heat, pack
from geo.maps.incidents import build_incident_map
from tests.conftest import SEED_END, auth

PAGES = ["/maps/incidents", "/maps/incidents/weekly", "/maps/hotspots"]


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    """Each test caches its pages in its own folder."""
    monkeypatch.setenv("GRIDMAP_MAP_CACHE_DIR", str(tmp_path / "cache"))
    get_settings.cache_clear()
    yield tmp_path / "cache"
    get_settings.cache_clear()


def page(client, path, role="patrol", **params):
    return client.get(path, params=params, headers={**auth(role), "Accept-Encoding": "identity"})


def shown_total(html: str) -> int:
    """The incident count the page's heading states."""
    return int(re.search(r"([\d,]+) 件 incidents", html).group(1).replace(",", ""))


def count(engine, where: str = "TRUE", **params) -> int:
    with engine.connect() as conn:
        return conn.execute(
            text(f"SELECT count(*) FROM incidents i WHERE {where}"), params
        ).scalar()


@pytest.mark.parametrize("path", PAGES)
def test_every_map_page_loads_only_vendored_assets_from_this_server(client, path):
    response = page(client, path)
    assert response.status_code == 200
    html = response.text
    assert not re.search(r"https?://", html), "with GRIDMAP_TILES=none nothing is external"
    assets = re.findall(r'(?:src|href)="(/static/[^"]+)"', html)
    assert any("leaflet.js" in a for a in assets)
    for asset in assets:
        assert client.get(asset).status_code == 200, asset
    assert '<meta name="viewport"' in html


def test_every_asset_folium_is_pointed_at_is_vendored_with_its_licence():
    for url in FOLIUM_ASSETS.values():
        assert (VENDOR_DIR / url.removeprefix(VENDOR_URL + "/")).is_file(), url
    for package in manifest()["packages"]:
        folder = VENDOR_DIR / package["folder"]
        assert (folder / package["licence_file"]).is_file()
        assert package["version"] in package["folder"]
    for css in VENDOR_DIR.rglob("*.css"):
        assert not re.search(r"url\(\s*['\"]?(https?:)?//", css.read_text()), css


def test_the_heat_page_states_the_selected_incidents_and_leaves_out_key_population_cases(
    client, seeded_engine
):
    admin = page(client, "/maps/incidents", role="admin").text
    patrol = page(client, "/maps/incidents", role="patrol").text
    assert shown_total(admin) == count(seeded_engine)
    assert shown_total(patrol) == count(seeded_engine, "category <> 'key_population'")
    assert "sensitive cases are not shown" in patrol
    assert "sensitive cases" not in admin


def test_a_grid_worker_sees_key_population_cases_in_their_own_grid_only(fresh_client, fresh_engine):
    with fresh_engine.begin() as conn:
        own = conn.execute(text("SELECT serves_code FROM resources WHERE id = 'W001'")).scalar()
        conn.execute(
            text(
                "UPDATE incidents SET sector_code = :own WHERE id IN (SELECT id FROM incidents "
                "WHERE category = 'key_population' ORDER BY id LIMIT 3)"
            ),
            {"own": own},
        )
    everywhere = count(fresh_engine, "category = 'key_population'")

    def shown(role):
        return shown_total(
            page(fresh_client, "/maps/incidents", role, category="key_population").text
        )

    assert shown("grid_worker") == count(
        fresh_engine, "category = 'key_population' AND sector_code = :s", s=own
    )
    assert 3 <= shown("grid_worker") < everywhere
    assert shown("patrol") == 0
    assert shown("admin") == everywhere


def test_filters_select_by_category_status_window_and_grid(client, seeded_engine):
    since = (SEED_END - timedelta(days=60)).astimezone(LOCAL).date().isoformat()
    params = {
        "category": "sanitation,dispute",
        "status": ["verified", "resolved"],
        "since": since,
        "grid": "620902003002",
    }
    html = page(client, "/maps/incidents", **params).text
    expected = count(
        seeded_engine,
        "category IN ('sanitation', 'dispute') AND status IN ('verified', 'resolved') "
        "AND observed_at >= CAST(:since AS timestamptz) AND sector_code LIKE '620902003002%'",
        since=f"{since}T00:00:00+08:00",
    )
    assert shown_total(html) == expected > 0
    # the controls on the page show the same choices
    assert 'value="sanitation" selected' in html
    assert f'name="since" value="{since}"' in html
    assert 'value="620902003002" selected' in html


def test_popups_carry_the_counts_of_each_unit_and_the_units_above_it(client, seeded_engine):
    html = page(client, "/maps/incidents", role="admin").text
    sector = "6209020030010101"
    expected = count(seeded_engine, "sector_code = :s", s=sector)
    popup = re.search(rf'"code": "{sector}", "label": "[^"]*", "popup": "([^"]*)"', html)
    assert popup, "the sector carries its popup"
    text_of_popup = json.loads(f'"{popup.group(1)}"')
    assert f"<b>{expected:,}</b>" in text_of_popup
    community = count(seeded_engine, "community_code = '620902003001'")
    assert f"<b>{community:,}</b>" in text_of_popup


def test_the_page_holds_packed_cells_not_points_and_weights_run_up_to_one(client, seeded_engine):
    response = page(client, "/maps/incidents", role="admin")
    packed = json.loads(re.search(r"gmUnpackHeat\((\{.*?\})\)", response.text).group(1))
    raw = np.frombuffer(
        __import__("base64").b64decode(packed["data"]),
        dtype=[("e", "<u2"), ("n", "<u2"), ("c", "<u4")],
    )
    assert raw["c"].sum() == count(seeded_engine)
    assert len(raw) < count(seeded_engine)
    assert raw["c"].max() == packed["max_count"]  # weights c / max_count lie in (0, 1]


def test_the_heat_never_holds_more_cells_than_its_budget(seeded_engine):
    with seeded_engine.connect() as conn:
        fine = incident_heat(conn, "TRUE", {})
        capped = incident_heat(conn, "TRUE", {}, max_cells=400)
    assert len(capped.count) <= 400 < len(fine.count)
    assert capped.total == fine.total
    assert capped.cell_m > fine.cell_m
    # centres of mass are kept: the mean position of all incidents does not move
    assert np.average(capped.lon, weights=capped.count) == pytest.approx(
        np.average(fine.lon, weights=fine.count), abs=1e-9
    )


def test_a_large_selection_starts_on_the_lattice_it_would_be_merged_to(seeded_engine, monkeypatch):
    import geo.maps.heat as heat

    with seeded_engine.connect() as conn:
        fine = heat.incident_heat(conn, "TRUE", {})
        monkeypatch.setattr(heat, "INCIDENTS_PER_BUDGET", count(seeded_engine) // 5)
        estimate = heat._estimated_rows(conn, "TRUE", {})
        coarse = heat.incident_heat(conn, "TRUE", {})
    assert fine.cell_m == 5
    expected = 5 * 2 ** np.ceil(np.log2(estimate / heat.INCIDENTS_PER_BUDGET))
    assert coarse.cell_m == expected >= 20
    assert coarse.total == fine.total and len(coarse.count) < len(fine.count)


def test_packing_keeps_positions_within_a_quarter_metre():
    rng = np.random.default_rng(1)
    lon, lat = rng.uniform(98.47, 98.53, 500), rng.uniform(39.74, 39.79, 500)
    packed = pack(lon, lat, rng.integers(1, 10_000, 500))
    raw = np.frombuffer(
        __import__("base64").b64decode(packed.data),
        dtype=[("e", "<u2"), ("n", "<u2"), ("c", "<u4")],
    )
    back_lon = packed.lon0 + raw["e"] * packed.dlon
    back_lat = packed.lat0 + raw["n"] * packed.dlat
    assert np.abs(back_lat - lat).max() * 111_320 <= 0.126
    assert np.abs(back_lon - lon).max() * 111_320 * np.cos(np.radians(39.76)) <= 0.126


def test_a_city_wide_packing_coarsens_its_step_and_keeps_positions_within_half_a_step():
    """A city's cells span more than the 16 km a quarter-metre uint16 holds: the step
    doubles until they fit (here 60 km: 1 m), and nothing wraps around."""
    rng = np.random.default_rng(2)
    lon, lat = rng.uniform(98.2, 98.9, 500), rng.uniform(39.5, 40.0, 500)
    packed = pack(lon, lat, rng.integers(1, 10_000, 500))
    raw = np.frombuffer(
        __import__("base64").b64decode(packed.data),
        dtype=[("e", "<u2"), ("n", "<u2"), ("c", "<u4")],
    )
    metres = packed.dlat * 111_320
    assert 0.5 < metres <= 1.01  # 55 km north-south needs 1 m steps
    back_lon = packed.lon0 + raw["e"] * packed.dlon
    back_lat = packed.lat0 + raw["n"] * packed.dlat
    assert np.abs(back_lat - lat).max() <= packed.dlat / 2 + 1e-12
    assert np.abs(back_lon - lon).max() <= packed.dlon / 2 + 1e-12


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"category": "fireworks"}, "category"),
        ({"status": "lost"}, "status"),
        ({"since": "2026-10-02", "until": "2026-10-01"}, "since"),
        ({"since": "yesterday"}, "since"),
        ({"grid": "999"}, "grid"),
    ],
)
@pytest.mark.parametrize("path", [*PAGES, "/api/hotspots"])
def test_bad_filters_are_422_problems_that_name_the_field(client, path, params, field):
    response = page(client, path, **params)
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["field"] == field
    assert response.json()["detail"]


@pytest.mark.parametrize("params", [{"cell": 5}, {"cell": 5000}, {"mode": "sideways"}])
@pytest.mark.parametrize("path", ["/maps/hotspots", "/api/hotspots"])
def test_a_bad_cell_size_or_mode_is_a_422_problem(client, path, params):
    response = page(client, path, **params)
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert list(params)[0] in response.json()["detail"]


@pytest.mark.parametrize("path", PAGES)
def test_a_window_without_incidents_is_an_empty_map_that_says_so(client, path):
    response = page(client, path, since="2001-01-01", until="2001-01-31")
    assert response.status_code == 200
    assert "No incidents match these filters in this window" in response.text
    assert shown_total(response.text) == 0


def test_a_page_is_served_from_the_cache_until_the_incidents_change(
    fresh_client, fresh_engine, private_cache
):
    first = page(fresh_client, "/maps/incidents")
    again = page(fresh_client, "/maps/incidents")
    assert (first.headers["x-map-cache"], again.headers["x-map-cache"]) == ("miss", "hit")
    assert again.content == first.content
    assert len(list(private_cache.glob("incidents/*.html"))) == 1
    etag = again.headers["etag"]
    unchanged = fresh_client.get(
        "/maps/incidents", headers={**auth("patrol"), "If-None-Match": etag}
    )
    assert unchanged.status_code == 304
    with fresh_engine.begin() as conn:
        conn.execute(text("UPDATE incidents SET category = 'dispute' WHERE id = 'I0000000001'"))
        conn.execute(text("DELETE FROM incidents WHERE id = 'I0000000002'"))
    after = page(fresh_client, "/maps/incidents")
    assert after.headers["x-map-cache"] == "miss"
    assert shown_total(after.text) == shown_total(first.text) - 1
    assert after.headers["etag"] != etag


def test_callers_who_see_different_incidents_get_different_cached_pages(client):
    pages = {role: page(client, "/maps/incidents", role=role) for role in ("admin", "patrol")}
    assert pages["admin"].headers["etag"] != pages["patrol"].headers["etag"]
    official = page(client, "/maps/incidents", role="official")
    assert official.headers["etag"] == pages["patrol"].headers["etag"]  # same audience


def test_a_browser_that_takes_gzip_gets_the_page_compressed(client):
    response = client.get("/maps/incidents", headers={**auth("patrol"), "Accept-Encoding": "gzip"})
    assert response.headers["content-encoding"] == "gzip"
    assert "<!DOCTYPE html>" in response.text  # decoded by the client


def test_on_a_gcj02_basemap_the_overlays_are_shifted_and_the_page_says_so(
    seeded_engine, monkeypatch
):
    admin = Principal(0, "test", Role.ADMIN)
    with seeded_engine.connect() as conn:
        plain = build_incident_map(conn, admin, IncidentFilter())
        monkeypatch.setenv(
            "GRIDMAP_TILES",
            "https://webrd0{s}.is.autonavi.com/appmaptile?lang=zh_cn&x={x}&y={y}&z={z}&style=8",
        )
        get_settings.cache_clear()
        shifted = build_incident_map(conn, admin, IncidentFilter())

    def origin(html):
        packed = json.loads(re.search(r"gmUnpackHeat\((\{.*?\})\)", html).group(1))
        return packed["lon0"], packed["lat0"]

    (lon0, lat0), (lon1, lat1) = origin(plain), origin(shifted)
    # GCJ-02 lies a few hundred metres north-east of WGS 84 around Jiuquan
    assert 0.0003 < lon1 - lon0 < 0.001 and 0.0003 < lat1 - lat0 < 0.0012
    assert "GCJ-02" in shifted and "GCJ-02" not in plain
    assert "autonavi.com" in shifted


def test_weekly_page_has_one_frame_per_week_of_the_window(client):
    since, until = "2026-08-03", "2026-09-27"  # 8 weeks, Monday to Sunday
    html = page(client, "/maps/incidents/weekly", since=since, until=until).text
    index = ast.literal_eval(re.search(r"TimeDimensionCustom\((\[.*?\])", html).group(1))
    assert len(index) == 8
    assert index[0].startswith("2026-08-03")


def test_hotspots_api_returns_significant_cells_as_geojson(client, seeded_engine):
    response = page(client, "/api/hotspots", role="admin", category="sanitation")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/geo+json")
    body = response.json()
    assert body["type"] == "FeatureCollection" and body["cell_m"] == 100
    assert body["incidents"] == count(seeded_engine, "category = 'sanitation'")
    bins = {f["properties"]["gi_bin"] for f in body["features"]}
    assert 3 in bins and 0 not in bins
    assert sum(int(v) for k, v in body["summary"].items() if k != "0") == len(body["features"])
    lon, lat = body["features"][0]["geometry"]["coordinates"][0][0]
    assert 98.3 < lon < 98.7 and 39.6 < lat < 39.9


def test_compare_mode_finds_the_new_hotspot_by_the_building_site(client):
    response = page(
        client, "/api/hotspots", role="admin", mode="compare", until=SEED_END.isoformat()
    )
    body = response.json()
    assert body["mode"] == "compare"
    rising = [f for f in body["features"] if f["properties"]["gi_bin"] == 3]
    assert rising, "the last four weeks' new cluster is significant"
    site = gpd.read_file(BOUNDARY_DIR / "landmarks.geojson").query("kind == 'site'")
    cells = gpd.GeoDataFrame.from_features(rising, crs=4326).to_crs(4542)
    distance = cells.distance(site.to_crs(4542).geometry.iloc[0]).min()
    assert distance < 150
    assert all(f["properties"]["recent"] >= 0 for f in rising)


def test_compare_mode_refuses_a_since(client):
    response = page(client, "/api/hotspots", mode="compare", since="2026-01-01")
    assert response.status_code == 422
    assert "until" in response.json()["detail"]


def test_the_hotspot_page_has_a_legend_of_the_classes(client):
    html = page(client, "/maps/hotspots", category="sanitation").text
    for label in ("hot spot, 99 % confidence", "cold spot, 90 % confidence"):
        assert label in html
    assert shapely  # the hotspot cells are drawn as polygons
    assert '"fill": "#b2182b"' in html

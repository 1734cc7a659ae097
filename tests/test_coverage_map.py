"""The coverage choropleth: classes from mapclassify, a legend, popups, offline, cached."""

from __future__ import annotations

import json
import re

import mapclassify
import numpy as np
from sqlalchemy import text

from geo.maps.offline import external_assets
from tests.conftest import auth

PAGE = "/maps/coverage"


def features(page: str) -> list[dict]:
    """The choropleth's GeoJSON features embedded in the page (Folium's `*_add({...})`)."""
    found = []
    for blob in re.findall(r'_add\((\{"bbox".*?"type": "FeatureCollection"\})\);', page):
        found += json.loads(blob)["features"]
    return [f for f in found if "fill" in f.get("properties", {})]


def test_units_are_coloured_by_natural_breaks_of_the_metric(client):
    rows = client.get("/api/coverage", params={"level": "sector"}, headers=auth("official"))
    values = {r["code"]: r["households"] for r in rows.json()["rows"]}
    page = client.get(
        PAGE, params={"level": "sector", "metric": "households"}, headers=auth("official")
    )
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    shown = {f["properties"]["code"]: f["properties"]["fill"] for f in features(page.text)}
    assert set(shown) == set(values)
    bins = mapclassify.FisherJenks(np.array(list(values.values()), float), k=5).bins
    # units in the same class share a colour, and a higher class never has a lighter one
    order = ["#ffffb2", "#fecc5c", "#fd8d3c", "#f03b20", "#bd0026"]
    for code, value in values.items():
        assert order.index(shown[code]) == int(np.searchsorted(bins, value, side="left"))
    for high in bins:
        assert f"{int(high):,}" in page.text  # the legend names each class's upper bound


def test_a_unit_is_outlined_and_its_row_is_in_its_popup(client):
    page = client.get(
        PAGE,
        params={"level": "grid2", "metric": "grid_workers", "unit": "62090200300201"},
        headers=auth("planner"),
    ).text
    chosen = [f["properties"]["code"] for f in features(page) if f["properties"]["chosen"]]
    assert chosen == ["62090200300201"]
    popup = next(
        f["properties"]["popup"]
        for f in features(page)
        if f["properties"]["code"] == "62090200300201"
    )
    assert "网格员 grid workers" in popup and "金河第1网格" in popup


def test_the_page_loads_nothing_from_another_host(client):
    page = client.get(PAGE, headers=auth("official")).text
    assert external_assets(page) == []
    assert "/static/maps/vendor/" in page


def test_bad_metric_or_level_is_422_and_patrols_may_not_see_coverage(client):
    bad = client.get(PAGE, params={"metric": "colour"}, headers=auth("official"))
    assert bad.status_code == 422 and "households_per_worker" in bad.json()["detail"]
    assert client.get(PAGE, params={"level": "street"}, headers=auth("official")).status_code == 422
    assert client.get(PAGE, headers=auth("patrol")).status_code == 403


def test_the_page_is_cached_until_the_data_change(fresh_client, fresh_engine):
    params = {"level": "community", "metric": "shops"}
    first = fresh_client.get(PAGE, params=params, headers=auth("official"))
    again = fresh_client.get(PAGE, params=params, headers=auth("official"))
    assert (first.headers["x-map-cache"], again.headers["x-map-cache"]) == ("miss", "hit")
    with fresh_engine.begin() as conn:
        conn.execute(text("DELETE FROM businesses WHERE id = 'S00001'"))
    changed = fresh_client.get(PAGE, params=params, headers=auth("official"))
    assert changed.headers["x-map-cache"] == "miss"

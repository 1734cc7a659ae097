"""Coverage per unit: every metric against an independent count from the raw rows."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from sqlalchemy import text

from geo.cases.stats import BUCKETS, bucket_edges, median_from_histogram, rollup_differences
from tests.conftest import auth

LEVELS = ["sector", "grid2", "community"]


@pytest.fixture(scope="module")
def raw(seeded_engine):
    """The raw rows, and each sector's grid and community from the unit tree."""
    read = lambda sql: gpd.read_postgis(sql, seeded_engine, geom_col="geom")  # noqa: E731
    units = read("SELECT code, level, parent_code, geom FROM units WHERE valid_to IS NULL")
    sectors = units[units["level"] == "sector"][["code", "parent_code", "geom"]]
    parents = units.set_index("code")["parent_code"]
    sectors = sectors.assign(
        grid2=sectors["parent_code"], community=sectors["parent_code"].map(parents)
    )
    return {
        "sectors": sectors.rename(columns={"code": "sector"}),
        "units": units,
        "households": read("SELECT id, geom FROM households"),
        "residents": pd.read_sql("SELECT id, household_id FROM residents", seeded_engine),
        "businesses": read("SELECT kind, geom FROM businesses"),
        "courtyards": read(
            "SELECT code, kind, property_company_id, "
            "ST_PointOnSurface(geom) AS geom FROM courtyards "
            "WHERE valid_to IS NULL"
        ),
        "resources": read(
            "SELECT id, kind, subtype, branch_type, serves_code, has_party_org, "
            "geom FROM resources WHERE geom IS NOT NULL"
        ),
        "incidents": read(
            "SELECT category, status, observed_at, reported_at, due_at, "
            "closed_at, geom FROM incidents"
        ),
    }


def located(points: gpd.GeoDataFrame, raw, level: str) -> pd.Series:
    """The unit at `level` each point lies in, by a spatial join (ties: lowest sector code)."""
    joined = gpd.sjoin(points, raw["sectors"], predicate="intersects", how="left")
    joined = joined.sort_values("sector").groupby(level=0).first()
    return joined[level]


def rows(client, level, role="official", **params):
    response = client.get("/api/coverage", params={"level": level, **params}, headers=auth(role))
    assert response.status_code == 200, response.text
    return {r["code"]: r for r in response.json()["rows"]}


@pytest.mark.parametrize("level", LEVELS)
def test_households_residents_and_businesses_match_a_spatial_join(client, raw, level):
    got = rows(client, level)
    hh = raw["households"].assign(unit=located(raw["households"], raw, level))
    residents = raw["residents"].merge(hh[["id", "unit"]], left_on="household_id", right_on="id")
    biz = raw["businesses"].assign(unit=located(raw["businesses"], raw, level))
    for code, row in got.items():
        assert row["households"] == (hh["unit"] == code).sum()
        assert row["residents"] == (residents["unit"] == code).sum()
        for kind, key in (
            ("shop", "shops"),
            ("enterprise", "enterprises"),
            ("institution", "institutions"),
        ):
            assert row[key] == ((biz["unit"] == code) & (biz["kind"] == kind)).sum(), key


@pytest.mark.parametrize("level", LEVELS)
def test_courtyards_property_companies_and_red_property(client, raw, level):
    got = rows(client, level)
    yards = raw["courtyards"].assign(unit=located(raw["courtyards"], raw, level))
    red = set(raw["resources"].query("kind == 'property_company' and has_party_org")["id"])
    for code, row in got.items():
        mine = yards[yards["unit"] == code]
        for kind in ("managed", "scattered", "rental"):
            assert row[f"courtyards_{kind}"] == (mine["kind"] == kind).sum()
        assert row["courtyards_without_company"] == mine["property_company_id"].isna().sum()
        companies = set(mine["property_company_id"].dropna())
        assert row["property_companies"] == len(companies)
        assert row["red_property_companies"] == len(companies & red)


@pytest.mark.parametrize("level", LEVELS)
def test_party_chain_members_and_co_building_units_by_location(client, raw, level):
    got = rows(client, level)
    res = raw["resources"].assign(unit=located(raw["resources"], raw, level))
    checks = {
        "community_committees": res["subtype"] == "community_committee",
        "party_branches": res["subtype"] == "grid_branch",
        "party_branches_courtyard": res["branch_type"] == "courtyard",
        "building_groups": res["subtype"] == "building_group",
        "central_households": res["subtype"] == "central_household",
        "party_members_direct": res["subtype"] == "direct",
        "party_members_in_service": res["subtype"] == "in_service",
        "cobuilding_units": res["kind"] == "cobuilding_unit",
    }
    for code, row in got.items():
        for key, mask in checks.items():
            assert row[key] == (mask & (res["unit"] == code)).sum(), (code, key)


@pytest.mark.parametrize("level", LEVELS)
def test_workers_serve_their_unit_and_officers_also_the_units_below(client, raw, level):
    got = rows(client, level)
    sectors, res = raw["sectors"], raw["resources"]
    depth = LEVELS.index(level)
    for code, row in got.items():
        mine = sectors[sectors[level] == code]
        # the unit and the units inside it, and the units above it
        below = {code} | {c for lvl in LEVELS[:depth] for c in mine[lvl]}
        above = set(mine[LEVELS[depth + 1]]) if depth < 2 else set()
        above |= set(mine["community"]) if depth == 0 else set()
        above |= set(raw["units"].query("level == 'district'")["code"])
        serves = res["serves_code"]
        workers = res[(res["kind"] == "grid_worker") & serves.isin(below)]
        officers = res[(res["kind"] == "stationed_officer") & serves.isin(below | above)]
        assert row["grid_workers"] == len(workers)
        assert row["stationed_officers"] == len(officers)
        expected = round(row["households"] / len(workers), 1) if len(workers) else None
        assert row["households_per_worker"] == expected


def counted(mine: pd.DataFrame, now: datetime) -> dict:
    """The figures of raw incidents `mine`, as coverage gives them (the median aside)."""
    open_ = ~mine["status"].isin({"verified", "rejected", "duplicate"})
    verified = mine[mine["status"] == "verified"]
    in_time = (verified["closed_at"] <= verified["due_at"]).sum()
    return {
        "incidents": len(mine),
        "incidents_open": open_.sum(),
        "incidents_overdue": (open_ & (mine["due_at"] < now)).sum(),
        "incidents_closed": len(verified),
        "incidents_closed_in_time": in_time,
        "closed_in_time_pct": pytest.approx(100 * in_time / len(verified), abs=0.05)
        if len(verified)
        else None,
    }


@pytest.mark.parametrize(
    ("level", "role"), [("grid2", "admin"), ("community", "admin"), ("grid2", "official")]
)
def test_incidents_in_the_period_match_the_raw_rows(client, raw, seeded_engine, level, role):
    # the period is whole Beijing-time days, both ends included
    first, last = date(2026, 5, 17), date(2026, 11, 1)
    got = rows(client, level, role=role, since=str(first), until=str(last))
    inc = raw["incidents"]
    day = inc["observed_at"].dt.tz_convert("Asia/Shanghai").dt.date
    inc = inc[(day >= first) & (day <= last)]
    if role == "official":  # key-population cases are not theirs to count
        with seeded_engine.connect() as conn:
            sensitive = conn.execute(
                text("SELECT code FROM incident_categories WHERE sensitive")
            ).scalars()
            inc = inc[~inc["category"].isin(list(sensitive))]
    inc = inc.assign(unit=located(inc, raw, level))
    now = datetime.now(UTC)
    for code, row in got.items():
        mine = inc[inc["unit"] == code]
        assert {k: row[k] for k in counted(mine, now)} == counted(mine, now)
        verified = mine[mine["status"] == "verified"]
        hours = (verified["closed_at"] - verified["reported_at"]).dt.total_seconds() / 3600
        # interpolated from 15 %-wide buckets: within half a bucket of the exact median
        assert row["median_hours_to_close"] == pytest.approx(np.median(hours), rel=0.075)
        # by category: the same counts (a category's median is the evaluation's)
        by_cat = {cat: counted(group, now) for cat, group in mine.groupby("category")}
        assert row["incidents_by_category"] == by_cat


def test_the_median_from_the_histogram_is_within_half_a_bucket_of_the_exact_median():
    rng = np.random.default_rng(7)
    for median_h in (0.2, 0.4, 3.0, 30.0, 200.0):
        hours = rng.lognormal(np.log(median_h), 0.9, 5000)
        counts = np.zeros(BUCKETS, int)
        for k, (lo, hi) in enumerate(bucket_edges()):
            counts[k] = ((hours >= lo) & (hours < hi)).sum()
        assert median_from_histogram(list(counts)) == pytest.approx(np.median(hours), rel=0.075)
    assert median_from_histogram([0] * BUCKETS) is None
    # below the first edge (3 minutes) it only says so
    assert 0 < median_from_histogram([5] + [0] * (BUCKETS - 1)) < 0.05


def test_the_rollup_stays_exact_through_intake_transitions_moves_and_deletes(
    fresh_client, fresh_engine
):
    with fresh_engine.connect() as conn:
        assert rollup_differences(conn) == 0
    filed = fresh_client.post(
        "/api/incidents",
        json={
            "lon": 98.49,
            "lat": 39.76,
            "category": "sanitation",
            "observed_at": datetime.now(UTC).isoformat(),
        },
        headers=auth("admin"),
    ).json()
    for to in ("in_progress", "resolved", "verified"):
        fresh_client.post(
            f"/api/incidents/{filed['id']}/transitions", json={"to": to}, headers=auth("admin")
        )
    with fresh_engine.begin() as conn:
        conn.execute(
            text(
                "UPDATE incidents SET sector_code = '6209020030010101' "
                "WHERE id IN ('I0000000007', 'I0000000008')"
            )
        )
        conn.execute(
            text(
                "UPDATE incidents SET category = 'dispute', due_at = due_at + "
                "interval '1 day' WHERE id LIKE 'I00000001%'"
            )
        )
        conn.execute(text("DELETE FROM incidents WHERE id = 'I0000024999'"))
        assert rollup_differences(conn) == 0
    with fresh_engine.connect() as conn:
        stored = conn.execute(
            text("SELECT status FROM incidents WHERE id = :i"), {"i": filed["id"]}
        ).scalar_one()
    assert stored == "verified"


def test_key_population_cases_count_only_for_those_who_may_see_them(client):
    admin = rows(client, "community", role="admin")
    official = rows(client, "community", role="official")
    for code in admin:
        assert "key_population" in admin[code]["incidents_by_category"]
        assert "key_population" not in official[code]["incidents_by_category"]
        hidden = admin[code]["incidents_by_category"]["key_population"]["incidents"]
        assert official[code]["incidents"] == admin[code]["incidents"] - hidden


def test_each_flag_is_raised_exactly_when_its_threshold_is_crossed(client):
    got = rows(client, "sector")
    for row in got.values():
        flags = {f["flag"]: f for f in row["flags"]}
        assert ("no_grid_worker" in flags) == (row["grid_workers"] == 0)
        assert ("over_target" in flags) == ((row["households_per_worker"] or 0) > 300)
        assert ("no_party_branch" in flags) == (row["party_branches"] == 0)
        assert ("no_stationed_officer" in flags) == (row["stationed_officers"] == 0)
        assert ("courtyards_without_company" in flags) == (row["courtyards_without_company"] > 0)
        for flag in flags.values():
            assert flag["threshold"] is not None and flag["label_zh"] and flag["rule"]
    if any("over_target" in {f["flag"] for f in r["flags"]} for r in got.values()):
        over = next(r for r in got.values() if any(f["flag"] == "over_target" for f in r["flags"]))
        assert next(f for f in over["flags"] if f["flag"] == "over_target")["threshold"] == 300


def test_the_seeded_district_shows_plausible_flags(client):
    got = rows(client, "sector")
    counts = pd.Series([f["flag"] for r in got.values() for f in r["flags"]]).value_counts()
    # gaps to act on, not a district where everything is flagged
    for flag in ("no_grid_worker", "over_target", "no_stationed_officer", "no_party_branch"):
        assert 1 <= counts.get(flag, 0) < len(got), flag


def test_the_target_comes_from_settings(seeded_url, monkeypatch):
    from fastapi.testclient import TestClient

    from api.main import create_app
    from geo.core.settings import get_settings

    monkeypatch.setenv("GRIDMAP_HOUSEHOLDS_PER_WORKER_TARGET", "5000")
    get_settings.cache_clear()
    with TestClient(create_app()) as c:
        got = rows(c, "sector")
    get_settings.cache_clear()
    assert not any(f["flag"] == "over_target" for r in got.values() for f in r["flags"])
    assert all(r["households_per_worker_target"] == 5000 for r in got.values())


def test_completeness_on_the_seeded_district_is_whole(client):
    body = client.get("/api/coverage/completeness", headers=auth("official")).json()
    assert body["sector_coverage_pct"] == pytest.approx(100.0, abs=1e-6)
    assert all(v == {} for v in body["unattached_points"].values())
    assert body["courtyards_without_grid"] == []


def test_completeness_names_points_outside_and_unassigned_resources(fresh_client, fresh_engine):
    with fresh_engine.begin() as conn:
        conn.execute(
            text(
                "UPDATE businesses SET geom = ST_SetSRID(ST_MakePoint(98.2, 39.9), 4326),"
                " sector_code = NULL WHERE id = 'S00001'"
            )
        )
        conn.execute(text("UPDATE resources SET serves_code = NULL WHERE id = 'W001'"))
    body = fresh_client.get("/api/coverage/completeness", headers=auth("admin")).json()
    assert body["unattached_points"]["businesses"] == {"outside the sub-district": 1}
    assert "W001" in body["resources_unassigned"]["grid_worker"]


def test_exports_carry_the_same_figures_with_bilingual_headers(client):
    json_rows = rows(client, "grid2")
    common = {"level": "grid2"}
    csv = client.get("/api/coverage", params={**common, "format": "csv"}, headers=auth("official"))
    assert csv.headers["content-type"].startswith("text/csv")
    table = pd.read_csv(io.BytesIO(csv.content), encoding="utf-8-sig", dtype={"编码 code": str})
    assert "户数 households" in table.columns and "网格员 grid workers" in table.columns
    assert dict(zip(table["编码 code"], table["户数 households"], strict=True)) == {
        c: r["households"] for c, r in json_rows.items()
    }
    xlsx = client.get(
        "/api/coverage", params={**common, "format": "xlsx"}, headers=auth("official")
    )
    sheet = pd.read_excel(io.BytesIO(xlsx.content), dtype={"编码 code": str}, header=3)
    assert list(sheet.columns) == list(table.columns) and len(sheet) == len(json_rows)
    gpkg = client.get(
        "/api/coverage", params={**common, "format": "gpkg"}, headers=auth("official")
    )
    layer = gpd.read_file(io.BytesIO(gpkg.content))
    assert layer.crs.to_epsg() == 4326 and len(layer) == len(json_rows)
    assert dict(zip(layer["code"], layer["residents"], strict=True)) == {
        c: r["residents"] for c, r in json_rows.items()
    }


def test_bad_periods_and_levels_are_422_problems(client):
    bad = client.get(
        "/api/coverage",
        params={"since": "2026-05-01", "until": "2026-04-01"},
        headers=auth("official"),
    )
    assert bad.status_code == 422 and "must not be after" in bad.json()["detail"]
    assert client.get("/api/coverage?level=street", headers=auth("official")).status_code == 422


def test_as_of_counts_on_the_boundaries_valid_then(fresh_client, fresh_engine):
    from geo.planning import edits
    from tests.planning_support import etag, grow

    a, b = "6209020030010101", "6209020030010102"

    def by_code(**params):
        response = fresh_client.get(
            "/api/coverage", params={"level": "sector", **params}, headers=auth("admin")
        )
        assert response.status_code == 200, response.text
        return {r["code"]: r for r in response.json()["rows"]}

    keys = ("households", "shops", "incidents", "incidents_closed", "courtyards_managed")
    before = by_code()
    with fresh_engine.begin() as conn:
        moment = conn.execute(text("SELECT clock_timestamp()")).scalar_one()
        grown, _ = grow(conn, a, b, 60)
        edits.put_sector(conn, a, grown, "道路改线", "planner:test", [etag(conn, a)])
    now = by_code()
    then = by_code(as_of=moment.isoformat())
    for code in before:
        assert {k: then[code][k] for k in keys} == {k: before[code][k] for k in keys}, code
    moved = now[a]["shops"] + now[a]["incidents"] - before[a]["shops"] - before[a]["incidents"]
    assert moved > 0
    assert now[b]["shops"] + now[b]["incidents"] == (
        before[b]["shops"] + before[b]["incidents"] - moved
    )

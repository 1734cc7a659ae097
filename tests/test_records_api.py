"""The HTTP side of records: imports with the CLI's semantics, paged GeoJSON lists with
their access rules, and one unit with its counts."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np
import pandas as pd
import pytest
from openpyxl import Workbook
from sqlalchemy import text

from geo.access.roles import create_token
from geo.core import coords
from tests.conftest import auth, sector_surface_points

GRIDMAP = str(Path(sys.executable).parent / "gridmap")


def xlsx(rows: list[list]) -> bytes:
    book = Workbook()
    for row in rows:
        book.active.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def inside(seeded_engine) -> np.ndarray:
    """5 WGS 84 points well inside 5 different sectors."""
    return sector_surface_points(seeded_engine, 5)


def shops(points) -> list[list]:
    return [["编号", "名称", "经度", "纬度"]] + [
        [f"API{k}", f"接口商店{k}", float(x), float(y)] for k, (x, y) in enumerate(points)
    ]


def follow(client, url: str, headers: dict) -> list[dict]:
    """Every feature, following `next` links to the end."""
    features = []
    while url:
        response = client.get(url, headers=headers)
        assert response.status_code == 200, response.text
        assert response.headers["content-type"].startswith("application/geo+json")
        body = response.json()
        features += body["features"]
        nxt = [link["href"] for link in body["links"] if link["rel"] == "next"]
        url = (lambda u: f"{u.path}?{u.query}")(urlsplit(nxt[0])) if nxt else None
    return features


# -- imports ------------------------------------------------------------------------------


def test_an_xlsx_in_gcj02_imports_over_http_with_the_same_report_as_the_cli(
    fresh_client, fresh_engine, inside
):
    gx, gy = coords.wgs84_to_gcj02(inside[:, 0], inside[:, 1])
    data = xlsx(shops(np.c_[gx, gy]))
    response = fresh_client.post(
        "/api/imports/businesses",
        headers=auth("admin"),
        files={"file": ("商户.xlsx", data)},
        data={"crs": "gcj02"},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["inserted"], body["rejected"], body["committed"]) == (len(inside), 0, True)
    with fresh_engine.connect() as conn:
        stored = conn.execute(
            text("SELECT ST_X(geom), ST_Y(geom) FROM businesses WHERE id LIKE 'API%' ORDER BY id")
        ).all()
        audited = conn.execute(
            text("SELECT count(*) FROM audit_log WHERE action = 'POST /api/imports/businesses'")
        ).scalar()
    assert np.abs(np.array(stored) - inside).max() < 1e-8
    assert audited == 1


def test_a_rejected_import_is_422_problem_json_naming_the_rows_and_changes_nothing(
    fresh_client, fresh_engine, inside
):
    rows = shops(inside)
    rows[2][2] = "abc"
    response = fresh_client.post(
        "/api/imports/businesses",
        headers=auth("admin"),
        files={"file": ("shops.xlsx", xlsx(rows))},
        data={"columns": "编号=id,名称=name_zh"},
    )
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["rows"] == [{"row": 3, "column": "经度", "value": "abc", "reason": "not a number"}]
    assert body["report"]["committed"] is False
    with fresh_engine.connect() as conn:
        assert (
            conn.execute(text("SELECT count(*) FROM businesses WHERE id LIKE 'API%'")).scalar() == 0
        )
    skipped = fresh_client.post(
        "/api/imports/businesses?format=csv",
        headers=auth("admin"),
        files={"file": ("shops.xlsx", xlsx(rows))},
        data={"skip_invalid": "true"},
    )
    assert skipped.status_code == 200 and skipped.headers["content-type"].startswith("text/csv")
    assert pd.read_csv(io.StringIO(skipped.text))["row"].tolist() == [3]


def test_only_admins_may_import_and_unknown_kinds_are_named(client):
    files = {"file": ("s.csv", b"id,name_zh,lon,lat\n")}
    for role in ("planner", "patrol", "grid_worker", "official"):
        assert (
            client.post("/api/imports/businesses", headers=auth(role), files=files).status_code
            == 403
        )
    response = client.post("/api/imports/dogs", headers=auth("admin"), files=files)
    assert (
        response.status_code == 422 and "kinds: households, residents" in response.json()["detail"]
    )


def test_cli_import_exits_1_writes_the_report_and_then_loads_with_skip_invalid(
    fresh_url, inside, tmp_path
):
    rows = shops(inside)
    rows[1][2], rows[1][3] = rows[1][3], rows[1][2]  # lat, lon
    path = tmp_path / "shops.csv"
    pd.DataFrame(rows[1:], columns=rows[0]).to_csv(path, index=False, encoding="gbk")
    env = {**os.environ, "GRIDMAP_DATABASE_URL": fresh_url}
    report = tmp_path / "report.csv"
    done = subprocess.run(
        [GRIDMAP, "import", "businesses", str(path), "--report", str(report)],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert done.returncode == 1
    assert done.stderr.strip().startswith("gridmap: nothing imported: 1 of 5 rows")
    assert pd.read_csv(report, encoding="utf-8-sig")["reason"].str.contains("swap").all()
    done = subprocess.run(
        [GRIDMAP, "import", "businesses", str(path), "--skip-invalid"],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert "4 new" in done.stdout and "GB18030" in done.stdout


# -- lists --------------------------------------------------------------------------------


def test_pages_follow_next_links_to_exactly_the_filtered_rows_in_id_order(client, seeded_engine):
    sector = "6209020030020101"
    features = follow(client, f"/api/businesses?sector={sector}&limit=40", auth("planner"))
    with seeded_engine.connect() as conn:
        ids = (
            conn.execute(
                text("SELECT id FROM businesses WHERE sector_code = :s ORDER BY id"), {"s": sector}
            )
            .scalars()
            .all()
        )
    assert len(ids) > 40  # more than one page
    assert [f["id"] for f in features] == ids
    assert {f["properties"]["sector_code"] for f in features} == {sector}
    first = features[0]
    assert first["type"] == "Feature" and first["geometry"]["type"] == "Point"


def test_bbox_kind_and_time_filters_hold(client):
    box = (98.45, 39.75, 98.48, 39.77)
    features = follow(
        client, "/api/businesses?kind=enterprise&bbox=" + ",".join(map(str, box)), auth("planner")
    )
    assert features
    for f in features:
        x, y = f["geometry"]["coordinates"]
        assert box[0] <= x <= box[2] and box[1] <= y <= box[3]
        assert f["properties"]["kind"] == "enterprise"
    recent = follow(
        client,
        "/api/incidents?category=sanitation&since=2026-10-01T00:00:00%2B08:00"
        "&until=2026-10-08T00:00:00%2B08:00&limit=500",
        auth("admin"),
    )
    assert recent
    for f in recent:
        seen = pd.Timestamp(f["properties"]["observed_at"])
        assert pd.Timestamp("2026-09-30T16:00Z") <= seen < pd.Timestamp("2026-10-07T16:00Z")
        assert f["properties"]["category"] == "sanitation"


def test_a_grid_worker_sees_only_households_and_residents_of_their_own_grids(
    fresh_client, fresh_engine
):
    sector = "6209020030010301"
    with fresh_engine.begin() as conn:
        token = create_token(conn, "grid_worker", "test worker", scope=[sector])
        expected = conn.execute(
            text("SELECT count(*) FROM households WHERE sector_code = :s"), {"s": sector}
        ).scalar()
    headers = {"Authorization": f"Bearer {token}"}
    households = follow(fresh_client, "/api/households?limit=1000", headers)
    assert len(households) == expected > 0
    assert {f["properties"]["sector_code"] for f in households} == {sector}
    residents = follow(fresh_client, "/api/residents?limit=1000", headers)
    assert residents and {f["properties"]["sector_code"] for f in residents} == {sector}
    name = residents[0]["properties"]["name"]
    assert set(name[1:]) == {"*"}  # masked for a grid worker
    assert "****" in residents[0]["properties"]["phone"]


def test_admins_read_unmasked_personal_data_and_each_read_is_audited(fresh_client, fresh_engine):
    page = fresh_client.get("/api/residents?limit=5", headers=auth("admin")).json()
    ids = [f["id"] for f in page["features"]]
    assert "*" not in "".join(f["properties"]["name"] for f in page["features"])
    with fresh_engine.connect() as conn:
        entry = conn.execute(
            text(
                "SELECT actor, target, detail FROM audit_log "
                "WHERE action = 'read_personal_data' ORDER BY id DESC LIMIT 1"
            )
        ).one()
    assert entry.target == "residents" and entry.detail["ids"] == ids
    assert entry.actor.startswith("admin:")


def test_key_population_incidents_are_visible_only_as_incident_visibility_allows(
    client, seeded_engine
):
    with seeded_engine.connect() as conn:
        total = conn.execute(
            text("SELECT count(*) FROM incidents WHERE category = 'key_population'")
        ).scalar()
    admin = follow(client, "/api/incidents?category=key_population&limit=1000", auth("admin"))
    patrol = follow(client, "/api/incidents?category=key_population&limit=1000", auth("patrol"))
    assert len(admin) == total > 0
    assert patrol == []  # a patrol serves no grid
    reporter = [f["properties"]["reporter_contact"] for f in admin]
    assert any(r and "*" not in r for r in reporter)


def test_lists_need_their_permission(client):
    assert client.get("/api/households", headers=auth("planner")).status_code == 403
    assert client.get("/api/incidents", headers=auth("official")).status_code == 403
    assert client.get("/api/businesses", headers=auth("official")).status_code == 200
    assert client.get("/api/businesses").status_code == 401


@pytest.mark.parametrize(
    "query, message",
    [
        ("bbox=98.4,39.7,98.5", "four numbers"),
        ("bbox=39.7,98.4,39.8,98.5", "did you swap lon/lat?"),
        ("sector=123", "not the code of a current sector"),
        ("category=dispute&since=2026-01-01T00:00:00", "have no time"),
    ],
)
def test_bad_list_queries_are_problems_saying_what_is_wrong(client, query, message):
    response = client.get(f"/api/businesses?{query}", headers=auth("admin"))
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert message in response.json()["detail"]


# -- one unit ---------------------------------------------------------------------------------


def test_a_unit_comes_with_its_counts_and_a_courtyard_too(client, seeded_engine):
    sector = "6209020030010301"
    body = client.get(f"/api/units/{sector}", headers=auth("official")).json()
    with seeded_engine.connect() as conn:
        counts = conn.execute(
            text(
                "SELECT (SELECT count(*) FROM households WHERE sector_code = :s), "
                "(SELECT count(*) FROM businesses WHERE sector_code = :s), "
                "(SELECT count(*) FROM incidents WHERE sector_code = :s), "
                "(SELECT count(*) FROM residents r JOIN households h ON h.id = r.household_id "
                "WHERE h.sector_code = :s)"
            ),
            {"s": sector},
        ).one()
    assert body["id"] == sector and body["geometry"]["type"] == "MultiPolygon"
    got = body["properties"]["counts"]
    assert (got["households"], got["businesses"], got["incidents"], got["residents"]) == tuple(
        counts
    )
    assert body["properties"]["level"] == "sector" and body["properties"]["area_km2"] > 0
    yard = client.get("/api/units/620902003Y001", headers=auth("official")).json()
    assert (
        yard["properties"]["level"] == "courtyard"
        and yard["properties"]["counts"]["households"] > 0
    )
    missing = client.get("/api/units/nope", headers=auth("official"))
    assert missing.status_code == 404 and "no current unit" in missing.json()["detail"]


def test_a_grid_and_a_community_count_the_incidents_that_carry_their_codes(client, seeded_engine):
    # counted by their current sectors (no index on these two codes since 0019e): the same
    # figures as the codes each incident carries
    for level, code in (("grid2_code", "62090200300103"), ("community_code", "620902003001")):
        got = client.get(f"/api/units/{code}", headers=auth("official")).json()
        with seeded_engine.connect() as conn:
            want = conn.execute(
                text(
                    f"SELECT count(*), count(*) FILTER (WHERE status NOT IN "
                    f"('verified', 'rejected', 'duplicate')) FROM incidents WHERE {level} = :c"
                ),
                {"c": code},
            ).one()
        counts = got["properties"]["counts"]
        assert want[0] > 0 and (counts["incidents"], counts["open_incidents"]) == tuple(want)

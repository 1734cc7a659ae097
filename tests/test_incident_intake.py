"""`POST /api/incidents`: attach, automatic dispatch, duplicate hint, idempotency, bad input,
masking of the reporter's contact and the key-population restriction, on real PostGIS."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import text

from geo.access.roles import create_token
from tests.conftest import auth
from tests.incident_support import inside, offset, other_sector, report_body, worker_sector

PROBLEM = "application/problem+json"


def count(engine, sql: str, **params) -> int:
    with engine.connect() as conn:
        return conn.execute(text(sql), params).scalar_one()


def test_report_is_attached_dispatched_to_its_sector_team_and_recorded(fresh_client, fresh_engine):
    with fresh_engine.connect() as conn:
        yard = conn.execute(
            text(
                "SELECT code, sector_code, ST_X(ST_PointOnSurface(geom)) AS lon, "
                "ST_Y(ST_PointOnSurface(geom)) AS lat FROM courtyards WHERE valid_to IS NULL "
                "ORDER BY code LIMIT 1"
            )
        ).one()
        team = conn.execute(
            text(
                "SELECT array_agg(id ORDER BY id) FROM resources WHERE kind = 'grid_worker' "
                "AND serves_code = :s"
            ),
            {"s": yard.sector_code},
        ).scalar()
    response = fresh_client.post(
        "/api/incidents", json=report_body(yard.lon, yard.lat), headers=auth("patrol")
    )
    body = response.json()
    assert response.status_code == 201, body
    assert response.headers["location"] == f"/api/incidents/{body['id']}"
    assert body["status"] == "dispatched" and body["source"] == "api"
    assert body["courtyard_code"] == yard.code and body["sector_code"] == yard.sector_code
    assert body["sector_code"].startswith(body["grid2_code"])
    assert body["grid2_code"].startswith(body["community_code"])
    assert [w["id"] for w in body["assigned_to"]] == team
    assert [e["kind"] for e in body["history"]] == ["report", "dispatch"]
    assert body["history"][0]["actor"] == "patrol:test patrol"
    assert body["history"][1]["actor"] == "system"
    # the same codes as the bulk attach gives the same point
    from geo.grid.attach import attach_points

    with fresh_engine.begin() as conn:
        conn.execute(
            text("UPDATE incidents SET sector_code = NULL, courtyard_code = NULL WHERE id = :i"),
            {"i": body["id"]},
        )
        attach_points(conn, "incidents")
        again = conn.execute(
            text("SELECT courtyard_code, sector_code FROM incidents WHERE id = :i"),
            {"i": body["id"]},
        ).one()
    assert tuple(again) == (body["courtyard_code"], body["sector_code"])


def test_a_sector_without_workers_dispatches_to_its_level2_grid(fresh_client, fresh_engine):
    sector = other_sector(fresh_engine, worker_sector(fresh_engine), staffed_sibling=True)
    with fresh_engine.begin() as conn:
        conn.execute(
            text("DELETE FROM resources WHERE kind = 'grid_worker' AND serves_code = :s"),
            {"s": sector},
        )
        grid_team = conn.execute(
            text(
                "SELECT array_agg(r.id ORDER BY r.id) FROM resources r JOIN units s "
                "ON s.code = r.serves_code AND s.valid_to IS NULL WHERE r.kind = 'grid_worker' "
                "AND s.parent_code = (SELECT parent_code FROM units WHERE code = :s "
                "AND valid_to IS NULL)"
            ),
            {"s": sector},
        ).scalar()
    assert grid_team, "the level-2 grid needs other workers for this test"
    body = fresh_client.post(
        "/api/incidents", json=report_body(*inside(fresh_engine, sector)), headers=auth("admin")
    ).json()
    assert body["sector_code"] == sector and body["status"] == "dispatched"
    assert [w["id"] for w in body["assigned_to"]] == grid_team
    assert "二级网格" in body["history"][-1]["note"]


def test_with_nobody_serving_the_grid_a_report_waits_for_an_admin(fresh_client, fresh_engine):
    sector = other_sector(fresh_engine, worker_sector(fresh_engine))
    with fresh_engine.begin() as conn:
        grid2 = conn.execute(
            text("SELECT parent_code FROM units WHERE code = :s AND valid_to IS NULL"),
            {"s": sector},
        ).scalar()
        conn.execute(
            text(
                "DELETE FROM resources WHERE kind = 'grid_worker' AND (serves_code LIKE :g || '%')"
            ),
            {"g": grid2},
        )
    body = fresh_client.post(
        "/api/incidents", json=report_body(*inside(fresh_engine, sector)), headers=auth("admin")
    ).json()
    assert body["status"] == "reported" and body["assigned_to"] == []
    assert body["history"][-1]["kind"] == "note" and "待人工派遣" in body["history"][-1]["note"]
    # an admin's dispatch says why it cannot be done, and changes nothing
    moved = fresh_client.post(
        f"/api/incidents/{body['id']}/transitions",
        json={"to": "dispatched"},
        headers=auth("admin"),
    )
    assert moved.status_code == 409 and "no grid worker" in moved.json()["detail"]
    with fresh_engine.begin() as conn:
        conn.execute(text("UPDATE resources SET serves_code = :s WHERE id = 'W001'"), {"s": sector})
    moved = fresh_client.post(
        f"/api/incidents/{body['id']}/transitions",
        json={"to": "dispatched", "note": "新网格员到岗"},
        headers=auth("admin"),
    ).json()
    assert moved["status"] == "dispatched" and [w["id"] for w in moved["assigned_to"]] == ["W001"]
    assert moved["history"][-1]["actor"] == "admin:test admin"


def test_a_point_outside_the_district_is_422_with_its_distance(client, seeded_engine):
    lon, lat = inside(seeded_engine, worker_sector(seeded_engine))
    with seeded_engine.connect() as conn:
        west = conn.execute(
            text("SELECT ST_XMin(geom) FROM units WHERE level = 'district' AND valid_to IS NULL")
        ).scalar()
    # 2 km west of the westernmost point of the district, on the latitude of our point
    far_lon, far_lat = offset(west, lat, -2000)
    before = count(seeded_engine, "SELECT count(*) FROM incidents")
    response = client.post(
        "/api/incidents", json=report_body(far_lon, far_lat), headers=auth("patrol")
    )
    problem = response.json()
    assert response.status_code == 422
    assert response.headers["content-type"] == PROBLEM
    # the same distance as shapely measures in EPSG:4542
    import geopandas as gpd
    from shapely import Point

    district = gpd.read_postgis(
        "SELECT geom FROM units WHERE level = 'district' AND valid_to IS NULL",
        seeded_engine,
        geom_col="geom",
    ).to_crs(4542)
    point = gpd.GeoSeries([Point(far_lon, far_lat)], crs=4326).to_crs(4542)
    expected = district.geometry.iloc[0].distance(point.iloc[0])
    assert expected >= 1900 and abs(problem["distance_m"] - expected) < 1
    assert "outside" in problem["detail"] and problem["field"] == "lon/lat"
    assert count(seeded_engine, "SELECT count(*) FROM incidents") == before


def test_swapped_lon_lat_is_named(client, seeded_engine):
    lon, lat = inside(seeded_engine, worker_sector(seeded_engine))
    response = client.post("/api/incidents", json=report_body(lat, lon), headers=auth("patrol"))
    assert response.status_code == 422 and "swap" in response.json()["detail"]


def test_unknown_category_future_time_and_unknown_crs_are_422_and_change_nothing(
    client, seeded_engine
):
    lon, lat = inside(seeded_engine, worker_sector(seeded_engine))
    before = count(seeded_engine, "SELECT count(*) FROM incidents")
    unknown = client.post(
        "/api/incidents", json=report_body(lon, lat, "graffiti"), headers=auth("patrol")
    )
    assert unknown.status_code == 422 and "sanitation" in unknown.json()["detail"]
    future = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    later = client.post(
        "/api/incidents",
        json=report_body(lon, lat, observed_at=future),
        headers=auth("patrol"),
    )
    assert later.status_code == 422 and later.json()["field"] == "observed_at"
    crs = client.post(
        "/api/incidents", json=report_body(lon, lat, crs="osgb36"), headers=auth("patrol")
    )
    assert crs.status_code == 422 and crs.json()["field"] == "crs"
    assert count(seeded_engine, "SELECT count(*) FROM incidents") == before


def test_cgcs2000_coordinates_are_accepted_as_they_are(fresh_client, fresh_engine):
    lon, lat = inside(fresh_engine, worker_sector(fresh_engine))
    body = fresh_client.post(
        "/api/incidents", json=report_body(lon, lat, crs="CGCS2000"), headers=auth("patrol")
    ).json()
    assert (body["lon"], body["lat"]) == (lon, lat)


def test_only_reporting_roles_may_report(client, seeded_engine):
    lon, lat = inside(seeded_engine, worker_sector(seeded_engine))
    for role in ("planner", "official"):
        response = client.post("/api/incidents", json=report_body(lon, lat), headers=auth(role))
        assert response.status_code == 403, role
    assert client.post("/api/incidents", json=report_body(lon, lat)).status_code == 401


def test_an_idempotency_key_makes_the_second_submission_a_no_op(fresh_client, fresh_engine):
    lon, lat = inside(fresh_engine, worker_sector(fresh_engine))
    body = report_body(lon, lat)
    key = {"Idempotency-Key": "phone-42-report-7", **auth("patrol")}
    first = fresh_client.post("/api/incidents", json=body, headers=key)
    second = fresh_client.post("/api/incidents", json=body, headers=key)
    assert first.status_code == second.status_code == 201
    assert second.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in first.headers
    assert second.json()["id"] == first.json()["id"]
    assert second.json()["history"] == first.json()["history"]
    assert count(fresh_engine, "SELECT count(*) FROM incidents WHERE source = 'api'") == 1
    assert (
        count(
            fresh_engine,
            "SELECT count(*) FROM incident_events e JOIN incidents i ON "
            "i.id = e.incident_id WHERE i.source = 'api' AND e.kind = 'report'",
        )
        == 1
    )
    # the same key for a different report is refused, naming the first
    other = fresh_client.post(
        "/api/incidents", json={**body, "category": "safety_hazard"}, headers=key
    )
    assert other.status_code == 422 and first.json()["id"] in other.json()["detail"]
    # keys belong to one token: another client's equal key is a different report
    third = fresh_client.post(
        "/api/incidents",
        json=body,
        headers={"Idempotency-Key": "phone-42-report-7", **auth("grid_worker")},
    )
    assert third.status_code == 201 and third.json()["id"] != first.json()["id"]
    # without a key, the same body twice files two reports
    fresh_client.post("/api/incidents", json=body, headers=auth("patrol"))
    fresh_client.post("/api/incidents", json=body, headers=auth("patrol"))
    assert count(fresh_engine, "SELECT count(*) FROM incidents WHERE source = 'api'") == 4


def test_duplicate_hint_lists_open_cases_of_the_category_within_radius_and_window(
    fresh_client, fresh_engine
):
    lon, lat = inside(fresh_engine, worker_sector(fresh_engine))
    now = datetime.now(UTC)

    def file(east_m, category="sanitation", hours_ago=0.2, role="admin"):
        body = report_body(*offset(lon, lat, east_m), category)
        body["observed_at"] = (now - timedelta(hours=hours_ago)).isoformat()
        response = fresh_client.post("/api/incidents", json=body, headers=auth(role))
        assert response.status_code == 201, response.json()
        return response.json()

    near = file(30)
    far = file(80)
    other_category = file(10, "safety_hazard")
    long_ago = file(5, hours_ago=30)
    closed = file(20)
    fresh_client.post(
        f"/api/incidents/{closed['id']}/transitions",
        json={"to": "rejected", "note": "不属于受理范围"},
        headers=auth("admin"),
    )
    new = file(0, role="patrol")
    hint = {h["id"]: h for h in new["duplicates_nearby"]}
    assert near["id"] in hint and 29 <= hint[near["id"]]["distance_m"] <= 31
    for left_out in (far, other_category, long_ago, closed):
        assert left_out["id"] not in hint
    assert new["id"] not in hint
    # the reporter marks it a duplicate of the one nearby
    marked = fresh_client.post(
        f"/api/incidents/{new['id']}/transitions",
        json={"to": "duplicate", "duplicate_of": near["id"]},
        headers=auth("patrol"),
    ).json()
    assert marked["status"] == "duplicate" and marked["duplicate_of"] == near["id"]
    assert marked["closed"] and marked["closed_at"] is not None


def test_duplicate_radius_is_configurable(fresh_client, fresh_engine, monkeypatch):
    from geo.core.settings import get_settings

    lon, lat = inside(fresh_engine, worker_sector(fresh_engine))
    first = fresh_client.post(
        "/api/incidents", json=report_body(*offset(lon, lat, 80)), headers=auth("admin")
    ).json()
    monkeypatch.setenv("GRIDMAP_DUPLICATE_RADIUS_M", "100")
    get_settings.cache_clear()
    new = fresh_client.post(
        "/api/incidents", json=report_body(lon, lat), headers=auth("admin")
    ).json()
    get_settings.cache_clear()
    assert first["id"] in [h["id"] for h in new["duplicates_nearby"]]


def test_reporter_contact_is_masked_for_all_but_admins_and_admin_reads_are_audited(
    fresh_client, fresh_engine
):
    lon, lat = inside(fresh_engine, worker_sector(fresh_engine))
    filed = fresh_client.post(
        "/api/incidents",
        json=report_body(lon, lat, reporter_contact="13812341234"),
        headers=auth("patrol"),
    ).json()
    assert filed["reporter_contact"] == "138****1234"
    for role in ("patrol", "grid_worker"):
        seen = fresh_client.get(f"/api/incidents/{filed['id']}", headers=auth(role)).json()
        assert seen["reporter_contact"] == "138****1234", role
        assert all("*" in w["name_zh"] for w in seen["assigned_to"]), role
    audited = count(fresh_engine, "SELECT count(*) FROM audit_log WHERE action = 'personal_read'")
    assert audited == 0
    seen = fresh_client.get(f"/api/incidents/{filed['id']}", headers=auth("admin")).json()
    assert seen["reporter_contact"] == "13812341234"
    with fresh_engine.connect() as conn:
        entry = conn.execute(
            text(
                "SELECT actor, target, detail FROM audit_log WHERE action = 'personal_read' "
                "ORDER BY id DESC LIMIT 1"
            )
        ).one()
    assert entry.actor == "admin:test admin" and entry.target == f"incidents/{filed['id']}"
    assert "reporter_contact" in entry.detail["fields"]


def test_key_population_cases_are_seen_by_admin_and_the_grids_workers_only(
    fresh_client, fresh_engine
):
    own = worker_sector(fresh_engine)
    elsewhere = other_sector(fresh_engine, own)

    def file(sector):
        response = fresh_client.post(
            "/api/incidents",
            json=report_body(*inside(fresh_engine, sector), "key_population"),
            headers=auth("patrol"),
        )
        assert response.status_code == 201
        return response.json()

    here, there = file(own), file(elsewhere)
    # the reporter gets the POST answer (where it went, its deadline) and nothing after
    assert here["status"] == "dispatched" and here["due_at"]
    assert here["next"] == []
    assert (
        fresh_client.get(f"/api/incidents/{here['id']}", headers=auth("patrol")).status_code == 404
    )
    assert (
        fresh_client.get(f"/api/incidents/{here['id']}", headers=auth("grid_worker")).status_code
        == 200
    )
    assert (
        fresh_client.get(f"/api/incidents/{there['id']}", headers=auth("grid_worker")).status_code
        == 404
    )
    assert (
        fresh_client.get(f"/api/incidents/{there['id']}", headers=auth("admin")).status_code == 200
    )
    # nor can a patrol act on it, or learn of it from another report's hint
    note = fresh_client.post(
        f"/api/incidents/{here['id']}/notes", json={"note": "再次走访"}, headers=auth("patrol")
    )
    assert note.status_code == 404
    again = file(own)
    assert here["id"] not in [h["id"] for h in again["duplicates_nearby"]]
    # the grid's worker, who may see it, is told of it when reporting the same nearby
    mine = fresh_client.post(
        "/api/incidents",
        json=report_body(*inside(fresh_engine, own), "key_population"),
        headers=auth("grid_worker"),
    ).json()
    assert here["id"] in [h["id"] for h in mine["duplicates_nearby"]]


def test_a_key_population_case_dispatched_to_the_level2_grid_is_seen_by_those_workers(
    fresh_client, fresh_engine
):
    sector = other_sector(fresh_engine, worker_sector(fresh_engine), staffed_sibling=True)
    with fresh_engine.begin() as conn:
        conn.execute(
            text("DELETE FROM resources WHERE kind = 'grid_worker' AND serves_code = :s"),
            {"s": sector},
        )
        sibling_worker = conn.execute(
            text(
                "SELECT r.id FROM resources r JOIN units t ON t.code = r.serves_code "
                "WHERE r.kind = 'grid_worker' AND t.valid_to IS NULL AND t.parent_code = "
                "(SELECT parent_code FROM units WHERE code = :s AND valid_to IS NULL) "
                "ORDER BY r.id LIMIT 1"
            ),
            {"s": sector},
        ).scalar_one()
        token = create_token(conn, "grid_worker", "邻片网格员", worker_id=sibling_worker)
    filed = fresh_client.post(
        "/api/incidents",
        json=report_body(*inside(fresh_engine, sector), "key_population"),
        headers=auth("admin"),
    ).json()
    assert sibling_worker in [w["id"] for w in filed["assigned_to"]]
    mine = {"Authorization": f"Bearer {token}"}
    assert fresh_client.get(f"/api/incidents/{filed['id']}", headers=mine).status_code == 200
    stranger = fresh_client.get(f"/api/incidents/{filed['id']}", headers=auth("grid_worker"))
    assert stranger.status_code == 404


def test_an_unknown_incident_is_404_problem(client):
    response = client.get("/api/incidents/I9999999999", headers=auth("admin"))
    assert response.status_code == 404 and response.headers["content-type"] == PROBLEM

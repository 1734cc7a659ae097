"""Concurrency: of planners editing the same area at once exactly one succeeds, the others
get 412 with the current version; nothing is lost or half-applied; the coverage stays clean."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import text

from tests.conftest import auth
from tests.planning_support import coverage_is_clean, geojson, grow, neighbours

THREADS = 8
ROUNDS = 4


def test_many_simultaneous_conflicting_edits_end_with_one_winner_per_round(
    fresh_client, fresh_engine
):
    with fresh_engine.connect() as conn:
        a, b = neighbours(conn)[0]
    planner = auth("planner")
    for round_no in range(ROUNDS):
        # half the planners push a's border into b, half b's into a, each by its own width
        tags, bodies = {}, []
        for code in (a, b):
            tags[code] = fresh_client.get(f"/api/boundaries/units/{code}", headers=planner).headers[
                "etag"
            ]
        with fresh_engine.connect() as conn:
            for i in range(THREADS):
                mine, theirs = (a, b) if i % 2 == 0 else (b, a)
                geom, _ = grow(conn, mine, theirs, 10 + 3 * i)
                bodies.append((mine, {"geometry": geojson(geom), "reason": f"第{round_no}轮 {i}"}))
        start = threading.Barrier(THREADS)

        def edit(item, start=start, tags=tags):
            code, body = item
            start.wait()
            return code, fresh_client.put(
                f"/api/boundaries/sectors/{code}",
                json=body,
                headers={**planner, "If-Match": tags[code]},
            )

        with ThreadPoolExecutor(THREADS) as pool:
            results = list(pool.map(edit, bodies))
        statuses = sorted(r.status_code for _, r in results)
        assert statuses == [200] + [412] * (THREADS - 1), statuses
        (winner_code, winner), *_ = [(c, r) for c, r in results if r.status_code == 200]
        current = {u["code"]: u["etag"] for u in winner.json()["units"] if u["level"] == "sector"}
        for code, response in results:
            if response.status_code == 412:
                body = response.json()
                assert response.headers["content-type"] == "application/problem+json"
                assert body["current"][0]["etag"] == current[code]
    with fresh_engine.connect() as conn:
        assert coverage_is_clean(conn)
        versions = conn.execute(
            text("SELECT count(*) FROM units WHERE code IN (:a, :b)"), {"a": a, "b": b}
        ).scalar_one()
        changes = conn.execute(
            text("SELECT count(*) FROM boundary_changes WHERE kind <> 'initial_load'")
        ).scalar_one()
        current_rows = conn.execute(
            text("SELECT count(*) FROM units WHERE valid_to IS NULL AND code IN (:a, :b)"),
            {"a": a, "b": b},
        ).scalar_one()
    assert changes == ROUNDS
    assert versions == 2 + 2 * ROUNDS  # both sectors change in every round, once
    assert current_rows == 2


def test_concurrent_transactions_serialize_on_the_boundary_lock(fresh_engine):
    """The same race with one database connection per thread, under the HTTP layer."""
    from geo.core.errors import PreconditionFailed
    from geo.planning import edits
    from tests.planning_support import etag

    with fresh_engine.connect() as conn:
        a, b = neighbours(conn)[1]
    for _ in range(ROUNDS):
        with fresh_engine.connect() as conn:
            tag = etag(conn, a)
            geoms = [grow(conn, a, b, 8 + 2 * i)[0] for i in range(THREADS)]
        start = threading.Barrier(THREADS)

        def edit(geom, start=start, tag=tag):
            start.wait()
            try:
                with fresh_engine.begin() as conn:
                    edits.put_sector(conn, a, geom, "并发", "planner:t", [tag])
                return "won"
            except PreconditionFailed:
                return "412"

        with ThreadPoolExecutor(THREADS) as pool:
            outcomes = sorted(pool.map(edit, geoms))
        assert outcomes == ["412"] * (THREADS - 1) + ["won"]
    with fresh_engine.connect() as conn:
        assert coverage_is_clean(conn)
        assert etag(conn, a) == f'"{a}:v{ROUNDS + 1}"'


def test_an_edit_without_if_match_is_428_and_changes_nothing(fresh_client, fresh_engine):
    with fresh_engine.connect() as conn:
        a, b = neighbours(conn)[0]
        geom, _ = grow(conn, a, b, 20)
    response = fresh_client.put(
        f"/api/boundaries/sectors/{a}",
        json={"geometry": geojson(geom), "reason": "无 ETag"},
        headers=auth("planner"),
    )
    assert response.status_code == 428
    assert "If-Match" in response.json()["detail"]
    with fresh_engine.connect() as conn:
        assert (
            conn.execute(
                text("SELECT count(*) FROM boundary_changes WHERE kind <> 'initial_load'")
            ).scalar_one()
            == 0
        )


def test_a_stale_etag_gets_412_naming_the_current_version(fresh_client, fresh_engine):
    with fresh_engine.connect() as conn:
        a, b = neighbours(conn)[0]
        geom, _ = grow(conn, a, b, 20)
    stale = f'"{a}:v1"'
    first = fresh_client.put(
        f"/api/boundaries/sectors/{a}",
        json={"geometry": geojson(geom), "reason": "先"},
        headers={**auth("planner"), "If-Match": stale},
    )
    assert first.status_code == 200 and first.headers["etag"] == f'"{a}:v2"'
    second = fresh_client.put(
        f"/api/boundaries/sectors/{a}",
        json={"geometry": geojson(geom), "reason": "后"},
        headers={**auth("planner"), "If-Match": stale},
    )
    assert second.status_code == 412
    assert second.json()["current"] == [
        {"code": a, "version": 2, "etag": f'"{a}:v2"', "current": True, "successor": None}
    ]


def test_only_planners_and_admins_may_edit_boundaries(fresh_client, fresh_engine):
    with fresh_engine.connect() as conn:
        a, b = neighbours(conn)[0]
        geom, _ = grow(conn, a, b, 20)
    for role, status in (("patrol", 403), ("official", 403), ("grid_worker", 403), ("admin", 200)):
        response = fresh_client.put(
            f"/api/boundaries/sectors/{a}",
            params={"dry_run": "true"},
            json={"geometry": geojson(geom), "reason": "权限"},
            headers={**auth(role), "If-Match": f'"{a}:v1"'},
        )
        assert response.status_code == status, role
    assert fresh_client.get("/api/boundaries", headers=auth("patrol")).status_code == 200

"""`PATCH /api/boundaries/sectors`: a border moved as the grid editor draws it, in every
sector that shares the moved vertex, as one change (`geo.planning.edits.put_sectors`)."""

from __future__ import annotations

from shapely.geometry import mapping

from tests.conftest import auth
from tests.planning_support import coverage_is_clean, etag
from tests.test_editor_browser import moved_to, plan_drag, sectors


def _body(conn, reason="道路改线"):
    vertex, target, codes, _ = plan_drag(conn)
    current = sectors(conn)
    features = [
        {"id": c, "geometry": mapping(moved_to(current[c][0], vertex, target))} for c in codes
    ]
    return codes, {"features": features, "reason": reason, "on_conflict": "refuse"}


def test_a_vertex_moved_in_every_sector_sharing_it_is_one_clean_change(fresh_client, fresh_engine):
    with fresh_engine.begin() as conn:
        codes, body = _body(conn)
        tags = ", ".join(etag(conn, c) for c in codes)
        versions = {c: v for c, (_, v) in sectors(conn).items()}
    planner = auth("planner")
    preview = fresh_client.patch(
        "/api/boundaries/sectors?dry_run=true", json=body, headers={**planner, "If-Match": tags}
    )
    assert preview.status_code == 200, preview.text
    assert preview.json()["valid"] and preview.json()["change"] is None
    applied = fresh_client.patch(
        "/api/boundaries/sectors", json=body, headers={**planner, "If-Match": tags}
    )
    assert applied.status_code == 200, applied.text
    report = applied.json()
    written = {u["code"] for u in report["units"] if u["level"] == "sector"}
    assert written == set(codes)  # with `refuse`, no other sector had to give way
    with fresh_engine.begin() as conn:
        after = sectors(conn)
        assert coverage_is_clean(conn)
    assert all(after[c][1] == versions[c] + 1 for c in codes)
    assert all(after[c][1] == versions[c] for c in after if c not in codes)


def test_each_sector_sent_needs_its_etag_and_appears_once(fresh_client, fresh_engine):
    with fresh_engine.begin() as conn:
        codes, body = _body(conn)
        first = etag(conn, codes[0])
        before = sectors(conn)
    planner = auth("planner")
    missing = fresh_client.patch(
        "/api/boundaries/sectors", json=body, headers={**planner, "If-Match": first}
    )
    assert missing.status_code == 412
    assert {s["code"] for s in missing.json()["current"]} == set(codes[1:])
    twice = {**body, "features": [body["features"][0], body["features"][0]]}
    repeated = fresh_client.patch(
        "/api/boundaries/sectors", json=twice, headers={**planner, "If-Match": first}
    )
    assert repeated.status_code == 422
    assert codes[0] in repeated.json()["detail"]
    none = fresh_client.patch("/api/boundaries/sectors", json=body, headers=planner)
    assert none.status_code == 428
    with fresh_engine.begin() as conn:
        assert sectors(conn) == before  # nothing was written

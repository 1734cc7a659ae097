"""The planner's plans over HTTP on PostGIS: edits previewed on top of each other, undo and
redo, compare, apply as one change, rebase or refusal, locks, export and import."""

from __future__ import annotations

from shapely.geometry import mapping, shape
from sqlalchemy import text

from tests.conftest import auth
from tests.plan_support import households_moved, scenario
from tests.planning_support import etag, grow, neighbours


def new_plan(client, name="东片调整", **extra) -> int:
    r = client.post("/api/plans", json={"name": name, **extra}, headers=auth("planner"))
    assert r.status_code == 201, r.text
    return r.json()["id"]


def add(client, plan: int, body: dict):
    return client.post(f"/api/plans/{plan}/edits", json=body, headers=auth("planner"))


def versions(conn) -> dict[str, int]:
    return dict(conn.execute(text("SELECT code, max(version) FROM units GROUP BY code")).all())


def counts(conn) -> tuple[int, int]:
    return (
        conn.execute(text("SELECT count(*) FROM boundary_changes")).scalar_one(),
        conn.execute(text("SELECT count(*) FROM units")).scalar_one(),
    )


def test_a_plan_of_three_edits_compares_and_applies_as_one_change(fresh_engine, fresh_client):
    client = fresh_client
    with fresh_engine.connect() as conn:
        s = scenario(conn)
        start, vers = counts(conn), versions(conn)
    plan = new_plan(client)
    assert add(client, plan, s["move"]).status_code == 200
    split = add(client, plan, s["split"])
    assert split.status_code == 200, split.text
    new_sector = split.json()["plan"]["edits"][1]["summary"]["created"][0]
    # the split offers the new sector: assign the worker to it; the preview counts workers
    assign = add(
        client, plan, {"kind": "assign_worker", "worker": s["worker"], "sector": new_sector}
    )
    assert assign.status_code == 200, assign.text
    load = {r["code"]: r for r in assign.json()["preview"]["load"]["sectors"]}
    assert load[new_sector]["workers_before"] == 0 and load[new_sector]["workers_after"] == 1
    # nothing written to the layer while planning
    with fresh_engine.connect() as conn:
        assert counts(conn) == start

    undone = client.post(f"/api/plans/{plan}/undo", headers=auth("planner")).json()
    assert [e["active"] for e in undone["edits"]] == [True, True, False] and undone["can_redo"]
    redone = client.post(f"/api/plans/{plan}/redo", headers=auth("planner")).json()
    assert [e["active"] for e in redone["edits"]] == [True, True, True]

    cmp = client.get(
        f"/api/plans/{plan}/compare", params={"with": "current"}, headers=auth("planner")
    )
    assert cmp.status_code == 200, cmp.text
    body = cmp.json()
    with fresh_engine.connect() as conn:
        independent = households_moved(conn, body["before"]["sectors"], body["after"]["sectors"])
    assert independent > 0
    assert body["moved"]["households"]["total"] == independent
    rows = {r["code"]: r for r in body["rows"]}
    assert rows[new_sector]["in_before"] is False and rows[new_sector]["workers_after"] == 1
    assert sum(r["households_after"] for r in body["rows"]) == sum(
        r["households_before"] for r in body["rows"]
    )

    applied = client.post(
        f"/api/plans/{plan}/apply", json={"reason": "新建道路"}, headers=auth("planner")
    )
    assert applied.status_code == 200, applied.text
    assert applied.json()["plan"]["status"] == "applied"
    with fresh_engine.connect() as conn:
        assert counts(conn)[0] == start[0] + 1  # one change
        kind, reason = conn.execute(
            text("SELECT kind, reason FROM boundary_changes ORDER BY id DESC LIMIT 1")
        ).one()
        after = versions(conn)
        serves = conn.execute(
            text("SELECT serves_code FROM resources WHERE id = :w"), {"w": s["worker"]}
        ).scalar_one()
    assert (kind, reason) == ("plan", "新建道路")
    stepped = {c: after[c] - vers.get(c, 0) for c in after if after[c] != vers.get(c)}
    assert stepped and set(stepped.values()) == {1}  # one version step per unit touched
    assert {s["a"], s["b"], s["c"], new_sector} <= set(stepped)
    assert serves == new_sector


def test_the_plans_layer_is_served_and_edits_preview_on_it_storing_nothing(
    fresh_engine, fresh_client
):
    """What the editor draws while a plan is open: `GET /api/boundaries?plan=ID` is the layer
    the plan's edits make (the moved border moved, the split's new sector there), the layer
    in force unchanged; `?dry_run=true` previews an edit on top of the plan and stores
    nothing — even an edit of a sector that exists only in the plan."""
    client = fresh_client
    with fresh_engine.connect() as conn:
        s = scenario(conn)
        start = counts(conn)
    plan = new_plan(client)
    assert add(client, plan, s["move"]).status_code == 200
    split = add(client, plan, s["split"])
    assert split.status_code == 200, split.text
    new_sector = split.json()["plan"]["edits"][1]["summary"]["created"][0]

    def layer(**params) -> tuple[dict, dict]:
        r = client.get(
            "/api/boundaries", params={"level": "sector", **params}, headers=auth("planner")
        )
        assert r.status_code == 200, r.text
        return {f["id"]: shape(f["geometry"]) for f in r.json()["features"]}, r.json()

    planned, body = layer(plan=plan)
    live, live_body = layer()
    assert body["plan"] == plan and "layer_etag" not in body and "layer_etag" in live_body
    assert new_sector in planned and new_sector not in live
    moved = shape(s["move"]["geometry"])
    assert planned[s["a"]].symmetric_difference(moved).area < 1e-4 * moved.area
    assert planned[s["a"]].area > live[s["a"]].area  # a grew into b in the plan only
    assert planned[s["c"]].area < live[s["c"]].area  # c gave up the new sector's part

    merge = {"kind": "merge", "code": new_sector, "other": s["c"]}
    dry = client.post(
        f"/api/plans/{plan}/edits", params={"dry_run": "true"}, json=merge, headers=auth("planner")
    )
    assert dry.status_code == 200, dry.text
    assert dry.json()["valid"] is True and dry.json()["dry_run"] is True
    stored = client.get(f"/api/plans/{plan}", headers=auth("planner")).json()
    assert len(stored["edits"]) == 2 and stored["cursor"] == 2
    with fresh_engine.connect() as conn:
        assert counts(conn) == start

    both = client.get(
        "/api/boundaries",
        params={"level": "sector", "plan": plan, "as_of": "2026-01-01"},
        headers=auth("planner"),
    )
    assert both.status_code == 422 and "plan" in both.json()["detail"]
    other = client.get(
        "/api/boundaries", params={"level": "sector", "plan": 999999}, headers=auth("planner")
    )
    assert other.status_code == 404


def test_an_edit_that_does_not_apply_is_422_naming_the_sector_and_stores_nothing(
    fresh_engine, fresh_client
):
    with fresh_engine.connect() as conn:
        a, _ = neighbours(conn)[0]
        start = counts(conn)
    plan = new_plan(fresh_client)
    far_line = {"type": "LineString", "coordinates": [[90.0, 30.0], [90.1, 30.1]]}
    r = add(fresh_client, plan, {"kind": "split", "code": a, "line": far_line})
    assert r.status_code == 422
    assert r.headers["content-type"].startswith("application/problem+json")
    assert a in r.json()["detail"]
    unknown = add(fresh_client, plan, {"kind": "merge", "code": a, "other": "620902999"})
    assert unknown.status_code == 404 and "620902999" in unknown.json()["detail"]
    assert fresh_client.get(f"/api/plans/{plan}", headers=auth("planner")).json()["edits"] == []
    with fresh_engine.connect() as conn:
        assert counts(conn) == start


def test_unknown_plan_is_404_and_a_bad_kind_is_422(client):
    assert client.get("/api/plans/999999", headers=auth("planner")).status_code == 404
    assert client.post("/api/plans/999999/undo", headers=auth("planner")).status_code == 404
    r = client.post("/api/plans/999999/edits", json={"kind": "paint"}, headers=auth("planner"))
    assert r.status_code == 422


def test_a_plan_whose_base_moved_is_refused_then_rebased_and_applied(fresh_engine, fresh_client):
    client = fresh_client
    with fresh_engine.connect() as conn:
        s = scenario(conn)
    plan = new_plan(client)
    assert add(client, plan, s["split"]).status_code == 200
    # someone moves another border directly: the layer's version moves under the plan
    with fresh_engine.connect() as conn:
        new_a, _ = grow(conn, s["a"], s["b"], 20)
        tag = etag(conn, s["a"])
    single = client.put(
        f"/api/boundaries/sectors/{s['a']}",
        json={"geometry": mapping(new_a), "reason": "道路改线"},
        headers={**auth("planner"), "If-Match": tag},
    )
    assert single.status_code == 200, single.text
    assert client.get(f"/api/plans/{plan}", headers=auth("planner")).json()["stale"] is True
    refused = client.post(f"/api/plans/{plan}/apply", json={"reason": "x"}, headers=auth("planner"))
    assert refused.status_code == 409 and "rebase" in refused.json()["detail"].lower()
    rebased = client.post(f"/api/plans/{plan}/rebase", headers=auth("planner"))
    assert rebased.status_code == 200 and rebased.json()["stale"] is False
    applied = client.post(
        f"/api/plans/{plan}/apply", json={"reason": "拆分"}, headers=auth("planner")
    )
    assert applied.status_code == 200, applied.text


def test_rebase_names_the_edit_that_no_longer_applies(fresh_engine, fresh_client):
    client = fresh_client
    with fresh_engine.connect() as conn:
        s = scenario(conn)
    plan = new_plan(client)
    assert add(client, plan, s["move"]).status_code == 200
    # the sector the plan moves is merged away by a single edit
    with fresh_engine.connect() as conn:
        tags = f"{etag(conn, s['b'])}, {etag(conn, s['a'])}"
    merged = client.post(
        f"/api/boundaries/sectors/{s['b']}/merge",
        json={"other": s["a"], "reason": "合并"},
        headers={**auth("planner"), "If-Match": tags},
    )
    assert merged.status_code == 200, merged.text
    r = client.post(f"/api/plans/{plan}/rebase", headers=auth("planner"))
    assert r.status_code == 409
    assert f"#1 move_border of {s['a']}" in r.json()["detail"]
    assert client.get(f"/api/plans/{plan}", headers=auth("planner")).json()["stale"] is True


def test_locked_sectors_refuse_single_edits_and_other_plans_naming_sector_and_plan(
    fresh_engine, fresh_client
):
    client = fresh_client
    with fresh_engine.connect() as conn:
        s = scenario(conn)
        new_a, _ = grow(conn, s["a"], s["b"], 20)
        tag = etag(conn, s["a"])
    owner = new_plan(client, "锁定方案", locks=[s["a"]])
    single = client.put(
        f"/api/boundaries/sectors/{s['a']}",
        json={"geometry": mapping(new_a), "reason": "道路改线"},
        headers={**auth("planner"), "If-Match": tag},
    )
    assert single.status_code == 409, single.text
    assert s["a"] in single.json()["detail"] and f"#{owner}" in single.json()["detail"]
    other = new_plan(client, "另一方案")
    r = add(client, other, s["move"])
    assert r.status_code == 409 and s["a"] in r.json()["detail"]
    taken = client.post(
        f"/api/plans/{other}/locks", json={"sectors": [s["a"]]}, headers=auth("planner")
    )
    assert taken.status_code == 409
    # the owner edits its own locked sector
    assert add(client, owner, s["move"]).status_code == 200
    assert (
        client.delete(f"/api/plans/{owner}", headers=auth("planner")).json()["status"]
        == "discarded"
    )
    again = client.put(
        f"/api/boundaries/sectors/{s['a']}",
        json={"geometry": mapping(new_a), "reason": "道路改线"},
        headers={**auth("planner"), "If-Match": tag},
    )
    assert again.status_code == 200, again.text


def test_export_and_import_round_trip_as_geojson_and_geopackage(fresh_engine, fresh_client):
    client = fresh_client
    with fresh_engine.connect() as conn:
        s = scenario(conn)
    plan = new_plan(client, "导出方案")
    assert add(client, plan, s["move"]).status_code == 200
    assert add(client, plan, s["split"]).status_code == 200
    original = client.get(f"/api/plans/{plan}", headers=auth("planner")).json()["edits"]
    for fmt, media in (("geojson", "application/geo+json"), ("gpkg", "application/geopackage")):
        exported = client.get(
            f"/api/plans/{plan}/export", params={"format": fmt}, headers=auth("planner")
        )
        assert exported.status_code == 200 and exported.headers["content-type"].startswith(media)
        r = client.post(
            "/api/plans/import",
            files={"file": (f"plan.{fmt}", exported.content)},
            headers=auth("planner"),
        )
        assert r.status_code == 201, r.text
        imported = r.json()
        assert [e["kind"] for e in imported["edits"]] == ["move_border", "split"]
        assert imported["name"].startswith("导出方案")
        for mine, theirs in zip(original, imported["edits"], strict=True):
            for key in ("geometry", "line"):
                if key in mine["body"]:
                    a, b = shape(mine["body"][key]), shape(theirs["body"][key])
                    assert a.symmetric_difference(b).area < 1e-12
        same = client.get(
            f"/api/plans/{imported['id']}/compare",
            params={"with": str(plan)},
            headers=auth("planner"),
        ).json()
        assert same["moved"]["households"]["total"] == 0
    bad = client.post(
        "/api/plans/import", files={"file": ("plan.geojson", b"{not json")}, headers=auth("planner")
    )
    assert bad.status_code == 422

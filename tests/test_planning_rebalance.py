"""Rebalancing proposals: a preview that writes nothing, says honestly what it achieves,
keeps sectors contiguous and compact, and is applied only on request with the layer ETag."""

from __future__ import annotations

import numpy as np
import shapely
from sqlalchemy import text

from tests.conftest import auth
from tests.planning_support import coverage_is_clean, sectors

JINHE = "620902003002"  # the seed's community with overloaded sectors


def test_a_proposal_is_a_preview_that_writes_nothing_and_lowers_the_imbalance(
    fresh_client, fresh_engine
):
    with fresh_engine.connect() as conn:
        before = conn.execute(text("SELECT count(*) FROM units")).scalar_one()
        workers = dict(
            conn.execute(
                text(
                    "SELECT serves_code, count(*) FROM resources "
                    "WHERE kind = 'grid_worker' GROUP BY 1"
                )
            ).all()
        )
        households = dict(
            conn.execute(text("SELECT sector_code, count(*) FROM households GROUP BY 1")).all()
        )
    response = fresh_client.post(f"/api/communities/{JINHE}/rebalance", headers=auth("planner"))
    assert response.status_code == 200, response.text
    report = response.json()
    proposal = report["proposal"]
    assert report["dry_run"] and report["valid"] and report["change"] is None
    with fresh_engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM units")).scalar_one() == before
    total_h = sum(r["households_before"] for r in proposal["sectors"])
    total_w = sum(r["workers"] for r in proposal["sectors"])
    assert proposal["community_households_per_worker"] == round(total_h / total_w, 1)
    assert proposal["achievable"] == (abs(total_h / total_w - 300) <= 30)
    for row in proposal["sectors"]:
        assert row["households_before"] == households.get(row["code"], 0)
        assert row["workers"] == workers.get(row["code"], 0)
    assert proposal["courtyard_moves"], "the seed's Jinhe sectors can be evened out"
    assert proposal["cost_after"] < proposal["cost_before"]
    moved = sum(m["households"] for m in proposal["courtyard_moves"])
    assert moved == sum(f["count"] for f in report["moves"]["households"]["flows"])
    after = {r["code"]: r["households_after"] for r in report["load"]["sectors"]}
    assert all(
        after[r["code"]] == r["households_after"] for r in proposal["sectors"] if r["code"] in after
    )
    spread = [
        np.std([r[f"households_per_worker_{k}"] for r in proposal["sectors"] if r["workers"]])
        for k in ("before", "after")
    ]
    assert spread[1] < spread[0]
    assert all(r["compactness_after"] >= 0.6 * r["compactness_before"] for r in proposal["sectors"])


def test_applying_needs_a_reason_and_the_layer_etag_and_keeps_a_clean_coverage(
    fresh_client, fresh_engine
):
    preview = fresh_client.post(
        f"/api/communities/{JINHE}/rebalance", headers=auth("planner")
    ).json()
    url = f"/api/communities/{JINHE}/rebalance"
    body = {"apply": True, "reason": "均衡网格员负担"}
    assert fresh_client.post(url, json=body, headers=auth("planner")).status_code == 428
    stale = fresh_client.post(url, json=body, headers={**auth("planner"), "If-Match": '"layer:0"'})
    assert stale.status_code == 412
    applied = fresh_client.post(
        url, json=body, headers={**auth("planner"), "If-Match": preview["layer_etag"]}
    )
    assert applied.status_code == 200, applied.text
    result = applied.json()
    assert result["change"]["kind"] == "rebalance" and not result["dry_run"]
    assert result["moves"] == preview["moves"]
    with fresh_engine.connect() as conn:
        assert coverage_is_clean(conn)
        parts = [len(shapely.get_parts(g)) for g in sectors(conn).values()]
    assert set(parts) == {1}


def test_a_community_whose_load_cannot_reach_the_target_says_how_many_workers_would(client):
    report = client.post("/api/communities/620902003001/rebalance", headers=auth("admin")).json()
    proposal = report["proposal"]
    assert proposal["achievable"] is False
    assert proposal["workers_needed_for_target"] == round(proposal["households"] / 300)
    assert "no assignment reaches it everywhere" in proposal["explanation"]
    assert (
        client.post("/api/communities/620902003001/rebalance", headers=auth("official")).status_code
        == 403
    )

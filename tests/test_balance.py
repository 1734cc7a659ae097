"""Balance and shape for the planner: households and cases per worker of every sector and
level-2 grid against the band, households per courtyard, Polsby–Popper compactness in the
preview with its warning, the committed-change page in both languages with names beside
codes, and the choropleth's disjoint classes."""

from __future__ import annotations

import math
import re

import numpy as np
import shapely
from shapely.geometry import shape
from sqlalchemy import text

from geo.core.settings import get_settings
from geo.maps.coverage import class_labels, classes
from geo.planning import edits
from geo.planning.balance import households_band, polsby_popper
from geo.planning.geometry import to_metric
from geo.publish.messages import message
from tests.conftest import auth
from tests.planning_support import etag, grow, neighbours, strip
from tests.planning_support import sectors as current_sectors

ACTOR = "test planner"


def test_polsby_popper_is_one_for_a_disc_and_pi_over_four_for_a_square():
    x, y = 98.48, 39.76
    square = shapely.box(x, y, x + 0.01, y + 0.01 * math.cos(math.radians(y)))
    disc = shapely.Point(x, y).buffer(0.005, quad_segs=64)
    sliver = shapely.box(x, y, x + 0.02, y + 0.0002)
    scores = polsby_popper(np.array([square, disc, sliver], dtype=object))
    assert abs(scores[0] - math.pi / 4) < 0.01
    assert scores[1] > 0.95  # a disc squashed a little by the latitude
    assert scores[2] < 0.1


def test_the_balance_lists_every_sector_and_grid_with_households_and_cases_per_worker(
    client, seeded_engine
):
    answer = client.get("/api/planning/balance", headers=auth("planner"))
    assert answer.status_code == 200
    body = answer.json()
    with seeded_engine.connect() as conn:
        truth = dict(
            conn.execute(
                text(
                    "SELECT 'sectors', count(*) FROM units WHERE level = 'sector' AND valid_to "
                    "IS NULL UNION ALL SELECT 'grids', count(*) FROM units WHERE level = "
                    "'grid2' AND valid_to IS NULL UNION ALL SELECT 'households', count(*) "
                    "FROM households UNION ALL SELECT 'incidents', count(*) FROM incidents "
                    "WHERE sector_code IS NOT NULL"
                )
            ).all()
        )
    assert len(body["sectors"]) == truth["sectors"] == 22
    assert len(body["grids"]) == truth["grids"] == 12
    assert sum(r["households"] for r in body["sectors"]) == truth["households"] == 14268
    assert sum(r["households"] for r in body["grids"]) == truth["households"]
    assert sum(r["cases"] for r in body["sectors"]) == truth["incidents"]
    assert body["band"] == list(households_band())
    low, high = body["band"]
    for row in body["sectors"] + body["grids"]:
        if row["workers"]:
            assert row["households_per_worker"] == round(row["households"] / row["workers"], 1)
            assert row["cases_per_worker"] == round(row["cases"] / row["workers"], 1)
            assert row["within_band"] == (low <= row["households_per_worker"] <= high)
    assert all(0 < r["polsby_popper"] <= 1 for r in body["sectors"])
    assert sum(c["households"] for c in body["courtyards"]) == 14268  # all live in courtyards
    assert client.get("/api/planning/balance", headers=auth("official")).status_code == 403


def test_the_preview_reports_each_touched_sectors_compactness_and_warns_below_the_minimum(
    fresh_engine, monkeypatch
):
    with fresh_engine.begin() as conn:
        a, b = neighbours(conn)[0]
        new_a, _ = grow(conn, a, b, 25)
        report = edits.put_sector(conn, a, new_a, "预览", ACTOR, [etag(conn, a)], dry_run=True)
    scores = {r["code"]: r["polsby_popper"] for r in report["compactness"]["sectors"]}
    assert set(scores) >= {a, b}
    written = {f["id"]: shape(f["geometry"]) for f in report["map"]["after"]["features"]}
    for code in (a, b):  # 4πA/P² of the sector as the change would write it
        metric_geom = to_metric(written[code])
        expected = 4 * math.pi * metric_geom.area / metric_geom.length**2
        assert abs(scores[code] - expected) < 0.002
    assert report["compactness"]["warnings"] == []  # the seeded shapes are fair

    monkeypatch.setenv("GRIDMAP_COMPACTNESS_MIN", "0.95")
    get_settings.cache_clear()
    try:
        with fresh_engine.begin() as conn:
            report = edits.put_sector(conn, a, new_a, "预览", ACTOR, [etag(conn, a)], dry_run=True)
    finally:
        monkeypatch.delenv("GRIDMAP_COMPACTNESS_MIN")
        get_settings.cache_clear()
    warned = {w["units"][0] for w in report["compactness"]["warnings"]}
    assert warned >= {a, b} and report["valid"] is True  # a warning, not a refusal


def _commit_a_move_with_households(conn) -> tuple[int, str, str, int]:
    """Grow sector a into b by a strip holding 4 new households; (change, a, b, moved)."""
    a, b = neighbours(conn)[0]
    piece = strip(conn, a, b, 25)
    inner = piece.buffer(-0.00003)
    points = [p for p in shapely.points(np.column_stack([
        np.linspace(inner.bounds[0], inner.bounds[2], 400),
        np.linspace(inner.bounds[1], inner.bounds[3], 400),
    ])) if inner.contains(p)][:4]  # fmt: skip
    assert len(points) == 4
    for i, p in enumerate(points):
        conn.execute(
            text(
                "INSERT INTO households (id, address, geom, sector_code, grid2_code, "
                "community_code) VALUES (:id, '测试', ST_SetSRID(ST_MakePoint(:x, :y), 4326), "
                ":s, left(:s, 14), left(:s, 12))"
            ),
            {"id": f"CHANGE-TEST-{i}", "x": p.x, "y": p.y, "s": b},
        )
    new_a = shapely.union(current_sectors(conn)[a], piece)
    report = edits.put_sector(conn, a, new_a, "道路改线", ACTOR, [etag(conn, a)])
    return report["change"]["id"], a, b, report["moves"]["households"]["moved"]


def test_the_change_page_lists_what_moved_with_names_in_chinese_and_english(
    fresh_client, fresh_engine
):
    with fresh_engine.begin() as conn:
        change, a, b, moved = _commit_a_move_with_households(conn)
        names = dict(
            conn.execute(
                text("SELECT code, name_zh FROM units WHERE code IN (:a, :b) AND valid_to IS NULL"),
                {"a": a, "b": b},
            ).all()
        )
        incidents = conn.execute(
            text(
                "SELECT (summary->'moved'->>'incidents')::int FROM boundary_changes WHERE id = :i"
            ),
            {"i": change},
        ).scalar_one()
    assert moved == 4
    zh = fresh_client.get(f"/maps/boundaries/changes/{change}?lang=zh", headers=auth("official"))
    assert zh.status_code == 200
    page = zh.text
    assert message("editor.change.move_border", "zh") in page and "move_border" not in page
    assert "Nothing moves" not in page
    row = re.search(r'<tr data-kind="households">(.*?)</tr>', page, re.S).group(1)
    assert names[b] in row and b in row and names[a] in row and a in row
    assert re.search(r'<td class="num">\s*4\s*</td>', row)
    assert 'data-kind="households" data-count="4"' in page
    if incidents:
        assert f'data-kind="incidents" data-count="{incidents}"' in page
    en = fresh_client.get(f"/maps/boundaries/changes/{change}?lang=en", headers=auth("official"))
    assert message("editor.change.move_border", "en") in en.text
    with fresh_engine.connect() as conn:
        name_en = conn.execute(
            text("SELECT name_en FROM units WHERE code = :b AND valid_to IS NULL"), {"b": b}
        ).scalar_one()
    assert "4 households" in en.text and name_en in en.text  # names in the page's language
    assert "https://" not in page and "http://" not in en.text


def test_the_choropleth_classes_are_disjoint_and_hold_what_they_say():
    values = [1, 2, 4, 4, 5, 6, 7, 12, 13, 20, 21, 22, 40, None]
    klass, bins = classes(values)
    labels = class_labels(values, klass, len(bins))
    ranges = [tuple(int(x) for x in re.findall(r"\d+", label)) for label in labels]
    for (low, *_rest), previous in zip(ranges[1:], ranges, strict=False):
        assert low > previous[-1]  # the next class starts above the last one's top
    for value, k in zip(values, klass, strict=True):
        if value is not None:
            assert ranges[k][0] <= value <= ranges[k][-1]

"""The grid editor (/maps/planner) in a real browser: Debian's Chromium, offline, on a
private copy of the database (the editor writes), served by `gridmap serve`.

A planner drags a vertex two sectors share; the preview's households that change sector
must equal a count made here from the database with shapely; apply, reload, and the sector
is at its next version. Two pages on the same sector: when one applies, the other gets
the conflict message. Screenshots go to test-artifacts/web/.
"""

from __future__ import annotations

import json
from collections import defaultdict

import numpy as np
import pytest
import shapely
from shapely.geometry import MultiPolygon, Point, Polygon, shape
from sqlalchemy import text

from geo.publish.messages import message
from tests.conftest import ARTIFACTS, OfflineBrowser, auth, serve
from tests.test_web_browser import DESKTOP, PHONE, sign_in

SHOTS = ARTIFACTS / "web"
ZOOM = 17
#: households the test places in the land the drag hands over (all seeded households
#: lie in courtyards, and a courtyard may not be split, so a small drag moves none)
PLACED = 6
ROLLBACK = message("editor.history_rollback")


@pytest.fixture
def editor_url(fresh_url: str):
    """`gridmap serve` on this test's private copy of the seeded database."""
    with serve(fresh_url) as url:
        yield url


@pytest.fixture
def editor_browser(browser, editor_url):
    offline = OfflineBrowser(browser, editor_url)
    yield offline
    offline.close()
    assert offline.outside_requests == [], "a page tried to reach beyond 127.0.0.1"


def sectors(conn) -> dict:
    rows = conn.execute(
        text(
            "SELECT code, version, ST_AsGeoJSON(geom, 7) AS g FROM units "
            "WHERE level = 'sector' AND valid_to IS NULL ORDER BY code"
        )
    ).all()
    return {r.code: (shape(json.loads(r.g)), r.version) for r in rows}


def _parts(g):
    return list(g.geoms) if g.geom_type == "MultiPolygon" else [g]


def _key(xy) -> tuple[float, float]:
    return (round(xy[0], 7), round(xy[1], 7))


def keys(geom) -> set[tuple[float, float]]:
    return {_key(xy) for p in _parts(geom) for xy in p.exterior.coords}


def moved_to(geom, vertex, target):
    """`geom` with `vertex` moved to `target`."""

    def ring(coords):
        return [target if _key(xy) == vertex else xy for xy in coords]

    parts = [
        Polygon(ring(p.exterior.coords), [ring(i.coords) for i in p.interiors])
        for p in _parts(geom)
    ]
    return parts[0] if len(parts) == 1 else MultiPolygon(parts)


def plan_drag(conn):
    """A vertex inside one community shared by two or more sectors, and where to drag it
    (about 50 m) so that the land handed over touches no courtyard and nothing snaps:
    (vertex, target, the sectors sharing it, the land handed over)."""
    current = {code: g for code, (g, _) in sectors(conn).items()}
    yards = shapely.union_all(
        [
            shape(json.loads(g))
            for (g,) in conn.execute(
                text("SELECT ST_AsGeoJSON(geom, 7) FROM courtyards WHERE valid_to IS NULL")
            ).all()
        ]
    )
    sharing = defaultdict(set)
    for code, g in current.items():
        for p in _parts(g):
            for xy in p.exterior.coords:
                sharing[_key(xy)].add(code)
    outline = shapely.union_all(list(current.values())).boundary
    metre = 1 / 111_320
    for vertex, codes in sorted(sharing.items()):
        if len(codes) < 2 or len({c[:12] for c in codes}) > 1:
            continue
        if outline.distance(Point(vertex)) < 1e-6:
            continue
        others = [
            shapely.LineString([a, b])
            for code, g in current.items()
            for p in _parts(g)
            for a, b in zip(p.exterior.coords[:-1], p.exterior.coords[1:], strict=True)
            if _key(a) != vertex and _key(b) != vertex
        ]
        lines = shapely.union_all(others)
        for angle in np.linspace(0, 2 * np.pi, 16, endpoint=False):
            target = (
                vertex[0] + 55 * metre / np.cos(np.radians(vertex[1])) * np.cos(angle),
                vertex[1] + 55 * metre * np.sin(angle),
            )
            new = {c: moved_to(current[c], vertex, target) for c in codes}
            if not all(g.is_valid for g in new.values()):
                continue
            if lines.distance(Point(target)) < 30 * metre:
                continue
            handed = shapely.union_all([current[c].symmetric_difference(new[c]) for c in codes])
            if handed.buffer(6 * metre).intersects(yards) or handed.area < (300 * metre**2):
                continue
            return vertex, target, sorted(codes), handed
    raise AssertionError("no vertex of the seeded district can be dragged without a courtyard")


def place_households(conn, land, count: int) -> None:
    """`count` households at random points well inside `land`, attached as the service
    attaches (the lowest sector code covering the point)."""
    rng = np.random.default_rng(11)
    inner = land.buffer(-4 / 111_320)
    minx, miny, maxx, maxy = inner.bounds
    points = []
    while len(points) < count:
        p = Point(rng.uniform(minx, maxx), rng.uniform(miny, maxy))
        if inner.contains(p):
            points.append(p)
    for i, p in enumerate(points):
        conn.execute(
            text(
                "INSERT INTO households (id, address, geom, sector_code, grid2_code, "
                "community_code) "
                "SELECT :id, '测试住户', g, s.code, left(s.code, 14), left(s.code, 12) "
                "FROM (SELECT ST_SetSRID(ST_MakePoint(:x, :y), 4326) AS g) p "
                "CROSS JOIN LATERAL (SELECT code FROM units WHERE level = 'sector' "
                "AND valid_to IS NULL AND ST_Covers(geom, p.g) ORDER BY code LIMIT 1) s"
            ),
            {"id": f"EDITOR-TEST-{i}", "x": p.x, "y": p.y},
        )


def open_editor(editor_browser, code: str, viewport=DESKTOP):
    page = sign_in(editor_browser, "planner", viewport)
    page.goto(f"/maps/planner?code={code}")
    page.wait_for_selector("body[data-ready='1']")
    page.wait_for_selector("#unit:not([hidden])")
    return page


def drag(page, vertex, target) -> None:
    """Drag the vertex marker at `vertex` (lon, lat) to `target` with the mouse."""
    page.evaluate(
        "([lat, lng, z]) => gridEditor.map.setView([lat, lng], z, {animate: false})",
        [vertex[1], vertex[0], ZOOM],
    )
    page.wait_for_timeout(300)

    def pixel(lonlat):
        return page.evaluate(
            """([lat, lng]) => {
                const p = gridEditor.map.latLngToContainerPoint([lat, lng]);
                const r = gridEditor.map.getContainer().getBoundingClientRect();
                return [r.left + p.x, r.top + p.y];
            }""",
            [lonlat[1], lonlat[0]],
        )

    start, end = pixel(vertex), pixel(target)
    page.mouse.move(*start)
    page.mouse.down()
    page.mouse.move((start[0] + end[0]) / 2, (start[1] + end[1]) / 2, steps=8)
    page.mouse.move(*end, steps=8)
    page.mouse.up()


def drawn(page) -> dict:
    """The geometries the page will send: every sector the drag changed."""
    return page.evaluate(
        """() => Object.fromEntries(Object.keys(gridEditor.edited).map(
            c => [c, gridEditor.layers[c].toGeoJSON(7).geometry]))"""
    )


def households_changing_sector(conn, new: dict) -> int:
    """Households whose sector under the new layer (the current sectors, those drawn
    replaced; on a shared edge the lowest code) differs from the one they carry."""
    layer = {code: g for code, (g, _) in sectors(conn).items()}
    layer.update({code: shape(g) for code, g in new.items()})
    rows = conn.execute(text("SELECT sector_code, ST_X(geom), ST_Y(geom) FROM households")).all()
    points = shapely.points([(r[1], r[2]) for r in rows])
    now = np.array([r[0] for r in rows], dtype=object)
    after = np.full(len(rows), None, dtype=object)
    for code in sorted(layer):
        inside = shapely.covers(layer[code], points) & (after == None)  # noqa: E711
        after[inside] = code
    return int((after != now).sum())


def preview_households(page) -> int:
    page.wait_for_selector("#preview[data-state='valid']", timeout=30_000)
    counts = page.eval_on_selector_all(
        "#moves tr[data-kind='households'] td[data-count]",
        "cells => cells.map(c => Number(c.dataset.count))",
    )
    return sum(counts)


def shoot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SHOTS / f"{name}.png", full_page=True)


def test_dragging_a_shared_vertex_previews_the_households_it_moves_then_applies(
    editor_browser, fresh_engine
):
    with fresh_engine.begin() as conn:
        vertex, target, codes, handed = plan_drag(conn)
        place_households(conn, handed, PLACED)
        before = sectors(conn)
    code = codes[0]
    page = open_editor(editor_browser, code)
    assert page.text_content("#unit-code") == code
    version = int(page.get_attribute("#unit-version", "data-version"))
    assert version == before[code][1]

    drag(page, vertex, target)
    shown = preview_households(page)
    new = drawn(page)
    assert set(new) == set(codes)  # the shared vertex moved in every sector that has it
    added = keys(shape(new[code])) - keys(before[code][0])
    assert len(added) == 1  # the vertex dragged, where it was dropped
    for c in codes:  # ... is where every sector that shared it now has it
        assert vertex not in keys(shape(new[c])) and added <= keys(shape(new[c]))
    with fresh_engine.begin() as conn:
        expected = households_changing_sector(conn, new)
    assert expected >= PLACED - 1  # the drag handed over the land the households are on
    assert shown == expected
    assert page.get_attribute("#preview", "data-households-moved") == str(expected)
    assert page.locator("#load-sectors tbody tr").count() >= 2
    shoot(page, "editor_preview")

    page.click("#apply")  # no reason yet
    assert page.text_content("#message-text") == message("editor.reason_missing")
    page.fill("#reason", "道路改线 <b>测试</b>")
    page.click("#apply")
    page.wait_for_selector("body[data-applied]", timeout=30_000)
    assert "#" in page.text_content("#message-text")

    page.reload()
    page.wait_for_selector("body[data-ready='1']")
    page.wait_for_selector("#unit:not([hidden])")
    assert int(page.get_attribute("#unit-version", "data-version")) == version + 1
    page.click("#history-box > summary")
    page.wait_for_selector("#history li[data-version]")
    first = page.locator("#history li").first
    assert "道路改线 <b>测试</b>" in first.text_content()  # printed as text
    assert first.locator("b").count() == 0
    with fresh_engine.begin() as conn:
        after = sectors(conn)
    assert all(after[c][1] == before[c][1] + 1 for c in codes)
    shoot(page, "editor_desktop")
    page.set_viewport_size(PHONE)
    page.wait_for_timeout(300)
    shoot(page, "editor_phone")
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    page.set_viewport_size(DESKTOP)

    # the grid as it was: the slider's first stop is the initial load, read only
    page.click("#asof-box > summary")
    page.evaluate(
        """() => { const s = document.getElementById('asof'); s.value = '0';
                   s.dispatchEvent(new Event('change')); }"""
    )
    page.wait_for_selector("#asof-banner:not([hidden])")
    assert page.is_hidden("#unit")
    then = shape(page.evaluate(f"gridEditor.layers['{code}'].toGeoJSON(7).geometry"))
    assert then.equals_exact(before[code][0], 1e-7)
    page.click("#asof-back")
    page.wait_for_selector("#unit:not([hidden])")

    # roll back to version 1 from the history
    applied = page.get_attribute("body", "data-applied")
    page.click(f"#history li[data-version='{version}'] button:has-text('{ROLLBACK}')")
    page.wait_for_selector("#preview[data-state='valid']", timeout=30_000)
    assert preview_households(page) == expected  # the same households go back
    page.fill("#reason", "撤销测试调整")
    page.click("#apply")
    page.wait_for_function(
        "(before) => document.body.dataset.applied && document.body.dataset.applied !== before",
        arg=applied,
        timeout=30_000,
    )
    assert int(page.get_attribute("#unit-version", "data-version")) == version + 2
    with fresh_engine.begin() as conn:
        restored = sectors(conn)[code]
    assert restored[0].symmetric_difference(before[code][0]).area < 1e-10  # < ~1 m²
    assert page.problems == []


def test_a_page_whose_sector_another_planner_changed_gets_the_conflict_message(
    editor_browser, fresh_engine
):
    with fresh_engine.begin() as conn:
        vertex, target, codes, _ = plan_drag(conn)
    first = open_editor(editor_browser, codes[0])
    second = open_editor(editor_browser, codes[0])

    drag(first, vertex, target)
    first.wait_for_selector("#preview[data-state='valid']", timeout=30_000)
    first.fill("#reason", "第一位规划员")
    first.click("#apply")
    first.wait_for_selector("body[data-applied]", timeout=30_000)

    drag(second, vertex, target)
    second.wait_for_selector("#preview[data-state='conflict']", timeout=30_000)
    assert second.is_visible("#message.conflict")
    units = second.text_content("#message-text")
    assert units == message("editor.conflict", units=", ".join(sorted(drawn(second))))
    assert second.is_visible("#reload")
    shoot(second, "editor_conflict")
    second.click("#reload")
    second.wait_for_selector("#message", state="hidden")
    with fresh_engine.begin() as conn:
        now = sectors(conn)[codes[0]][1]
    assert int(second.get_attribute("#unit-version", "data-version")) == now


@pytest.mark.parametrize("role", ["patrol", "grid_worker", "official"])
def test_only_planners_and_admins_open_the_editor(client, role):
    page = client.get("/maps/planner", headers={**auth(role), "Accept": "text/html"})
    assert page.status_code == 403


@pytest.mark.parametrize("role", ["planner", "admin"])
def test_the_editor_page_loads_only_vendored_assets(client, role):
    client.cookies.clear()  # no language chosen yet
    page = client.get("/maps/planner", headers={**auth(role), "Accept": "text/html"})
    assert page.status_code == 200
    assert "leaflet-geoman.min.js" in page.text
    assert "http://" not in page.text and "https://" not in page.text
    assert f"<h1>{message('editor')}</h1>" in page.text  # Chinese by default
    english = client.get("/maps/planner?lang=en", headers={**auth(role), "Accept": "text/html"})
    assert f"<h1>{message('editor', 'en')}</h1>" in english.text
    assert '"lang": "en"' in english.text  # the script's labels are English too
    client.cookies.clear()


def test_merging_a_neighbour_previews_all_its_households_moving_in(editor_browser, fresh_engine):
    with fresh_engine.begin() as conn:
        _, _, codes, _ = plan_drag(conn)
        households = conn.execute(
            text("SELECT count(*) FROM households WHERE sector_code = :c"), {"c": codes[1]}
        ).scalar_one()
    page = open_editor(editor_browser, codes[0])
    page.click("#tools > summary")
    assert codes[1] in page.eval_on_selector_all(
        "#merge-with option", "options => options.map(o => o.value)"
    )
    page.select_option("#merge-with", codes[1])
    page.wait_for_selector("#preview:is([data-state='valid'], [data-state='invalid'])")
    if page.get_attribute("#preview", "data-state") == "valid":
        assert preview_households(page) == households
    else:  # refused: each problem is listed and drawn on the map
        assert (
            page.locator("#problems li").count()
            == page.evaluate("gridEditor.report.problems.length")
            > 0
        )
    assert page.problems == []


def test_a_split_line_drawn_on_the_map_is_previewed_with_its_problems_on_the_map(
    editor_browser, fresh_engine
):
    with fresh_engine.begin() as conn:
        _, _, codes, _ = plan_drag(conn)
        geom = sectors(conn)[codes[0]][0]
    minx, miny, maxx, maxy = geom.bounds
    pad = (maxx - minx) * 0.15
    for share in (0.5, 0.4, 0.6, 0.3, 0.7):  # a line across the sector that crosses it once
        y = miny + (maxy - miny) * share
        line = shapely.LineString([(minx - pad, y), (maxx + pad, y)])
        if line.intersection(geom).geom_type == "LineString":
            break
    page = open_editor(editor_browser, codes[0])
    page.evaluate(
        "([s, w, n, e]) => gridEditor.map.fitBounds([[s, w], [n, e]], {animate: false})",
        [miny, minx - pad, maxy, maxx + pad],
    )
    page.click("#tools > summary")
    page.fill("#split-name", "新片区<i>")
    page.click("#split-draw")
    ends = [
        page.evaluate(
            """([lat, lng]) => {
                const p = gridEditor.map.latLngToContainerPoint([lat, lng]);
                const r = gridEditor.map.getContainer().getBoundingClientRect();
                return [r.left + p.x, r.top + p.y];
            }""",
            [y, x],
        )
        for x, y in line.coords
    ]
    page.mouse.click(*ends[0])
    page.mouse.click(*ends[1])
    page.mouse.click(*ends[1])  # clicking the last point finishes the line
    page.wait_for_selector("#preview:is([data-state='valid'], [data-state='invalid'])")
    report = page.evaluate("gridEditor.report")
    assert page.text_content("#unit-code") == codes[0]  # the clicks drew, not selected
    pending = page.evaluate("gridEditor.pending")
    assert (pending["kind"], pending["code"], pending["name"]) == ("split", codes[0], "新片区<i>")
    assert len(pending["line"]["coordinates"]) == 2
    assert report["kind"] == "split" if report["valid"] else report["problems"]
    drawn_problems = page.evaluate("gridEditor.problemShapes")
    assert drawn_problems == sum(1 for p in report["problems"] if p.get("where"))
    assert page.locator("#problems li").count() == len(report["problems"])
    if report["valid"]:  # the new sector is among the units the split writes
        created = [u for u in report["units"] if u["action"] == "created"]
        assert created and page.is_visible("#apply")
    assert page.problems == []
    shoot(page, "editor_split")

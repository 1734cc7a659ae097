"""The plans panel of the grid editor in Chromium (offline, a private database copy served
by `gridmap serve`): a plan of three edits — move a border by dragging a shared vertex,
split another sector along a line drawn on the map, assign a worker to the new sector —
undo one, redo it, compare with the layer in force (the households moved equal a shapely
count made here from the households' points and the two layers), apply it as one change and
find one version step. Screenshots at desktop and 390 px go to test-artifacts/web/."""

from __future__ import annotations

from sqlalchemy import text

from tests.plan_support import households_moved, split_line
from tests.test_editor_browser import (  # noqa: F401  (fixtures)
    PLACED,
    SHOTS,
    drag,
    editor_browser,
    editor_url,
    open_editor,
    place_households,
    plan_drag,
)
from tests.test_web_browser import DESKTOP

PHONE_390 = {"width": 390, "height": 844}


def shoot(page, name: str) -> None:
    """The viewport, the plans panel, and the comparison below the editor."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SHOTS / f"{name}.png", timeout=120_000)
    page.locator("#plans").screenshot(path=SHOTS / f"{name}_panel.png", timeout=120_000)
    compare = page.locator("#plan-compare-box")
    if compare.is_visible():
        compare.screenshot(path=SHOTS / f"{name}_compare.png", timeout=120_000)


def versions(conn) -> dict[str, int]:
    return dict(conn.execute(text("SELECT code, max(version) FROM units GROUP BY code")).all())


def pixel(page, lon: float, lat: float) -> list[float]:
    return page.evaluate(
        """([lat, lng]) => {
            const p = gridEditor.map.latLngToContainerPoint([lat, lng]);
            const r = gridEditor.map.getContainer().getBoundingClientRect();
            return [r.left + p.x, r.top + p.y];
        }""",
        [lat, lon],
    )


def draw_split(page, code: str, line) -> None:
    """Choose sector `code` and draw `line` across it with the split tool."""
    page.select_option("#sector-select", code)
    page.wait_for_selector(f"#unit-code:text('{code}')")
    minx, miny, maxx, maxy = line.bounds
    page.evaluate(
        "([s, w, n, e]) => gridEditor.map.fitBounds([[s, w], [n, e]], {animate: false})",
        [miny, minx, maxy, maxx],
    )
    page.wait_for_timeout(300)
    if not page.is_visible("#split-draw"):
        page.click("#tools > summary")
    page.click("#split-draw")
    start, end = (pixel(page, x, y) for x, y in line.coords)
    page.mouse.click(*start)
    page.mouse.click(*end)
    page.mouse.click(*end)  # clicking the last point finishes the line


def add_to_plan(page, count: int) -> None:
    page.wait_for_selector("#preview[data-state='valid']", timeout=60_000)
    page.wait_for_selector("#plan-add:not([hidden])")
    assert page.is_hidden("#apply-box")  # a plan's edit goes into the plan, not live
    page.click("#plan-add")
    page.wait_for_selector(f"body[data-plan-edits='{count}']", timeout=60_000)


def test_a_plan_of_three_edits_built_in_the_editor_compares_and_applies_as_one_change(
    editor_browser,  # noqa: F811  (the fixture imported above)
    fresh_engine,
):
    with fresh_engine.begin() as conn:
        vertex, target, codes, handed = plan_drag(conn)
        place_households(conn, handed, PLACED)
        split_code = conn.execute(
            text(
                "SELECT sector_code FROM households WHERE sector_code <> ALL(:c) "
                "GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT 1"
            ),
            {"c": codes},
        ).scalar_one()
        line = split_line(conn, split_code)
        worker = conn.execute(
            text(
                "SELECT id FROM resources WHERE kind = 'grid_worker' AND retired_at IS NULL "
                "AND serves_code = :c ORDER BY id LIMIT 1"
            ),
            {"c": split_code},
        ).scalar_one()
        start_changes = conn.execute(text("SELECT count(*) FROM boundary_changes")).scalar_one()
        before = versions(conn)

    page = open_editor(editor_browser, codes[0])
    page.fill("#plan-name", "东片调整 <b>方案</b>")
    page.click("#plan-create")
    page.wait_for_selector("#plan-box:not([hidden])")
    assert "东片调整 <b>方案</b>" in page.text_content("#plan-select")  # names are text

    drag(page, vertex, target)  # 1. move a border
    add_to_plan(page, 1)
    draw_split(page, split_code, line)  # 2. split another sector
    add_to_plan(page, 2)
    page.wait_for_selector("#plan-assign:not([hidden])")  # 3. the split offers a worker
    new_sector = page.evaluate("gridPlans.newSector")
    assert new_sector.startswith(split_code[:14]) and new_sector != split_code
    # the editor draws the plan's layer, not the one in force: the new sector is on the map
    plan_id = page.evaluate("gridPlans.current.id")
    page.wait_for_selector(f"body[data-layer-plan='{plan_id}']")
    assert new_sector in page.evaluate("Object.keys(gridEditor.layers)")
    assert page.locator(f"#sector-select option[value='{new_sector}']").count() == 1
    page.select_option("#plan-worker", worker)
    page.click("#plan-assign-button")
    page.wait_for_selector("body[data-plan-edits='3']", timeout=60_000)
    assert page.locator("#plan-edits li").count() == 3

    page.click("#plan-undo")
    page.wait_for_selector("body[data-plan-edits='2']")
    assert page.get_attribute("#plan-edits li[data-seq='3']", "data-active") == "0"
    page.click("#plan-redo")
    page.wait_for_selector("body[data-plan-edits='3']", timeout=60_000)
    assert page.get_attribute("#plan-edits li[data-seq='3']", "data-active") == "1"

    page.click("#plan-compare")
    page.wait_for_selector("body[data-compared='1']", timeout=90_000)
    shown = int(page.get_attribute("#plan-moved", "data-households-moved"))
    comparison = page.evaluate("gridPlans.comparison")
    with fresh_engine.connect() as conn:
        independent = households_moved(
            conn, comparison["before"]["sectors"], comparison["after"]["sectors"]
        )
    assert shown == independent >= PLACED - 1
    row = page.locator(f"#plan-table tr[data-code='{new_sector}']")
    assert row.count() == 1 and "0 → 1" in row.text_content()  # the worker follows the plan
    page.wait_for_timeout(500)
    shoot(page, "plans_compare_desktop")
    page.set_viewport_size(PHONE_390)
    page.wait_for_timeout(500)
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE_390["width"]
    maps = page.eval_on_selector_all(
        ".plan-map", "els => els.map(e => e.getBoundingClientRect().toJSON())"
    )
    assert maps[1]["top"] >= maps[0]["bottom"]  # stacked on a phone
    shoot(page, "plans_compare_phone")
    page.set_viewport_size(DESKTOP)

    page.fill("#plan-reason", "新建道路与小区")
    page.click("#plan-apply")
    page.wait_for_selector("body[data-plan-applied]", timeout=90_000)
    with fresh_engine.connect() as conn:
        changes = conn.execute(text("SELECT count(*) FROM boundary_changes")).scalar_one()
        kind = conn.execute(
            text("SELECT kind FROM boundary_changes ORDER BY id DESC LIMIT 1")
        ).scalar_one()
        after = versions(conn)
        serves = conn.execute(
            text("SELECT serves_code FROM resources WHERE id = :w"), {"w": worker}
        ).scalar_one()
    assert changes == start_changes + 1 and kind == "plan"
    page.wait_for_selector("body[data-layer-plan='']")  # back on the layer in force
    assert new_sector in page.evaluate("Object.keys(gridEditor.layers)")
    stepped = {c: after[c] - before.get(c, 0) for c in after if after[c] != before.get(c)}
    assert set(stepped.values()) == {1} and {*codes, split_code, new_sector} <= set(stepped)
    assert serves == new_sector
    shoot(page, "plans_applied_desktop")

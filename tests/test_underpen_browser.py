"""What lies under the pen, in Debian's Chromium with the network beyond 127.0.0.1 blocked:
the editor's balance bars for every sector and level-2 grid (updated from a preview), the
courtyards and their households, the courtyard a split would cut named in the warning, the
committed-change page in both languages, and street names on every map page at 390 px and
on a desktop. Screenshots go to test-artifacts/web/."""

from __future__ import annotations

import json

import pytest
import shapely
from shapely.geometry import shape
from sqlalchemy import text

from geo.publish.messages import message
from tests.conftest import ARTIFACTS, auth
from tests.test_web_browser import DESKTOP, sign_in

SHOTS = ARTIFACTS / "web"
#: an arterial street of data/boundaries/streets.geojson (its name shows at every zoom)
STREET = "阳关路"
STREET_EN = "Yangguan Road"
LABEL = ".leaflet-tooltip.gm-street"
PHONE_390 = {"width": 390, "height": 844}


def shoot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SHOTS / f"{name}.png", full_page=True)


def street_label(page, name: str = STREET) -> None:
    """Wait for the street's name as a map label, and check it is shown."""
    label = page.locator(LABEL, has_text=name).first
    label.wait_for(state="visible", timeout=20_000)
    assert label.text_content() == name


def open_editor(offline_browser, viewport, lang="zh"):
    page = sign_in(offline_browser, "planner", viewport)
    page.goto(f"/maps/planner?lang={lang}")
    page.wait_for_selector("body[data-ready='1']")
    page.wait_for_selector("body[data-layers-ready='1']", timeout=30_000)
    return page


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE_390], ids=["desktop", "390px"])
def test_the_editor_shows_balance_bars_courtyards_and_streets(offline_browser, client, viewport):
    balance = client.get("/api/planning/balance", headers=auth("planner")).json()
    page = open_editor(offline_browser, viewport)
    sectors = page.eval_on_selector_all(
        "#balance-sectors li",
        "rows => rows.map(r => [r.dataset.code, r.dataset.state, "
        "r.querySelector('.fig').dataset.householdsPerWorker])",
    )
    assert len(sectors) == len(balance["sectors"]) == 22
    assert page.locator("#balance-grids li").count() == len(balance["grids"]) == 12
    truth = {r["code"]: r for r in balance["sectors"]}
    low, high = balance["band"]
    for code, state, per_worker in sectors:
        row = truth[code]
        if row["households_per_worker"] is None:
            assert per_worker == "" and state == "none"
        else:
            assert float(per_worker) == pytest.approx(row["households_per_worker"])
        if row["households_per_worker"] is not None:
            expected = (
                "over"
                if row["households_per_worker"] > high
                else ("under" if row["households_per_worker"] < low else "in")
            )
            assert state == expected
    out = sum(1 for _c, s, _p in sectors if s != "in")
    assert page.evaluate("gridEditorLayers.layers.band.getLayers().length") == out
    street_label(page)
    yard = page.locator(".leaflet-tooltip.gm-yard", has_text="锦绣小区")
    assert yard.count() == 1
    assert page.evaluate("Object.keys(gridEditorLayers.yards).length") == 60
    assert page.problems == []
    shoot(page, f"underpen_editor_{viewport['width']}")


def _courtyard_to_split(seeded_engine):
    """A courtyard, its sector, and a horizontal line through the courtyard that crosses
    the sector once: (code, name_zh, name_en, sector, line)."""
    with seeded_engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT c.code, c.name_zh, c.name_en, c.sector_code, ST_AsGeoJSON(c.geom), "
                "ST_AsGeoJSON(u.geom) FROM courtyards c JOIN units u ON u.code = c.sector_code "
                "AND u.valid_to IS NULL WHERE c.valid_to IS NULL ORDER BY c.code"
            )
        ).all()
    for code, zh, en, sector, yard, geom in rows:
        yard, geom = shape(json.loads(yard)), shape(json.loads(geom))
        y = yard.centroid.y
        minx, _, maxx, _ = geom.bounds
        pad = (maxx - minx) * 0.1
        line = shapely.LineString([(minx - pad, y), (maxx + pad, y)])
        if line.intersection(geom).geom_type == "LineString":
            return code, zh, en, sector, line, geom
    raise AssertionError("no courtyard a straight line can cut")


def _draw_split(page, line, geom) -> None:
    """Show the sector with a margin, then click the line's two ends with the split tool
    (clicking the last point again finishes the line)."""
    minx, miny, maxx, maxy = geom.bounds
    pad = (maxx - minx) * 0.15
    page.evaluate(
        "([s, w, n, e]) => gridEditor.map.fitBounds([[s, w], [n, e]], {animate: false})",
        [miny, minx - pad, maxy, maxx + pad],
    )
    page.click("#tools > summary")
    page.click("#split-draw")
    first, last = page.evaluate(
        """(ends) => ends.map(([lng, lat]) => {
            const box = gridEditor.map.getContainer().getBoundingClientRect();
            const at = gridEditor.map.latLngToContainerPoint([lat, lng]);
            return [box.left + at.x, box.top + at.y];
        })""",
        [list(xy) for xy in line.coords],
    )
    for point in (first, last, last):
        page.mouse.click(*point)


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_a_split_through_a_courtyard_highlights_it_and_names_it_in_the_warning(
    offline_browser, seeded_engine, lang
):
    code, zh, en, sector, line, geom = _courtyard_to_split(seeded_engine)
    page = open_editor(offline_browser, DESKTOP, lang)
    page.select_option("#sector-select", sector)
    _draw_split(page, line, geom)
    page.wait_for_selector("#split-warning:not([hidden])", timeout=30_000)
    warning = page.text_content("#split-warning")
    name = en if lang == "en" else zh
    kind = page.evaluate(f"gridEditorLayers.yards['{code}'].feature.properties.kind")
    assert warning == message(
        "editor.split_warning", lang, name=name, kind=message(f"term.{kind}", lang), code=code
    )
    assert page.get_attribute("#split-warning", "data-courtyards") == code
    assert page.locator(".leaflet-tooltip.gm-yard-split", has_text=name).count() == 1
    assert page.problems == []
    page.locator("#split-warning").scroll_into_view_if_needed()
    page.screenshot(path=SHOTS / f"underpen_split_warning_{lang}.png")  # the viewport


def test_a_merge_preview_updates_the_balance_bars_of_the_whole_district(offline_browser):
    page = open_editor(offline_browser, DESKTOP)
    codes = page.eval_on_selector_all("#balance-sectors li", "r => r.map(x => x.dataset.code)")
    page.select_option("#sector-select", codes[0])
    page.click("#tools > summary")
    other = page.eval_on_selector("#merge-with", "s => s.options[1] && s.options[1].value")
    assert other
    page.select_option("#merge-with", other)
    page.wait_for_selector("#preview:is([data-state='valid'], [data-state='invalid'])")
    report = page.evaluate("gridEditor.report")
    if not report["valid"]:
        pytest.skip(f"the merge is refused here: {report['problems'][0]['detail']}")
    page.wait_for_selector("#balance-sectors li[data-changed]")
    shown = page.eval_on_selector_all("#balance-sectors li", "r => r.map(x => x.dataset.code)")
    assert len(shown) == 21  # the merged-away sector is gone from the bars
    retired = {u["code"] for u in report["units"] if u["action"] == "retired"}
    kept = {r["code"] for r in report["load"]["sectors"]} - retired
    changed = page.eval_on_selector_all(
        "#balance-sectors li[data-changed]", "r => r.map(x => x.dataset.code)"
    )
    assert set(changed) == kept
    merged = next(r for r in report["load"]["sectors"] if r["code"] in kept)
    figure = page.get_attribute(
        f"#balance-sectors li[data-code='{merged['code']}'] .fig", "data-households-per-worker"
    )
    assert float(figure) == pytest.approx(merged["households_per_worker_after"], abs=0.05)
    assert page.locator("#shape-list li").count() >= 1
    page.locator("#balance").scroll_into_view_if_needed()
    page.screenshot(path=SHOTS / "underpen_merge_balance.png")


@pytest.mark.parametrize("viewport", [PHONE_390, DESKTOP], ids=["390px", "desktop"])
def test_every_map_page_shows_street_names_offline(offline_browser, seeded_engine, viewport):
    with seeded_engine.connect() as conn:
        case = conn.execute(text("SELECT id FROM incidents ORDER BY id LIMIT 1")).scalar_one()
        change = conn.execute(text("SELECT min(id) FROM boundary_changes")).scalar_one()
    pages = {
        "admin": [
            "/maps/incidents",
            "/maps/incidents/weekly",
            "/maps/hotspots",
            "/maps/coverage",
            "/maps/planner",
            f"/maps/boundaries/changes/{change}",
            "/desk",
            "/cases/new",
            f"/cases/{case}",
        ],
    }
    for role, paths in pages.items():
        page = sign_in(offline_browser, role, viewport)
        for path in paths:
            page.goto(path)
            street_label(page)
            shoot(page, f"underpen_streets{path.replace('/', '_')}_{viewport['width']}")
        assert page.problems == [], page.problems


def test_the_change_page_in_english_names_streets_in_english(offline_browser, seeded_engine):
    with seeded_engine.connect() as conn:
        change = conn.execute(text("SELECT min(id) FROM boundary_changes")).scalar_one()
    page = sign_in(offline_browser, "official", PHONE_390)
    page.goto(f"/maps/boundaries/changes/{change}?lang=en")
    street_label(page, STREET_EN)
    assert message("editor.change.initial_load", "en") in page.text_content("h1")
    assert page.problems == []
    shoot(page, "underpen_change_en_390")

"""The map pages in a real browser: headless Debian Chromium, driven by Playwright, against
the running service, with every request to another host blocked.

`make test` installs Debian's Chromium with apt when it is missing (never a downloaded
browser build). Screenshots go to test-artifacts/ (git-ignored).
"""

from __future__ import annotations

import pytest

from tests.conftest import ARTIFACTS, sign_in


class Visit:
    """A fresh browser profile, signed in through /login, with the outside world cut off."""

    def __init__(self, browser, base: str, width: int = 1200, height: int = 800):
        self.base = base
        self.context = browser.new_context(viewport={"width": width, "height": height})
        self.requested: list[str] = []
        self.blocked: list[str] = []
        self.errors: list[str] = []
        self.context.route("**/*", self._route)
        self.page = self.context.new_page()
        self.page.on("pageerror", lambda error: self.errors.append(str(error)))

    def _route(self, route):
        url = route.request.url
        self.requested.append(url)
        if url.startswith(self.base + "/"):
            route.continue_()
        else:
            self.blocked.append(url)
            route.abort()

    def sign_in(self, role: str, next_path: str) -> None:
        sign_in(self.page, role, next_path, self.base)
        self.page.wait_for_load_state("networkidle")

    def close(self) -> None:
        self.context.close()


@pytest.fixture(scope="module")
def service(live_url):
    """The base URL of `gridmap serve` on the seeded test database."""
    return live_url


@pytest.fixture
def visit(browser, service):
    visits = []

    def open_(width: int = 1200, height: int = 800) -> Visit:
        v = Visit(browser, service, width, height)
        visits.append(v)
        return v

    yield open_
    for v in visits:
        v.close()


def heat_pixels(page) -> int:
    """Painted pixels of the heat layer's canvas."""
    return page.evaluate(
        """() => {
          const c = document.querySelector('canvas.leaflet-heatmap-layer');
          if (!c) return -1;
          const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
          let n = 0;
          for (let i = 3; i < d.length; i += 4) if (d[i] > 0) n++;
          return n;
        }"""
    )


def test_the_incident_map_draws_offline_in_chromium(visit, service):
    v = visit()
    v.sign_in("patrol", "/maps/incidents")
    page = v.page
    assert page.url.startswith(f"{service}/maps/incidents")
    page.wait_for_function("() => window.gmMap && window.gmHeat && window.gmHeat._map")
    page.wait_for_timeout(500)
    assert page.evaluate("() => typeof L === 'object' && window.gmMap instanceof L.Map")
    assert page.evaluate("() => L.version") == "1.9.4"
    assert heat_pixels(page) > 1000, "the heat layer drew on its canvas"
    boundaries = page.evaluate("() => document.querySelectorAll('path.leaflet-interactive').length")
    assert boundaries >= 3 + 12 + 22
    labels = page.locator(".gm-label-community").all_inner_texts()
    assert len(labels) == 3 and any("官北沟" in t for t in labels)
    assert page.locator("text=Incident heat map").is_visible()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=ARTIFACTS / "maps-incidents.png")
    assert v.errors == []
    assert v.blocked == [], "nothing was requested from another host"
    assert all(url.startswith(f"{service}/") for url in v.requested)
    assert any("/static/maps/vendor/leaflet-1.9.4/dist/leaflet.js" in u for u in v.requested)


def test_the_incident_map_is_usable_on_a_360_pixel_phone(visit, service):
    v = visit(width=360, height=740)
    v.sign_in("grid_worker", "/maps/incidents")
    page = v.page
    page.wait_for_function("() => window.gmMap && window.gmHeat && window.gmHeat._map")
    page.wait_for_timeout(300)
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 360
    panel = page.locator("#gm-top").bounding_box()
    assert panel["x"] >= 0 and panel["x"] + panel["width"] <= 360
    assert page.evaluate("() => L.Browser.touch !== undefined")
    # on arrival the filters are folded: the panel leaves the map's middle and bottom free
    assert page.eval_on_selector("details.gm-filters", "d => d.open") is False
    assert panel["y"] + panel["height"] <= 740 * 0.3
    page.screenshot(path=ARTIFACTS / "maps-incidents-360-first.png")
    # the filters open and their controls are large enough to touch
    page.click("text=筛选 · Filters")
    for control in ("#gm-cat", "#gm-since", "#gm-grid", "button[type=submit]"):
        box = page.locator(control).bounding_box()
        assert box["height"] >= 32, control
        assert box["x"] + box["width"] <= panel["x"] + panel["width"], control
    assert heat_pixels(page) > 0
    page.screenshot(path=ARTIFACTS / "maps-incidents-360.png")
    assert v.errors == [] and v.blocked == []


def test_the_filter_controls_reload_the_map_with_their_parameters(visit, service):
    v = visit()
    v.sign_in("patrol", "/maps/incidents")
    page = v.page
    page.click("text=筛选 · Filters")
    page.select_option("#gm-cat", "sanitation")
    page.click("button[type=submit]")
    page.wait_for_load_state("networkidle")
    assert "category=sanitation" in page.url
    assert "环境卫生" in page.locator("#gm-top").inner_text()
    assert v.errors == [] and v.blocked == []


@pytest.mark.parametrize(
    ("path", "ready"),
    [
        ("/maps/hotspots", "() => window.gmMap && document.querySelector('.gm-legend')"),
        (
            "/maps/incidents/weekly",
            "() => window.gmMap && document.querySelector('.timecontrol-play')",
        ),
        (
            "/maps/coverage?level=grid2&metric=households_per_worker",
            "() => window.gmMap && document.querySelectorAll('path.leaflet-interactive')"
            ".length >= 12 && document.querySelector('.gm-legend')",
        ),
    ],
)
def test_the_hotspot_weekly_and_coverage_maps_draw_offline(visit, service, path, ready):
    v = visit()
    v.sign_in("official", path)
    v.page.wait_for_function(ready)
    v.page.wait_for_timeout(300)
    name = path.split("?")[0].strip("/").replace("/", "-")
    v.page.screenshot(path=ARTIFACTS / f"{name}.png")
    assert v.errors == []
    assert v.blocked == []

"""The people's pages over HTTP: home per role, coverage table, language, escaping, errors."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from api.main import create_app
from tests.conftest import TOKENS, auth

ROLES = ["admin", "planner", "patrol", "grid_worker", "official", "supervisor"]
COVERAGE_ROLES = {"admin", "planner", "grid_worker", "official", "supervisor"}
MAPS = {"maps.incidents", "maps.hotspots", "maps.coverage"}
#: the case desk's links: my cases and report (case roles), the command centre (the desk)
CASES = {"cases.nav", "cases.report_nav"}
#: what each role's home page links to (the issue: patrols one tap to the incident map,
#: officials the coverage table and map, planners also the editor)
HOME_LINKS = {
    "admin": MAPS
    | CASES
    | {"cases.desk_nav", "coverage.table", "eval.table", "gis", "editor"}
    | {"users.title", "admin.people", "admin.categories", "webhooks.nav"},
    "planner": MAPS | {"coverage.table", "eval.table", "gis", "editor"},
    "patrol": CASES | {"maps.incidents", "maps.hotspots", "gis"},
    "grid_worker": MAPS | CASES | {"coverage.table", "eval.table", "gis"},
    "official": MAPS | {"coverage.table", "eval.table", "gis"},
    "supervisor": MAPS | CASES | {"cases.desk_nav", "coverage.table", "eval.table", "gis"},
}
CJK = re.compile(r"[\u3400-\u9fff]")
HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)>'


class Page(HTMLParser):
    """A page's visible text (without the language switch) and its elements' attributes."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.texts: list[str] = []
        self.elements: list[tuple[str, dict]] = []
        self._skip = 0
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        self.elements.append((tag, attributes))
        if self._skip or tag in ("script", "style") or attributes.get("id") == "lang-switch":
            self._skip += 1

    def handle_endtag(self, tag):
        if self._skip:
            self._skip -= 1

    def handle_data(self, data):
        if not self._skip and data.strip():
            self.texts.append(data.strip())

    @property
    def text(self) -> str:
        return " ".join(self.texts)

    def all(self, attribute: str, tag: str | None = None) -> list[str]:
        return [a[attribute] for t, a in self.elements if attribute in a and tag in (None, t)]

    def cells(self, code: str) -> list[str]:
        """The `data-v` of each cell of the table row of unit `code`, in order."""
        values, inside = [], False
        for tag, attributes in self.elements:
            if tag == "tr":
                inside = attributes.get("data-code") == code
            elif inside and tag in ("th", "td") and "data-v" in attributes:
                values.append(attributes["data-v"])
        return values

    def by_id(self, element_id: str) -> dict:
        return next(a for _, a in self.elements if a.get("id") == element_id)

    def stat(self, name: str) -> int:
        match = re.search(rf'data-stat="{name}"><span class="value">([\d,]+)<', self.html)
        return int(match.group(1).replace(",", ""))


@pytest.fixture(scope="module")
def pages(seeded_url):
    """A client of its own: the language cookie it collects stays out of other tests."""
    with TestClient(create_app()) as client:
        yield client


def get(client, path: str, role: str | None = None, **headers) -> Page:
    response = client.get(path, headers={**(auth(role) if role else {}), **headers})
    assert response.status_code == 200, response.text
    page = Page(response.text)
    page.html = response.text
    return page


def test_without_a_session_the_home_page_sends_the_browser_to_sign_in(pages):
    response = pages.get("/", headers={"Accept": "text/html"}, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/login?next=/"


@pytest.mark.parametrize("role", ROLES)
def test_each_role_sees_the_links_its_permissions_allow(pages, role):
    page = get(pages, "/", role)
    assert set(page.all("data-link")) == HOME_LINKS[role]
    downloads = {h for h in page.all("href") if h.startswith("/api/coverage")}
    expected = {
        f"/api/coverage?level={level}&format={fmt}"
        for level in ("community", "grid2", "sector")
        for fmt in ("csv", "xlsx", "gpkg")
    }
    assert downloads == (expected if role in COVERAGE_ROLES else set())
    assert ('id="own-grids"' in page.html) == (role == "grid_worker")
    assert ("重点人群事件" in page.text) == (role not in ("admin", "supervisor"))


def test_the_home_page_counts_what_the_role_may_see(pages, seeded_engine):
    with seeded_engine.connect() as conn:
        households, shops, sectors, open_all, open_plain = conn.execute(
            text(
                "SELECT (SELECT count(*) FROM households), "
                "(SELECT count(*) FROM businesses WHERE kind = 'shop'), "
                "(SELECT count(*) FROM units WHERE level = 'sector' AND valid_to IS NULL), "
                "count(*), count(*) FILTER (WHERE NOT c.sensitive) "
                "FROM incidents i JOIN incident_categories c ON c.code = i.category "
                "WHERE i.status NOT IN ('verified', 'rejected', 'duplicate')"
            )
        ).one()
    admin, official = get(pages, "/", "admin"), get(pages, "/", "official")
    for page in (admin, official):
        assert (page.stat("households"), page.stat("shops")) == (households, shops)
        assert page.stat("sector") == sectors
    assert admin.stat("incidents_open") == open_all
    assert official.stat("incidents_open") == open_plain < open_all


def test_the_language_is_chinese_first_and_english_by_a_remembered_switch():
    with TestClient(create_app()) as client:
        chinese = get(client, "/", "official")
        assert '<html lang="zh-CN">' in chinese.html and "您好" in chinese.text
        assert chinese.by_id("lang-switch")["href"] == "/?lang=en"
        switched = client.get("/?lang=en", headers=auth("official"))
        assert "lang=en" in switched.headers["set-cookie"]
        english = get(client, "/", "official")  # no parameter: the cookie remembers
        assert '<html lang="en">' in english.html and "Welcome, test official" in english.text
        back = get(client, "/coverage?level=grid2&lang=zh", "official")
        assert '<html lang="zh-CN">' in back.html
        assert 'href="/coverage?level=grid2&amp;lang=en"' in back.html


@pytest.mark.parametrize("role", ROLES)
def test_english_pages_print_no_chinese_label(pages, role):
    paths = ["/?lang=en", "/login?lang=en"]
    if role in COVERAGE_ROLES:
        paths += [f"/coverage?level={level}&lang=en" for level in ("sector", "grid2", "community")]
    for path in paths:
        page = get(pages, path, role)
        assert CJK.findall(page.text) == [], path


@pytest.mark.parametrize("level", ["sector", "grid2", "community"])
def test_the_coverage_page_has_a_row_per_unit_with_the_apis_figures(pages, level):
    api = pages.get("/api/coverage", params={"level": level}, headers=auth("official")).json()
    page = get(pages, f"/coverage?level={level}&lang=zh", "official")
    rows = re.findall(r'<tr data-code="(\d+)" data-flags="([^"]*)"', page.html)
    assert [code for code, _ in rows] == [r["code"] for r in api["rows"]]
    assert [flags.split() for _, flags in rows] == [
        [f["flag"] for f in r["flags"]] for r in api["rows"]
    ]
    keys = page.all("data-key", "th")
    cells = [page.cells(code) for code, _ in rows]
    assert all(len(row) == len(keys) for row in cells)
    for api_row, values in zip(api["rows"], cells, strict=True):
        shown = dict(zip(keys, values, strict=True))
        assert shown["code"] == api_row["code"] and shown["name"] == api_row["name_zh"]
        assert int(shown["flags"]) == len(api_row["flags"])
        for key in keys[2:-1]:  # every metric column
            expected = api_row[key]
            assert (None if shown[key] == "" else float(shown[key])) == expected, key
    links = [h for h in page.all("href") if h.startswith("/maps/coverage")]
    assert links == [f"/maps/coverage?level={level}&unit={r['code']}" for r in api["rows"]]
    assert f"/api/coverage?level={level}&format=gpkg" in page.all("href")


def test_names_from_imported_files_are_printed_as_text(fresh_client, fresh_engine):
    with fresh_engine.begin() as conn:
        sector = conn.execute(
            text("SELECT serves_code FROM resources WHERE id = 'W001'")
        ).scalar_one()
        conn.execute(
            text("UPDATE units SET name_zh = :n, name_en = :n WHERE code = :c"),
            {"n": HOSTILE, "c": sector},
        )
    for path, role in [("/coverage?level=sector", "official"), ("/", "grid_worker")]:
        for lang in ("zh", "en"):
            html = fresh_client.get(
                f"{path}{'&' if '?' in path else '?'}lang={lang}", headers=auth(role)
            ).text
            assert "<script>alert" not in html and "<img src=x" not in html
            assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in html


def test_a_person_without_the_permission_gets_a_page_saying_so(pages):
    response = pages.get("/coverage", headers={**auth("patrol"), "Accept": "text/html"})
    assert response.status_code == 403 and response.headers["content-type"].startswith("text/html")
    assert "巡查人员" in response.text and 'href="/"' in response.text
    missing = pages.get("/no/such/page", headers={**auth("patrol"), "Accept": "text/html"})
    assert missing.status_code == 404 and "页面不存在" in missing.text
    api = pages.get("/coverage", headers={**auth("patrol"), "Accept": "application/json"})
    assert api.status_code == 403 and api.headers["content-type"] == "application/problem+json"


def test_the_login_page_shares_the_pages_look_and_keeps_where_to_go(pages):
    page = get(pages, "/login?next=/coverage%3Flevel%3Dgrid2&lang=en")
    assert "Sign in" in page.text and "/static/web/gridmap.css" in page.all("href")
    assert 'name="next" value="/coverage?level=grid2"' in page.html
    assert page.by_id("lang-switch")["href"] == "/login?next=%2Fcoverage%3Flevel%3Dgrid2&lang=zh"
    refused = pages.post(
        "/login", data={"username": "nobody", "password": "wrong-password-1", "next": "/"}
    )
    assert refused.status_code == 401 and "Wrong login name or password" in refused.text


def test_pages_carry_the_same_origin_content_policy(pages):
    response = pages.get("/coverage", headers=auth("official"))
    csp = response.headers["content-security-policy"]
    assert "default-src 'self'" in csp and "script-src 'self'" in csp
    assert not re.search(r'(src|href)="(https?:)?//', response.text), "no external asset"
    assert TOKENS["official"] not in response.text

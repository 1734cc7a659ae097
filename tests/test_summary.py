"""The home page's district summary against independent counts from the raw rows."""

from __future__ import annotations

import pandas as pd
import pytest
from sqlalchemy import text

from geo.access.roles import Principal, Role
from geo.core.dataversion import data_version
from geo.core.terms import CLOSED_STATUSES
from geo.grid import facts
from geo.insight.summary import district_summary
from tests.conftest import SEED_END

ADMIN = Principal(0, "admin", Role.ADMIN)
OFFICIAL = Principal(0, "official", Role.OFFICIAL)


@pytest.fixture(scope="module")
def cases(seeded_engine) -> pd.DataFrame:
    """Every incident with whether it is open, overdue at SEED_END, and sensitive."""
    frame = pd.read_sql(
        "SELECT i.id, i.status, i.due_at, i.sector_code, i.assigned_to, c.sensitive "
        "FROM incidents i JOIN incident_categories c ON c.code = i.category",
        seeded_engine,
    )
    frame["open"] = ~frame["status"].isin([s.value for s in CLOSED_STATUSES])
    frame["overdue"] = frame["open"] & (frame["due_at"] < pd.Timestamp(SEED_END))
    return frame


def summary(seeded_engine, principal):
    with seeded_engine.connect() as conn:
        return district_summary(conn, principal, now=SEED_END), data_version(conn)


def test_the_summary_counts_the_districts_units_people_and_shops(seeded_engine):
    s, version = summary(seeded_engine, OFFICIAL)
    assert s.units == {
        "district": 1,
        "community": facts.COMMUNITIES,
        "grid2": facts.GRIDS_LEVEL2,
        "sector": facts.SECTORS,
    }
    assert s.courtyards == sum(facts.COURTYARDS.values())
    assert (s.households, s.residents, s.shops) == (facts.HOUSEHOLDS, facts.RESIDENTS, facts.SHOPS)
    assert (s.data_version, s.data_changed_at) == (version.version, version.changed_at)
    assert s.as_of == SEED_END and s.own is None


def test_admins_count_every_open_and_overdue_case(seeded_engine, cases):
    s, _ = summary(seeded_engine, ADMIN)
    assert s.incidents_open == cases["open"].sum()
    assert s.incidents_overdue == cases["overdue"].sum()


def test_an_official_does_not_count_the_key_population_cases_they_may_not_see(seeded_engine, cases):
    s, _ = summary(seeded_engine, OFFICIAL)
    visible = cases[~cases["sensitive"]]
    assert cases.loc[cases["sensitive"], "open"].sum() > 0, "the seed should hold some"
    assert s.incidents_open == visible["open"].sum()
    assert s.incidents_overdue == visible["overdue"].sum()


def test_a_grid_worker_gets_their_own_grids_households_and_cases(seeded_engine, cases):
    workers = pd.read_sql(
        "SELECT id, serves_code FROM resources WHERE kind = 'grid_worker'", seeded_engine
    )
    busiest = cases[cases["open"]].groupby("sector_code").size().idxmax()
    scope = workers.loc[workers["serves_code"] == busiest, "serves_code"].iloc[0]
    worker = Principal(0, "worker", Role.GRID_WORKER, (scope,))
    serving = set(workers.loc[workers["serves_code"].str.startswith(scope), "id"])
    theirs = cases[
        cases["sector_code"].fillna("").str.startswith(scope)
        | cases["assigned_to"].map(lambda ids: bool(serving & set(ids or [])))
    ]
    with seeded_engine.connect() as conn:
        households = conn.execute(
            text("SELECT count(*) FROM households WHERE sector_code = :s"), {"s": scope}
        ).scalar_one()
    s, _ = summary(seeded_engine, worker)
    assert [u["code"] for u in s.own.units] == [scope]
    assert s.own.units[0]["households"] == households > 0
    assert s.own.incidents_open == theirs["open"].sum() > 0
    assert s.own.incidents_overdue == theirs["overdue"].sum()
    # the district's counts include the worker's own key-population cases, no others
    visible = cases[~cases["sensitive"] | cases["id"].isin(theirs["id"])]
    assert s.incidents_open == visible["open"].sum()

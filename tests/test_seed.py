"""The seeded population and activity hit FACTS.md exactly and have realistic structure."""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd
import pytest
from sqlalchemy import text

from geo.core.errors import AlreadySeeded
from geo.grid import facts
from geo.ops.seed import seed
from geo.synth.names import id_check_char
from tests.conftest import SEED_END


def scalar(engine, sql: str, **params):
    with engine.connect() as conn:
        return conn.execute(text(sql), params).scalar_one()


def test_households_and_residents_totals(seeded_engine):
    assert scalar(seeded_engine, "SELECT count(*) FROM households") == facts.HOUSEHOLDS
    assert scalar(seeded_engine, "SELECT count(*) FROM residents") == facts.RESIDENTS


def test_every_household_lives_in_a_courtyard(seeded_engine):
    assert (
        scalar(seeded_engine, "SELECT count(*) FROM households WHERE courtyard_code IS NULL") == 0
    )


def test_shops_enterprises_and_institutions(seeded_engine):
    with seeded_engine.connect() as conn:
        kinds = dict(
            conn.execute(text("SELECT kind, count(*) FROM businesses GROUP BY kind")).all()
        )
    assert kinds["shop"] == facts.SHOPS
    assert kinds["enterprise"] + kinds["institution"] == facts.ENTERPRISES_AND_INSTITUTIONS


def test_shops_are_denser_along_the_main_streets(seeded_engine):
    # shops within 40 m of an arterial, per km of arterial, against the rest of the streets
    import geopandas as gpd

    from geo.grid.boundaries import read_layer

    streets = read_layer("streets").to_crs(4542)
    shops = gpd.read_postgis(
        "SELECT geom FROM businesses WHERE kind = 'shop'", seeded_engine, geom_col="geom"
    ).to_crs(4542)
    density = {}
    for arterial, group in streets.groupby("arterial"):
        near = shops.geometry.intersects(group.buffer(40).union_all()).sum()
        density[arterial] = near / group.length.sum()
    assert density[True] > 2 * density[False]


def test_party_chain_totals(seeded_engine):
    with seeded_engine.connect() as conn:
        branches = dict(
            conn.execute(
                text(
                    "SELECT branch_type, count(*) FROM resources WHERE subtype = 'grid_branch' "
                    "GROUP BY branch_type"
                )
            ).all()
        )
        members = dict(
            conn.execute(
                text(
                    "SELECT subtype, count(*) FROM resources WHERE kind = 'party_member' "
                    "GROUP BY subtype"
                )
            ).all()
        )
        levels = dict(
            conn.execute(
                text(
                    "SELECT subtype, count(*) FROM resources WHERE kind = 'party_org' "
                    "GROUP BY subtype"
                )
            ).all()
        )
    assert branches == {k.value: v for k, v in facts.PARTY_BRANCHES.items()}
    assert members == {k.value: v for k, v in facts.PARTY_MEMBERS.items()}
    assert levels["working_committee"] == 1 and levels["community_committee"] == 3
    assert levels["building_group"] > 0 and levels["central_household"] > 0


def test_every_party_organisation_below_the_top_hangs_from_the_level_above(seeded_engine):
    chain = [
        "working_committee",
        "community_committee",
        "grid_branch",
        "building_group",
        "central_household",
    ]
    with seeded_engine.connect() as conn:
        pairs = conn.execute(
            text(
                "SELECT c.subtype, p.subtype FROM resources c "
                "JOIN resources p ON p.id = c.parent_id "
                "WHERE c.kind = 'party_org'"
            )
        ).all()
        orphans = scalar(
            seeded_engine,
            "SELECT count(*) FROM resources WHERE kind = 'party_org' "
            "AND subtype <> 'working_committee' AND parent_id IS NULL",
        )
    assert orphans == 0
    assert all(chain.index(child) == chain.index(parent) + 1 for child, parent in pairs)


def test_co_building_units_property_companies_and_committee_members(seeded_engine):
    count = "SELECT count(*) FROM resources WHERE kind = :kind"
    assert scalar(seeded_engine, count, kind="cobuilding_unit") == facts.COBUILDING_UNITS
    assert scalar(seeded_engine, count, kind="committee_member") == facts.COMMITTEE_MEMBERS
    assert scalar(seeded_engine, count, kind="property_company") == facts.PROPERTY_COMPANIES
    assert (
        scalar(
            seeded_engine,
            "SELECT count(*) FROM resources WHERE kind = 'property_company' AND has_party_org",
        )
        == facts.PROPERTY_COMPANIES_WITH_PARTY_ORG
    )
    # every managed compound has a company; scattered and rental yards have none
    with seeded_engine.connect() as conn:
        rows = conn.execute(
            text("SELECT kind, count(property_company_id) FROM courtyards GROUP BY kind")
        ).all()
    assert dict(rows) == {"managed": 35, "scattered": 0, "rental": 0}


def test_grid_workers_and_officers_serve_real_units(seeded_engine):
    with seeded_engine.connect() as conn:
        bad = conn.execute(
            text(
                "SELECT r.id FROM resources r LEFT JOIN units u ON u.code = r.serves_code "
                "AND u.valid_to IS NULL WHERE r.kind IN ('grid_worker', 'stationed_officer') "
                "AND (u.code IS NULL OR u.level <> CASE r.kind WHEN 'grid_worker' THEN 'sector' "
                "ELSE 'grid2' END)"
            )
        ).all()
    assert bad == []
    assert scalar(seeded_engine, "SELECT count(*) FROM resources WHERE kind = 'grid_worker'") > 22


def test_every_point_is_attached_to_sector_grid_and_community(seeded_engine):
    for table in ("households", "businesses", "resources", "incidents"):
        missing = scalar(
            seeded_engine,
            f"SELECT count(*) FROM {table} WHERE geom IS NOT NULL "
            "AND (sector_code IS NULL OR grid2_code IS NULL "
            "OR community_code IS NULL)",
        )
        assert missing == 0, table


def test_personal_fields_are_fake_and_marked_so(seeded_engine):
    with seeded_engine.connect() as conn:
        rows = conn.execute(text("SELECT id_number, synthetic FROM residents LIMIT 500")).all()
    assert all(synthetic for _, synthetic in rows)
    assert all(n.startswith("620902") and n[17] == id_check_char(n[:17]) for n, _ in rows)


def test_incident_history_spans_two_years_with_most_cases_closed_and_some_overdue(seeded_engine):
    with seeded_engine.connect() as conn:
        f = pd.read_sql(
            text(
                "SELECT status, category, observed_at, reported_at, due_at, closed_at "
                "FROM incidents"
            ),
            conn,
        )
    assert len(f) == facts.INCIDENTS_PER_SCALE
    span = f["observed_at"].max() - f["observed_at"].min()
    assert span.days >= facts.HISTORY_DAYS - 2
    assert (f["status"] == "verified").mean() > 0.9
    open_overdue = (~f["status"].isin(["verified", "rejected", "duplicate"])) & (
        f["due_at"] < pd.Timestamp(SEED_END)
    )
    assert 0 < open_overdue.sum() < 0.05 * len(f)
    assert set(f["category"]) >= {"public_security", "dispute", "sanitation", "key_population"}


def test_disputes_peak_in_the_evening_and_sanitation_in_summer(seeded_engine):
    with seeded_engine.connect() as conn:
        f = pd.read_sql(
            text("SELECT category, observed_at AT TIME ZONE 'Asia/Shanghai' AS t FROM incidents"),
            conn,
        )
    disputes = f[f["category"] == "dispute"]["t"].dt.hour
    assert disputes.between(18, 22).mean() > 2 * disputes.between(8, 12).mean()
    sanitation = f[f["category"] == "sanitation"]["t"].dt.month
    assert sanitation.isin([6, 7, 8]).sum() > 1.5 * sanitation.isin([12, 1, 2]).sum()


def test_incidents_cluster_around_the_markets(seeded_engine):
    near_market = scalar(
        seeded_engine,
        """
        SELECT count(*) FROM incidents i
        WHERE ST_DWithin(ST_Transform(i.geom, 4542), ST_Transform(
              ST_SetSRID(ST_MakePoint(:lon, :lat), 4326), 4542), 200)""",
        **_landmark("market"),
    )
    # a 200 m disc is 0.48 % of the district; the market holds far more of the incidents
    assert near_market / facts.INCIDENTS_PER_SCALE > 0.03


def _landmark(kind: str) -> dict:
    from geo.grid.boundaries import read_layer

    point = read_layer("landmarks").query("kind == @kind").geometry.iloc[0]
    return {"lon": point.x, "lat": point.y}


def test_seeding_twice_refuses_and_changes_nothing(fresh_engine):
    before = scalar(fresh_engine, "SELECT count(*) FROM data_changes")
    with pytest.raises(AlreadySeeded, match="--replace"):
        seed(fresh_engine, end=SEED_END)
    assert scalar(fresh_engine, "SELECT count(*) FROM data_changes") == before
    assert scalar(fresh_engine, "SELECT count(*) FROM units") == 38


def test_seed_replace_reloads_without_duplicates_and_scale_multiplies_incidents(fresh_engine):
    report = seed(fresh_engine, replace=True, scale=0.2, end=datetime(2026, 1, 1, tzinfo=UTC))
    assert report.replaced
    assert scalar(fresh_engine, "SELECT count(*) FROM units") == 38
    assert scalar(fresh_engine, "SELECT count(*) FROM households") == facts.HOUSEHOLDS
    assert scalar(fresh_engine, "SELECT count(*) FROM incidents") == facts.INCIDENTS_PER_SCALE // 5
    assert scalar(fresh_engine, "SELECT max(observed_at) < '2026-01-01' FROM incidents")


def test_seed_is_deterministic_for_a_seed_and_end(fresh_engine, seeded_engine):
    seed(fresh_engine, replace=True, end=SEED_END)
    query = (
        "SELECT md5(string_agg(id || ST_AsText(geom) || category || status, ',' ORDER BY id)) "
        "FROM incidents"
    )
    assert scalar(fresh_engine, query) == scalar(seeded_engine, query)

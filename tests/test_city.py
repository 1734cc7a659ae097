"""The synthetic city: `gridmap seed --subdistricts N` lays out N sub-districts side by side."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from geo.synth.city import city_codes

HOME = "620902003"


def test_city_codes_start_at_001_and_skip_the_home():
    assert city_codes(1, HOME) == []
    assert city_codes(3, HOME) == ["620902001", "620902002"]
    assert city_codes(5, HOME) == ["620902001", "620902002", "620902004", "620902005"]


@pytest.fixture(scope="module")
def city(databases, template_db):
    """A migrated database seeded (small) as a city of three sub-districts."""
    from sqlalchemy import create_engine

    from geo.ops.migrate import upgrade
    from geo.ops.seed import seed
    from tests.conftest import SEED_END

    engine = create_engine(databases.url(databases.create()))
    upgrade(engine)
    report = seed(engine, scale=0.2, end=SEED_END, subdistricts=3)
    assert report.counts["subdistricts"] == 3
    yield engine
    engine.dispose()


def _scalar(engine, sql: str):
    with engine.connect() as conn:
        return conn.execute(text(sql)).scalar_one()


def test_three_outlines_named_and_apart(city):
    with city.connect() as conn:
        outlines = conn.execute(
            text(
                "SELECT code, name_zh, name_en FROM units WHERE level = 'district' "
                "AND valid_to IS NULL ORDER BY code"
            )
        ).all()
        touching = conn.execute(
            text(
                "SELECT count(*) FROM units a JOIN units b ON a.code < b.code "
                "AND ST_Intersects(a.geom, b.geom) WHERE a.level = 'district' "
                "AND b.level = 'district'"
            )
        ).scalar_one()
    assert [tuple(r) for r in outlines] == [
        ("620902001", "第1街道", "Sub-district 1"),
        ("620902002", "第2街道", "Sub-district 2"),
        (HOME, "西北街街道", "Xibeijie Sub-district"),
    ]
    assert touching == 0


def test_no_two_units_of_different_subdistricts_overlap(city):
    assert (
        _scalar(
            city,
            "SELECT count(*) FROM units a JOIN units b ON left(a.code, 9) < left(b.code, 9) "
            "AND ST_Intersects(a.geom, b.geom)",
        )
        == 0
    )


def test_every_unit_sits_in_its_own_subdistricts_outline(city):
    outside = _scalar(
        city,
        "SELECT count(*) FROM units u JOIN units d ON d.level = 'district' "
        "AND d.code = left(u.code, 9) WHERE NOT ST_Covers(ST_Buffer(d.geom, 1e-7), u.geom)",
    )
    assert outside == 0
    assert _scalar(city, "SELECT count(DISTINCT left(code, 9)) FROM units") == 3
    per = _scalar(city, "SELECT count(DISTINCT n) FROM (SELECT count(*) AS n FROM units "
                        "GROUP BY left(code, 9)) AS x")  # fmt: skip
    assert per == 1  # every copy has all the home's units


def test_each_subdistrict_has_its_people_and_incidents(city):
    with city.connect() as conn:
        counts = conn.execute(
            text("SELECT left(sector_code, 9) AS sd, count(*) FROM incidents GROUP BY 1 ORDER BY 1")
        ).all()
        households = conn.execute(
            text("SELECT left(community_code, 9), count(*) FROM households GROUP BY 1")
        ).all()
    assert [sd for sd, _ in counts] == ["620902001", "620902002", HOME]
    assert len({n for _, n in counts}) == 1 and counts[0][1] > 1000
    assert len(households) == 3 and len({n for _, n in households}) == 1


def test_incidents_attach_only_within_their_own_subdistrict(city):
    wrong = _scalar(
        city,
        "SELECT count(*) FROM incidents i JOIN units s ON s.code = i.sector_code "
        "AND s.valid_to IS NULL WHERE NOT ST_Covers(s.geom, i.geom) "
        "OR left(i.id, 1) <> 'I' "
        "OR (i.id LIKE '%-%' AND right(i.id, 3) <> substr(i.sector_code, 7, 3))",
    )
    assert wrong == 0
    # and a fresh attach of the points agrees with the copied codes
    with city.connect() as conn:
        moved = conn.execute(
            text(
                "SELECT count(*) FROM incidents i JOIN units s ON s.level = 'sector' "
                "AND s.valid_to IS NULL AND ST_Covers(s.geom, i.geom) "
                "WHERE s.code <> i.sector_code"
            )
        ).scalar_one()
    assert moved == 0


def test_event_and_resident_references_stay_inside_each_copy(city):
    crossing = _scalar(
        city,
        "SELECT count(*) FROM incident_events e JOIN incidents i ON i.id = e.incident_id "
        "WHERE i.id NOT LIKE '%-%' AND e.incident_id LIKE '%-%'",
    )
    assert crossing == 0
    assert (
        _scalar(
            city,
            "SELECT count(*) FROM residents r JOIN households h ON h.id = r.household_id "
            "WHERE left(h.community_code, 9) = '620902001'",
        )
        == _scalar(city, "SELECT count(*) FROM residents") / 3
    )


def test_a_border_move_working_for_one_subdistrict_touches_only_its_layer(city):
    """Runs last: it edits the city (two sectors of 620902001, versions only there)."""
    from geo.core.tenancy import work_for
    from geo.planning import edits
    from geo.planning.layer import load_state
    from tests.planning_support import grow, neighbours

    with city.connect() as conn:
        a, b = next(p for p in neighbours(conn) if p[0].startswith("620902001"))
        new_a, _ = grow(conn, a, b, 25)
    with city.begin() as conn:
        work_for(conn, "620902001")
        state = load_state(conn, None)
        assert state.district_code == "620902001"
        assert {c[:9] for c in state.sectors.index} == {"620902001"}
        edits.put_sector(conn, a, new_a, "test", "city test", [f'"{a}:v1"'])
    with city.connect() as conn:
        changed = set(
            conn.execute(text("SELECT DISTINCT code FROM units WHERE version > 1")).scalars()
        )
        assert a in changed and b in changed
        assert {c[:9] for c in changed} == {"620902001"}  # the other sub-districts as they were
        parents = conn.execute(
            text(
                "SELECT count(*) FROM units WHERE valid_to IS NULL AND parent_code IS NOT NULL "
                "AND left(parent_code, 9) <> left(code, 9)"
            )
        ).scalar_one()
    assert parents == 0

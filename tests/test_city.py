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


#: every figure of the incident rollups (0015, 0016e) as a recount from the raw incidents
FIGURES = {
    "incidents": "true",
    "verified": "status = 'verified'",
    "verified_in_time": "status = 'verified' AND closed_at <= due_at",
    **{f"h{k:02d}": f"status = 'verified' AND bucket = {k}" for k in range(64)},
    "voided": "status IN ('rejected', 'duplicate')",
    "sent_back": "times_sent_back > 0",
    "extended": "extensions_approved > 0",
    "first_time_fixed": "status = 'verified' AND times_sent_back = 0",
    "dispatched": "dispatched_at IS NOT NULL",
    "dispatched_in_time": "dispatched_at <= dispatch_due_at",
}
DAY = "(observed_at AT TIME ZONE 'Asia/Shanghai')::date"
#: (rollup, its key columns, the key recounted from incidents `i`, what the count joins)
ROLLUPS = {
    "incident_daily_stats": ("sector_code, category, day", f"sector_code, category, {DAY}", ""),
    "incident_monthly_stats": (
        "sector_code, category, month",
        f"sector_code, category, date_trunc('month', {DAY})::date",
        "",
    ),
    "incident_worker_daily_stats": (
        "worker_id, category, day",
        f"w, category, {DAY}",
        "CROSS JOIN LATERAL unnest(CASE WHEN owner_id IS NOT NULL THEN ARRAY[owner_id] "
        "ELSE assigned_to END) AS w",
    ),
    "incident_worker_monthly_stats": (
        "worker_id, category, month",
        f"w, category, date_trunc('month', {DAY})::date",
        "CROSS JOIN LATERAL unnest(CASE WHEN owner_id IS NOT NULL THEN ARRAY[owner_id] "
        "ELSE assigned_to END) AS w",
    ),
}


def _rollup_differences(conn, table: str, subdistrict: str) -> int:
    """Rows of `table` of `subdistrict` that differ from a recount of its incidents, in any
    figure."""
    keys, recount_keys, joined = ROLLUPS[table]
    figures = ", ".join(f"count(*) FILTER (WHERE {rule})" for rule in FIGURES.values())
    groups = ", ".join(str(k) for k in range(1, len(keys.split(",")) + 1))
    # (the close bucket once per incident, not once per histogram column)
    bucketed = (
        "(SELECT *, incident_close_bucket(closed_at, reported_at) AS bucket FROM incidents "
        "WHERE subdistrict = :sd OFFSET 0) AS i"
    )
    recount = f"SELECT {recount_keys}, {figures} FROM {bucketed} {joined} GROUP BY {groups}"
    kept = (
        f"SELECT {keys}, {', '.join(FIGURES)} FROM {table} "
        "WHERE incidents <> 0 AND subdistrict = :sd"
    )
    return conn.execute(
        text(
            f"SELECT count(*) FROM (({recount} EXCEPT {kept}) UNION ALL "
            f"({kept} EXCEPT {recount})) d"
        ),
        {"sd": subdistrict},
    ).scalar_one()


def test_the_copies_rollups_heat_cells_and_holdings_equal_a_recount_of_their_rows(city):
    """The copies write their rollups from the home's (codes and worker ids rewritten) and
    count their heat cells set-based, with the INSERT triggers off: the same as the triggers
    would have written, i.e. equal to a recount of the raw rows, in every sub-district."""
    from geo.insight.holdings import holdings_differences
    from geo.maps.heat_cells import heat_cell_differences

    with city.connect() as conn:
        for table in ROLLUPS:
            # (rows of no sub-district: the seed's keys before its attach, left at 0)
            sql = f"SELECT subdistrict, count(*) FROM {table} WHERE incidents <> 0 GROUP BY 1"
            per = dict(conn.execute(text(sql)).all())
            assert len(per) == 3 and len(set(per.values())) == 1, table  # each copy has its own
            assert _rollup_differences(conn, table, "620902001") == 0, table
        assert heat_cell_differences(conn) == 0
        assert holdings_differences(conn) == 0
        for table in ("incident_heat_cells", "incident_heat_totals", "sector_holdings"):
            sql = f"SELECT count(DISTINCT subdistrict) FROM {table}"
            assert conn.execute(text(sql)).scalar_one() == 3, table
        # and the triggers the copies turned off are on again
        off = conn.execute(
            text("SELECT count(*) FROM pg_trigger WHERE NOT tgisinternal AND tgenabled <> 'O'")
        ).scalar_one()
    assert off == 0


def test_a_copy_that_fails_leaves_nothing_and_its_triggers_on(city):
    """A sub-district already there: its copy fails at its first row, and its transaction,
    triggers turned off included, is rolled back."""
    from sqlalchemy.exc import IntegrityError

    from geo.synth.city import lay_out_city

    before = _scalar(city, "SELECT count(*) FROM boundary_changes")
    with pytest.raises(IntegrityError):
        lay_out_city(city, 3)
    assert _scalar(city, "SELECT count(*) FROM boundary_changes") == before
    off = "SELECT count(*) FROM pg_trigger WHERE NOT tgisinternal AND tgenabled <> 'O'"
    assert _scalar(city, off) == 0


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

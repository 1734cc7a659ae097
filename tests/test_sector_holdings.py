"""The sector holdings rollup (0018r): equal to a recount of the points after inserts, a
move, deletes, a boundary edit and truncation; coverage reads it with the same figures as
counting the points; a tenant's writes keep it exact under row-level security."""

from __future__ import annotations

from sqlalchemy import text

from geo.access.roles import Principal, Role
from geo.core import tenancy
from geo.core.tenancy import Scope
from geo.insight.coverage import _sql, coverage, sources
from geo.insight.holdings import holdings_differences
from tests.planning_support import move_a_border

ADMIN = Principal(0, "admin", Role.ADMIN)


def _holding(conn, sector: str, what: str) -> int:
    n = conn.execute(
        text("SELECT n FROM sector_holdings WHERE sector_code = :s AND what = :w"),
        {"s": sector, "w": what},
    ).scalar()
    return n or 0


def _sectors(conn) -> list[str]:
    return list(
        conn.execute(
            text(
                "SELECT code FROM units WHERE level = 'sector' AND valid_to IS NULL "
                "ORDER BY code LIMIT 2"
            )
        ).scalars()
    )


def _households(conn, sector: str, ids: list[str]) -> None:
    for k, hid in enumerate(ids):
        conn.execute(
            text(
                "INSERT INTO households (id, address, geom, sector_code) "
                "SELECT :id, '测试', ST_PointOnSurface(geom), code FROM units "
                "WHERE code = :s AND valid_to IS NULL"
            ),
            {"id": hid, "s": sector},
        )
        conn.execute(
            text(
                "INSERT INTO residents (id, household_id, name) "
                "SELECT :id || '-' || g, :id, '测试' FROM generate_series(1, :n) g"
            ),
            {"id": hid, "n": k + 2},
        )


def test_the_seeded_holdings_equal_a_recount(seeded_engine):
    with seeded_engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM sector_holdings")).scalar_one() > 0
        assert holdings_differences(conn) == 0


def test_coverage_from_the_rollup_equals_coverage_from_the_points(seeded_engine):
    """The rollup's figures are the ones counting every point gives (the as-of view's
    source, here over the current rows)."""
    counted = (
        sources(True)["holdings"]
        .replace(sources(True)["households"], "households")
        .replace(sources(True)["businesses"], "businesses")
    )
    with seeded_engine.connect() as conn:
        for level in ("sector", "grid2", "community", "subdistrict"):
            kept = coverage(conn, ADMIN, level).rows
            sql = _sql("coverage_units.sql").format(**{**sources(False), "holdings": counted})
            raw = conn.execute(text(sql), {"level": level}).mappings().all()
            keys = ("households", "residents", "shops", "enterprises", "institutions")
            assert [{k: r[k] for k in ("code", *keys)} for r in raw] == [
                {k: r[k] for k in ("code", *keys)} for r in kept
            ]
            assert sum(r["residents"] for r in kept) > 0


def test_the_holdings_stay_exact_through_inserts_moves_deletes_edits_and_truncation(
    fresh_engine,
):
    with fresh_engine.begin() as conn:
        a, b = _sectors(conn)
        before = _holding(conn, a, "residents")
        _households(conn, a, ["HOLD1", "HOLD2", "HOLD3"])
        conn.execute(
            text(
                "INSERT INTO businesses (id, name_zh, kind, geom, sector_code) "
                "SELECT 'BIZ' || g, '测试', 'enterprise', ST_PointOnSurface(geom), code "
                "FROM units, generate_series(1, 3) g WHERE code = :s AND valid_to IS NULL"
            ),
            {"s": a},
        )
        # a household in no sector counts nowhere
        conn.execute(
            text(
                "INSERT INTO households (id, geom) "
                "VALUES ('HOLD-NOWHERE', ST_SetSRID(ST_MakePoint(0, 0), 4326))"
            )
        )
        conn.execute(
            text(
                "INSERT INTO residents (id, household_id, name) "
                "VALUES ('R-NW', 'HOLD-NOWHERE', 'x')"
            )
        )
        assert _holding(conn, a, "residents") == before + 2 + 3 + 4
        assert holdings_differences(conn) == 0
    with fresh_engine.begin() as conn:
        # a household moved with its 3 residents, a resident moved to another household,
        # a business changed kind and another moved; a no-op update
        conn.execute(text("UPDATE households SET sector_code = :b WHERE id = 'HOLD2'"), {"b": b})
        conn.execute(text("UPDATE residents SET household_id = 'HOLD2' WHERE id = 'HOLD1-1'"))
        conn.execute(text("UPDATE businesses SET kind = 'shop' WHERE id = 'BIZ1'"))
        conn.execute(text("UPDATE businesses SET sector_code = :b WHERE id = 'BIZ2'"), {"b": b})
        conn.execute(text("UPDATE households SET address = '改' WHERE id LIKE 'HOLD%'"))
        assert _holding(conn, a, "residents") == before + 1 + 4
        assert holdings_differences(conn) == 0
    with fresh_engine.begin() as conn:
        # a resident deleted, a household deleted with its residents (the cascade)
        conn.execute(text("DELETE FROM residents WHERE id = 'HOLD3-1'"))
        conn.execute(text("DELETE FROM households WHERE id IN ('HOLD2', 'HOLD-NOWHERE')"))
        conn.execute(text("DELETE FROM businesses WHERE id = 'BIZ3'"))
        assert holdings_differences(conn) == 0
        assert conn.execute(text("SELECT count(*) FROM sector_holdings WHERE n = 0")).scalar() == 0

    # a boundary edit re-attaches the households and businesses in the changed area
    def exact(conn) -> None:
        assert holdings_differences(conn) == 0

    assert move_a_border(fresh_engine, "households", exact) > 0
    with fresh_engine.begin() as conn:
        conn.execute(text("TRUNCATE businesses"))
        assert holdings_differences(conn) == 0
        conn.execute(text("TRUNCATE households CASCADE"))
        assert conn.execute(text("SELECT count(*) FROM sector_holdings")).scalar_one() == 0


def test_a_tenants_writes_keep_the_holdings_of_its_sub_district(fresh_engine):
    """Under row-level security (the tenant role) the triggers write the tenant's rows."""
    with fresh_engine.connect() as conn:
        a, _ = _sectors(conn)
        before = _holding(conn, a, "households")
    home = tenancy.subdistrict_of(a)
    with tenancy.scoped(Scope(home)), fresh_engine.begin() as conn:
        assert conn.execute(text("SELECT row_security_active('sector_holdings')")).scalar()
        _households(conn, a, ["TEN1"])
        conn.execute(text("UPDATE households SET sector_code = NULL WHERE id = 'TEN1'"))
        conn.execute(text("UPDATE households SET sector_code = :a WHERE id = 'TEN1'"), {"a": a})
        conn.execute(text("DELETE FROM residents WHERE id = 'TEN1-1'"))
    with fresh_engine.connect() as conn:
        assert _holding(conn, a, "households") == before + 1
        assert holdings_differences(conn) == 0


def test_the_migration_gives_worker_rollups_and_unit_less_resources_their_sub_district(
    fresh_url,
):
    """A database that held two sub-districts before 0017t gave every worker rollup row and
    every resource serving no unit the home sub-district; 0018r gives each its own: the
    worker's, or that of the sector the resource lies in."""
    from sqlalchemy import create_engine

    from geo.ops.migrate import migrate_to

    engine = create_engine(fresh_url)
    other = "620902004"
    try:
        migrate_to(engine, "0017t")
        with engine.begin() as conn:
            org = conn.execute(
                text(
                    "UPDATE resources SET sector_code = :o || substr(sector_code, 10) "
                    "WHERE id = (SELECT min(id) FROM resources WHERE kind = 'party_org' "
                    "AND serves_code IS NULL AND sector_code IS NOT NULL) RETURNING id"
                ),
                {"o": other},
            ).scalar_one()
            worker = conn.execute(
                text(
                    "UPDATE resources SET serves_code = :o || substr(serves_code, 10), "
                    "subdistrict = :o WHERE id = (SELECT min(worker_id) "
                    "FROM incident_worker_monthly_stats) RETURNING id"
                ),
                {"o": other},
            ).scalar_one()
        migrate_to(engine, "head")
        with engine.connect() as conn:
            assert (
                conn.execute(
                    text("SELECT subdistrict FROM resources WHERE id = :id"), {"id": org}
                ).scalar_one()
                == other
            )
            for table in ("incident_worker_daily_stats", "incident_worker_monthly_stats"):
                kept = (
                    conn.execute(
                        text(f"SELECT DISTINCT subdistrict FROM {table} WHERE worker_id = :w"),
                        {"w": worker},
                    )
                    .scalars()
                    .all()
                )
                assert kept == [other], table
            home = conn.execute(
                text("SELECT count(*) FROM incident_worker_monthly_stats WHERE subdistrict <> :o"),
                {"o": other},
            ).scalar_one()
            assert home > 0  # the other workers' rows stay where they were
    finally:
        engine.dispose()

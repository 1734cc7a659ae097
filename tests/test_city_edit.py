"""A boundary edit in one sub-district of a city (issue 23): it reads and re-attaches that
sub-district only, so it costs what it costs in a one-district database, and it reports
what reading the whole city's tables would."""

from __future__ import annotations

from sqlalchemy import text

from tests.test_city import city  # noqa: F401  (the three-sub-district city, seeded small)

HOME = "620902003"
OTHER = "620902001"


#: households and grid workers of a sector, and of a level-2 grid (its sectors' workers),
#: counted over the whole tables
SECTOR_LOAD = """
    SELECT (SELECT count(*) FROM households WHERE sector_code = :code),
           (SELECT count(*) FROM resources WHERE kind = 'grid_worker' AND retired_at IS NULL
              AND serves_code = :code)
"""
GRID_LOAD = """
    SELECT (SELECT count(*) FROM households WHERE grid2_code = :code),
           (SELECT count(*) FROM resources r JOIN units s ON s.code = r.serves_code
              AND s.valid_to IS NULL WHERE r.kind = 'grid_worker' AND r.retired_at IS NULL
              AND s.parent_code = :code)
"""


def _load(conn, sectors: list[str], grids: list[str]) -> dict[str, tuple[int, int]]:
    def one(sql: str, code: str) -> tuple[int, int]:
        return tuple(conn.execute(text(sql), {"code": code}).one())

    return {c: one(SECTOR_LOAD, c) for c in sectors} | {c: one(GRID_LOAD, c) for c in grids}


def _edit_moving_households(conn, prefix: str):
    """Sectors a, b of sub-district `prefix` and a's geometry grown into b by a strip that
    holds households."""
    from tests.planning_support import grow, neighbours

    inside = "SELECT count(*) FROM households WHERE ST_Covers(ST_GeomFromText(:g, 4326), geom)"
    for a, b in (p for p in neighbours(conn) if p[0].startswith(prefix)):
        for width in (100, 200, 300):
            new_a, piece = grow(conn, a, b, width)
            if conn.execute(text(inside), {"g": piece.wkt}).scalar_one():
                return a, b, new_a
    raise AssertionError(f"no strip of {prefix} holds households")


def test_an_edit_working_for_one_subdistrict_reports_the_whole_tables_counts(city):  # noqa: F811
    from geo.core.tenancy import work_for
    from geo.planning import edits
    from geo.planning.layer import load_state

    with city.connect() as conn:
        a, b, new_a = _edit_moving_households(conn, HOME)
        grids = sorted({a[:-2], b[:-2]})
        before = _load(conn, [a, b], grids)
    with city.connect() as conn, conn.begin() as transaction:
        work_for(conn, HOME)
        report = edits.put_sector(conn, a, new_a, "测试", "city edit test")
        after = _load(conn, [a, b], grids)
        next_state = load_state(conn, None)
        transaction.rollback()
    assert report["moves"]["households"]["moved"] > 0  # the strip holds households
    rows = {r["code"]: r for r in report["load"]["sectors"] + report["load"]["grids"]}
    for code in [a, b, *grids]:
        row = rows[code]
        assert (row["households_before"], row["workers_before"]) == before[code], code
        assert (row["households_after"], row["workers_after"]) == after[code], code
    assert any(workers for _, workers in before.values())  # not only zeros
    # the layer ETag it hands back is the one the next edit of this sub-district checks
    assert report["layer_etag"] == next_state.layer_etag()


def test_courtyards_reattach_in_the_working_subdistrict_only(city):  # noqa: F811
    from geo.grid.attach import attach_courtyards

    pick = (
        "SELECT code FROM courtyards WHERE valid_to IS NULL AND sector_code IS NOT NULL "
        "AND left(code, 9) = :sd ORDER BY code LIMIT 1"
    )
    sector = "SELECT sector_code FROM courtyards WHERE code = :c AND valid_to IS NULL"
    with city.connect() as conn, conn.begin() as transaction:
        home, other = (conn.execute(text(pick), {"sd": sd}).scalar_one() for sd in (HOME, OTHER))
        home_sector = conn.execute(text(sector), {"c": home}).scalar_one()
        conn.execute(
            text("UPDATE courtyards SET sector_code = NULL WHERE code = ANY(:c)"),
            {"c": [home, other]},
        )
        assert attach_courtyards(conn, HOME) == 1
        assert conn.execute(text(sector), {"c": home}).scalar_one() == home_sector
        assert conn.execute(text(sector), {"c": other}).scalar_one() is None
        transaction.rollback()


def test_the_team_snapshot_of_one_subdistrict_holds_its_sectors_only(city):  # noqa: F811
    from geo.cases.dispatch import snapshot_teams

    sectors = (
        "SELECT code FROM units WHERE level = 'sector' AND valid_to IS NULL "
        "AND (CAST(:sd AS text) IS NULL OR left(code, 9) = :sd) ORDER BY code"
    )
    snapshot = "SELECT sector_code FROM teams_before ORDER BY sector_code"
    with city.connect() as conn, conn.begin() as transaction:
        snapshot_teams(conn, HOME)
        assert list(conn.execute(text(snapshot)).scalars()) == list(
            conn.execute(text(sectors), {"sd": HOME}).scalars()
        )
        snapshot_teams(conn)
        assert list(conn.execute(text(snapshot)).scalars()) == list(
            conn.execute(text(sectors), {"sd": None}).scalars()
        )
        transaction.rollback()


def test_attach_hands_back_codes_the_units_code_index_can_join(city):  # noqa: F811
    """The edge rule compares codes under "C"; the code it picks comes back in the default
    collation, else joining it to units.code could not use the code index (at city size
    that join looped over every unit for each point)."""
    from geo.grid.attach import ROW_SUBDISTRICT, codes_sql

    points = "(SELECT id, geom, subdistrict FROM households WHERE geom IS NOT NULL LIMIT 20)"
    sql = (
        "SELECT DISTINCT pg_collation_for(sector_code), pg_collation_for(courtyard_code) "
        f"FROM ({codes_sql(points, own=ROW_SUBDISTRICT)}) coded"
    )
    with city.connect() as conn:
        assert conn.execute(text(sql)).all() == [('"default"', '"default"')]

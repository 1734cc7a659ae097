"""The edge rule on hand-made units: every point in the sub-district lands in exactly one
sector (the lowest code among those covering it), never two, never none.

The units replace the seeded ones in a private database. On a lattice of step h:

    y=8 +-----------+-----------+      S1 = [0,4]x[0,8] with a hole [1,3]x[3,5]
        |   S1      |   S2 (B)  |      S2 = the hole [1,3]x[3,5] + [4,8]x[4,8]
        |  +-----+  |           |      S3 = (4,0) (7,0) (5,4) (4,4)
        |  | S2  |  |           |      S4 = (7,0) (8,0) (8,4) (5,4)
    y=4 |  | (A) |  +---*-------+      (4,4): S1, S2, S3 meet;  (5,4): S2, S3, S4 meet
        |  +-----+  | S3 / S4   |      S3/S4 share a diagonal edge
    y=0 +-----------+-----------+
"""

from __future__ import annotations

import numpy as np
import pytest
import shapely
from pyproj import Geod
from shapely import MultiPolygon, Polygon
from sqlalchemy import text

from geo.core.bulk import ewkb_hex
from geo.grid.attach import attach_points, locate_points

LON0, LAT0, H = 98.46, 39.75, 0.002
COMMUNITY, GRID2 = "620902003001", "62090200300101"
S = {k: f"{GRID2}0{k}" for k in range(1, 5)}


def xy(i: float, j: float) -> tuple[float, float]:
    """Lattice index → lon, lat (the same floats wherever two units share a vertex)."""
    return LON0 + i * H, LAT0 + j * H


def poly(ring, holes=()) -> Polygon:
    return Polygon([xy(*p) for p in ring], [[xy(*p) for p in h] for h in holes])


SECTORS = {
    S[1]: MultiPolygon(
        [poly([(0, 0), (4, 0), (4, 8), (0, 8)], holes=[[(1, 3), (3, 3), (3, 5), (1, 5)]])]
    ),
    S[2]: MultiPolygon(
        [poly([(1, 3), (3, 3), (3, 5), (1, 5)]), poly([(4, 4), (8, 4), (8, 8), (4, 8)])]
    ),
    S[3]: MultiPolygon([poly([(4, 0), (7, 0), (5, 4), (4, 4)])]),
    S[4]: MultiPolygon([poly([(7, 0), (8, 0), (8, 4), (5, 4)])]),
}
COURTYARDS = {
    "620902003Y001": MultiPolygon([poly([(0.5, 6), (2, 6), (2, 7), (0.5, 7)])]),
    "620902003Y002": MultiPolygon([poly([(2, 6), (3.5, 6), (3.5, 7), (2, 7)])]),
}


@pytest.fixture
def handmade(fresh_engine):
    """The private database with the hand-made units in place of the seeded ones."""
    district = shapely.union_all(list(SECTORS.values()))
    units = [
        ("620902003", "district", None, district),
        (COMMUNITY, "community", "620902003", district),
        (GRID2, "grid2", COMMUNITY, district),
        *[(code, "sector", GRID2, geom) for code, geom in SECTORS.items()],
    ]
    with fresh_engine.begin() as conn:
        conn.execute(text("DELETE FROM units"))
        conn.execute(text("DELETE FROM courtyards"))
        conn.execute(
            text(
                "INSERT INTO units (code, level, parent_code, seq, name_zh, name_en, geom) "
                "VALUES (:code, :level, :parent, 1, :code, :code, "
                "ST_Multi(ST_GeomFromEWKB(decode(:wkb, 'hex'))))"
            ),
            [
                {"code": c, "level": lv, "parent": p, "wkb": ewkb_hex(np.array([g]))[0]}
                for c, lv, p, g in units
            ],
        )
        conn.execute(
            text(
                "INSERT INTO courtyards (code, name_zh, name_en, kind, geom) "
                "VALUES (:code, :code, :code, 'managed', ST_GeomFromEWKB(decode(:wkb, 'hex')))"
            ),
            [{"code": c, "wkb": ewkb_hex(np.array([g]))[0]} for c, g in COURTYARDS.items()],
        )
    return fresh_engine


def locate(engine, points: list[tuple[float, float]]):
    lons, lats = zip(*(xy(i, j) for i, j in points), strict=True)
    with engine.connect() as conn:
        return locate_points(conn, lons, lats)


def covering(engine, i: float, j: float) -> list[str]:
    """Every current sector covering the lattice point (the candidates of the rule)."""
    lon, lat = xy(i, j)
    with engine.connect() as conn:
        return (
            conn.execute(
                text(
                    "SELECT code FROM units WHERE level = 'sector' AND valid_to IS NULL AND "
                    "ST_Covers(geom, ST_SetSRID(ST_MakePoint(:lon, :lat), 4326)) ORDER BY code"
                ),
                {"lon": lon, "lat": lat},
            )
            .scalars()
            .all()
        )


def test_hand_made_units_are_a_clean_coverage():
    union = shapely.union_all(list(SECTORS.values()))
    assert union.equals(poly([(0, 0), (8, 0), (8, 8), (0, 8)]))
    geoms = list(SECTORS.values())
    overlaps = [
        shapely.intersection(a, b).area for k, a in enumerate(geoms) for b in geoms[k + 1 :]
    ]
    assert max(overlaps) == 0


@pytest.mark.parametrize(
    "point, candidates, winner",
    [
        ((4, 2), {1, 3}, 1),  # shared edge S1 | S3
        ((4, 6), {1, 2}, 1),  # shared edge S1 | S2
        ((4.5, 4), {2, 3}, 2),  # shared edge S2 / S3
        ((7, 4), {2, 4}, 2),  # shared edge S2 / S4
        ((4, 4), {1, 2, 3}, 1),  # vertex shared by three sectors
        ((5, 4), {2, 3, 4}, 2),  # vertex shared by three sectors
        ((7, 0), {3, 4}, 3),  # vertex shared by two sectors on the outline
        ((1, 4), {1, 2}, 1),  # on the edge of the hole
        ((3, 5), {1, 2}, 1),  # on a corner of the hole
    ],
)
def test_point_on_shared_border_goes_to_the_lowest_of_its_sectors(
    handmade, point, candidates, winner
):
    assert covering(handmade, *point) == sorted(S[k] for k in candidates)
    row = locate(handmade, [point]).iloc[0]
    assert row.sector_code == S[winner]
    assert (row.grid2_code, row.community_code) == (GRID2, COMMUNITY)


def test_point_in_a_hole_goes_to_the_unit_filling_the_hole_not_the_one_around_it(handmade):
    assert covering(handmade, 2, 4) == [S[2]]
    assert locate(handmade, [(2, 4), (1.5, 3.5)])["sector_code"].tolist() == [S[2], S[2]]


def test_points_on_every_part_of_a_multipolygon_unit_go_to_that_unit(handmade):
    parts = [(2, 4), (2.9, 4.9), (6, 6), (7.9, 7.9), (8, 8), (4.1, 7.99)]
    assert set(locate(handmade, parts)["sector_code"]) == {S[2]}


def test_every_lattice_point_lands_in_exactly_one_sector_the_lowest_covering_one(handmade):
    steps = np.arange(0, 8.25, 0.25)
    points = [(i, j) for i in steps for j in steps]
    located = locate(handmade, points)
    assert len(located) == len(points)  # one row per point: never two
    assert located["sector_code"].notna().all()  # never none
    for (i, j), got in zip(points, located["sector_code"], strict=True):
        p = shapely.Point(xy(i, j))
        expected = min(code for code, g in SECTORS.items() if g.covers(p))
        assert got == expected, (i, j)


def test_points_along_a_diagonal_shared_edge_land_in_exactly_one_of_its_two_sectors(handmade):
    t = np.linspace(0, 1, 501)
    i, j = 7 + (5 - 7) * t, 0 + (4 - 0) * t  # from (7, 0) to (5, 4), interpolated in floats
    located = locate(handmade, list(zip(i, j, strict=True)))
    assert len(located) == len(t)
    assert located["sector_code"].isin({S[2], S[3], S[4]}).all()
    assert located["sector_code"].iloc[0] == S[3] and located["sector_code"].iloc[-1] == S[2]


def test_courtyards_follow_the_same_rule_and_a_point_may_be_in_none(handmade):
    located = locate(handmade, [(2, 6.5), (1, 6.5), (3, 6.5), (2, 6), (1, 1)])
    assert located["courtyard_code"].tolist() == [
        "620902003Y001",  # shared edge of two courtyards: the lower code
        "620902003Y001",
        "620902003Y002",
        "620902003Y001",
        None,
    ]


def test_point_outside_the_district_has_no_unit_and_its_distance_in_metres(handmade):
    located = locate(handmade, [(-1, 4), (8, 10), (0, 4)])
    outside = located.iloc[:2]
    assert outside["sector_code"].isna().all() and outside["community_code"].isna().all()
    geod = Geod(ellps="GRS80")
    for (i, j), (ei, ej), got in zip(
        [(-1, 4), (8, 10)], [(0, 4), (8, 8)], outside["outside_m"], strict=True
    ):
        _, _, metres = geod.inv(*xy(i, j), *xy(ei, ej))
        assert got == pytest.approx(metres, rel=0.002)
    on_outline = located.iloc[2]
    assert on_outline.sector_code == S[1] and np.isnan(on_outline.outside_m)


def test_attaching_a_table_uses_the_same_rule_as_locating(handmade):
    points = [(4, 2), (4, 4), (5, 4), (2, 4), (6, 6), (1, 3), (-1, 4), (2, 6.5)]
    with handmade.begin() as conn:
        conn.execute(text("DELETE FROM residents"))
        conn.execute(text("DELETE FROM households"))
        conn.execute(
            text(
                "INSERT INTO households (id, geom) VALUES "
                "(:id, ST_SetSRID(ST_MakePoint(:lon, :lat), 4326))"
            ),
            [{"id": f"H{k}", "lon": xy(*p)[0], "lat": xy(*p)[1]} for k, p in enumerate(points)],
        )
        result = attach_points(conn, "households")
        stored = conn.execute(
            text(
                "SELECT courtyard_code, sector_code, grid2_code, community_code FROM households "
                "ORDER BY substr(id, 2)::int"
            )
        ).all()
    expected = locate(handmade, points)
    assert result.examined == len(points)
    assert [tuple(r) for r in stored] == [
        tuple(None if v != v else v for v in r)
        for r in expected[["courtyard_code", "sector_code", "grid2_code", "community_code"]]
        .astype(object)
        .itertuples(index=False)
    ]

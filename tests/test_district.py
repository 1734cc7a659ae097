"""The district's spatial units in PostGIS: area, nesting, clean coverage, courtyards, codes."""

from __future__ import annotations

import re

import geopandas as gpd
import pytest
import shapely
from sqlalchemy import text

from geo.core.settings import PROJECT_ROOT
from geo.grid import facts
from geo.grid.district import LAYER_FILES, ROW_BAND_M, write_dataset

COMMITTED = PROJECT_ROOT / "data" / "boundaries"


def units(engine, level: str) -> gpd.GeoDataFrame:
    return gpd.read_postgis(
        text(
            "SELECT code, parent_code, seq, name_zh, name_en, ST_Transform(geom, 4542) AS geom "
            "FROM units WHERE valid_to IS NULL AND level = :level ORDER BY code"
        ),
        engine,
        params={"level": level},
        geom_col="geom",
    )


def test_generator_rewrites_the_committed_files_byte_for_byte(tmp_path):
    write_dataset(tmp_path)
    for name in LAYER_FILES.values():
        assert (tmp_path / name).read_bytes() == (COMMITTED / name).read_bytes(), name


def test_outline_measures_26_19_km2_in_cgcs2000_gauss_kruger(seeded_engine):
    with seeded_engine.connect() as conn:
        area = conn.execute(
            text(
                "SELECT ST_Area(ST_Transform(geom, 4542)) / 1e6 FROM units "
                "WHERE level = 'district' AND valid_to IS NULL"
            )
        ).scalar_one()
    assert area == pytest.approx(facts.AREA_KM2, rel=1e-3)


def test_district_lies_north_west_of_the_drum_tower(seeded_engine):
    with seeded_engine.connect() as conn:
        x, y = conn.execute(
            text(
                "SELECT ST_X(c), ST_Y(c) FROM (SELECT ST_Centroid(geom) c FROM units "
                "WHERE level = 'district') s"
            )
        ).one()
    assert x < 98.508 and y > 39.743


def test_unit_counts_and_community_names(seeded_engine):
    assert len(units(seeded_engine, "district")) == 1
    communities = units(seeded_engine, "community")
    assert set(communities["name_zh"]) == {"官北沟社区", "阳关路社区", "金河社区"}
    assert len(communities) == facts.COMMUNITIES == facts.GRIDS_LEVEL1
    assert len(units(seeded_engine, "grid2")) == facts.GRIDS_LEVEL2
    assert len(units(seeded_engine, "sector")) == facts.SECTORS


@pytest.mark.parametrize(
    "level,parent", [("community", "district"), ("grid2", "community"), ("sector", "grid2")]
)
def test_each_level_is_a_clean_coverage_of_its_parent(seeded_engine, level, parent):
    children = units(seeded_engine, level)
    parents = units(seeded_engine, parent).set_index("code")
    assert set(children["parent_code"]) == set(parents.index)
    for code, group in children.groupby("parent_code"):
        assert shapely.coverage_is_valid(group.geometry.values), code
        union = shapely.coverage_union_all(group.geometry.values)
        assert union.symmetric_difference(parents.loc[code, "geom"]).area <= 1.0, code


def test_sectors_cover_the_whole_district_without_gap_or_overlap_in_postgis(seeded_engine):
    with seeded_engine.connect() as conn:
        gap, overlap = conn.execute(
            text("""
            WITH d AS (SELECT ST_Transform(geom, 4542) g FROM units WHERE level = 'district'),
                 s AS (SELECT code, ST_Transform(geom, 4542) g FROM units WHERE level = 'sector')
            SELECT ST_Area(ST_Difference((SELECT g FROM d), (SELECT ST_Union(g) FROM s))),
                   coalesce((SELECT sum(ST_Area(ST_Intersection(a.g, b.g))) FROM s a JOIN s b
                             ON a.code < b.code AND ST_Intersects(a.g, b.g)), 0)
        """)
        ).one()
    assert gap <= 1.0 and overlap <= 1.0


def test_courtyards_by_type_each_inside_exactly_one_sector_and_none_overlapping(seeded_engine):
    with seeded_engine.connect() as conn:
        kinds = dict(
            conn.execute(
                text("SELECT kind, count(*) FROM courtyards WHERE valid_to IS NULL GROUP BY kind")
            ).all()
        )
        within = conn.execute(
            text("""
            SELECT c.code, count(s.code), min(s.code) = c.sector_code
            FROM courtyards c LEFT JOIN units s ON s.level = 'sector' AND s.valid_to IS NULL
                 AND ST_Within(c.geom, s.geom)
            GROUP BY c.code, c.sector_code""")
        ).all()
        overlaps = conn.execute(
            text(
                "SELECT count(*) FROM courtyards a JOIN courtyards b ON a.code < b.code "
                "AND ST_Intersects(a.geom, b.geom)"
            )
        ).scalar_one()
    assert kinds == {k.value: n for k, n in facts.COURTYARDS.items()}
    assert all(n == 1 and same for _, n, same in within), within
    assert overlaps == 0


def test_codes_are_hierarchical_from_district_and_street_code(seeded_engine):
    with seeded_engine.connect() as conn:
        rows = conn.execute(
            text("SELECT code, level, parent_code, seq FROM units WHERE valid_to IS NULL")
        ).all()
    formats = {
        "district": r"620902003",
        "community": r"620902003\d{3}",
        "grid2": r"620902003\d{5}",
        "sector": r"620902003\d{7}",
    }
    for code, level, parent, seq in rows:
        assert re.fullmatch(formats[level], code), code
        if parent:
            assert code.startswith(parent) and int(code[len(parent) :]) == seq


@pytest.mark.parametrize("level", ["community", "grid2", "sector"])
def test_sequence_numbers_run_west_to_east_in_rows_north_to_south(seeded_engine, level):
    frame = units(seeded_engine, level)
    north = units(seeded_engine, "district").geometry.iloc[0].bounds[3]
    frame["row"] = ((north - frame.geometry.centroid.y) // ROW_BAND_M).astype(int)
    frame["x"] = frame.geometry.centroid.x
    for _, siblings in frame.groupby("parent_code"):
        ordered = siblings.sort_values("seq")
        keys = list(zip(ordered["row"], ordered["x"], strict=True))
        assert keys == sorted(keys), ordered[["code", "row", "x"]]


def test_units_have_chinese_and_english_names(seeded_engine):
    for level in ("community", "grid2", "sector"):
        frame = units(seeded_engine, level)
        assert frame["name_zh"].str.contains(r"[\u4e00-\u9fff]").all()
        assert frame["name_en"].str.fullmatch(r"[A-Za-z0-9 \-]+").all()

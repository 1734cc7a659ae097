"""`gridmap district add`: another sub-district from a boundary file, all or nothing."""

from __future__ import annotations

import geopandas as gpd
import pytest
import shapely
from shapely.geometry import box
from sqlalchemy import text

from geo.core.errors import Conflict, InvalidInput
from geo.grid.district import BOUNDARY_DIR
from geo.planning.subdistricts import add_subdistrict
from tests.test_cli import run

CODE = "620902004"
HOME = gpd.read_file(BOUNDARY_DIR / "district.geojson").geometry.iloc[0]


def _units(outline, code: str = CODE) -> list[dict]:
    """An outline east of the home sub-district, one community = one grid = two sectors."""
    minx, miny, maxx, maxy = outline.bounds
    mid = (minx + maxx) / 2
    west = outline.intersection(box(minx, miny, mid, maxy))
    east = outline.intersection(box(mid, miny, maxx, maxy))
    return [
        {"code": code, "name_zh": None, "geometry": outline},
        {"code": f"{code}001", "name_zh": "新城社区", "geometry": outline},
        {"code": f"{code}00101", "name_zh": "新城第1网格", "geometry": outline},
        {"code": f"{code}0010101", "name_zh": "新城1-1片区", "geometry": west},
        {"code": f"{code}0010102", "name_zh": "新城1-2片区", "geometry": east},
    ]


EAST = box(HOME.bounds[2] + 0.01, HOME.bounds[1], HOME.bounds[2] + 0.05, HOME.bounds[3])


def _write(tmp_path, rows, name="new.geojson", crs=4326):
    frame = gpd.GeoDataFrame(rows, geometry="geometry", crs=4326).to_crs(crs)
    path = tmp_path / name
    frame.to_file(path)
    return path


def _count(engine, code: str = CODE) -> int:
    with engine.connect() as conn:
        return conn.execute(
            text("SELECT count(*) FROM units WHERE left(code, 9) = :c"), {"c": code}
        ).scalar_one()


def test_district_add_loads_a_cgcs2000_geopackage_with_its_units(fresh_url, fresh_engine, tmp_path):
    path = _write(tmp_path, _units(EAST), "new.gpkg", crs=4542)
    done = run(
        "district", "add", "--code", CODE, "--name", "新城街道", "--name-en", "Xincheng",
        "--boundaries", str(path), url=fresh_url,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "620902004 新城街道 added" in done.stdout
    with fresh_engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT code, level, parent_code, name_zh, ST_Area(geom) AS area FROM units "
                "WHERE left(code, 9) = :c AND valid_to IS NULL ORDER BY code"
            ),
            {"c": CODE},
        ).all()
    assert [r.level for r in rows] == ["district", "community", "grid2", "sector", "sector"]
    assert rows[0].name_zh == "新城街道" and rows[0].parent_code is None
    assert [r.parent_code for r in rows[1:]] == [CODE, f"{CODE}001"] + [f"{CODE}00101"] * 2
    assert rows[0].area == pytest.approx(EAST.area, rel=1e-6)  # the CRS round trip
    assert rows[3].area + rows[4].area == pytest.approx(rows[0].area, rel=1e-6)


def test_an_outline_only_geojson_is_enough(fresh_engine, tmp_path):
    path = _write(tmp_path, _units(EAST)[:1])
    with fresh_engine.begin() as conn:
        result = add_subdistrict(conn, CODE, "新城街道", None, path)
    assert result["units"] == {"district": 1}
    assert _count(fresh_engine) == 1


def _outside_row():
    rows = _units(EAST)
    rows[3]["geometry"] = box(*shapely.affinity.translate(EAST, 0.1).bounds)
    return rows


CASES = {
    "bad code": ("62090X", _units(EAST), InvalidInput, "--code '62090X': a sub-district code"),
    "code in use": ("620902003", _units(EAST, "620902003"), Conflict, "already exists"),
    "overlaps home": (CODE, _units(HOME.buffer(0.001)), InvalidInput, "overlaps sub-district"),
    "child outside": (CODE, _outside_row(), InvalidInput, "feature 4: unit 6209020040010101"),
    "foreign child code": (
        CODE,
        _units(EAST) + [{"code": "620902005001", "name_zh": "x", "geometry": EAST}],
        InvalidInput,
        "feature 6: code 620902005001 does not start with the sub-district's code",
    ),
    "no outline": (CODE, _units(EAST)[1:], InvalidInput, "no outline feature with code"),
}


@pytest.mark.parametrize("case", CASES, ids=list(CASES))
def test_district_add_refuses_and_writes_nothing(case, fresh_engine, tmp_path):
    code, rows, error, message = CASES[case]
    path = _write(tmp_path, rows)
    with fresh_engine.connect() as conn:
        before = conn.execute(text("SELECT count(*) FROM units")).scalar_one()
    with pytest.raises(error, match=message), fresh_engine.begin() as conn:
        add_subdistrict(conn, code, "新城街道", None, path)
    with fresh_engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM units")).scalar_one() == before


def test_district_add_error_is_one_line_and_exit_1(seeded_url, tmp_path):
    path = _write(tmp_path, _units(HOME.buffer(0.001)))
    done = run(
        "district", "add", "--code", CODE, "--name", "新城街道", "--boundaries", str(path),
        url=seeded_url,
    )  # fmt: skip
    assert done.returncode == 1
    assert done.stderr.count("\n") == 1 and "overlaps sub-district 620902003" in done.stderr

"""Bulk import: every rule of the issue, on real files written by the tests and real PostGIS.

Imports that are refused write nothing, so they run on the shared database inside a
transaction that is rolled back anyway; imports that write use a private copy.
"""

from __future__ import annotations

import io
import json
import zipfile
from contextlib import contextmanager
from datetime import UTC, datetime

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from openpyxl import Workbook
from pyproj import Transformer
from sqlalchemy import text

from geo.cases.deadlines import dispatch_due_at, due_at
from geo.cases.dispatch import SECTOR_TEAMS
from geo.core import coords
from geo.core.errors import InvalidInput, TooLarge
from geo.core.settings import get_settings
from geo.grid.attach import locate_points
from geo.imports import ImportOptions, ImportRejected, import_file
from tests.conftest import sector_surface_points


@contextmanager
def rolled_back(engine):
    """A connection in a transaction that is always rolled back."""
    with engine.connect() as conn:
        transaction = conn.begin()
        try:
            yield conn
        finally:
            transaction.rollback()


def attempt(engine, kind, data: bytes, filename: str, **options):
    with rolled_back(engine) as conn:
        return import_file(conn, kind, data, filename, ImportOptions(**options))


def run(engine, kind, data: bytes, filename: str, **options):
    with engine.begin() as conn:
        return import_file(conn, kind, data, filename, ImportOptions(**options))


def csv_bytes(rows: list[list], encoding: str = "utf-8") -> bytes:
    return pd.DataFrame(rows[1:], columns=rows[0]).to_csv(index=False).encode(encoding)


def xlsx_bytes(sheets: dict[str, list[list]]) -> bytes:
    book = Workbook()
    book.remove(book.active)
    for name, rows in sheets.items():
        sheet = book.create_sheet(name)
        for row in rows:
            sheet.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def scalar(engine, sql: str, **params):
    with engine.connect() as conn:
        return conn.execute(text(sql), params).scalar()


@pytest.fixture(scope="module")
def inside(seeded_engine) -> np.ndarray:
    """8 WGS 84 points well inside 8 different sectors."""
    return sector_surface_points(seeded_engine, 8)


def shop_rows(points: np.ndarray, prefix: str = "T") -> list[list]:
    return [["编号", "名称", "类型", "经度", "纬度", "地址"]] + [
        [f"{prefix}{k:03d}", f"测试商店{k}", "商业门店", float(x), float(y), f"西北街{k}号"]
        for k, (x, y) in enumerate(points)
    ]


# -- the headline case ------------------------------------------------------------------


def test_xlsx_with_chinese_headers_in_gcj02_imports_to_the_right_place_and_units(
    fresh_engine, inside
):
    gx, gy = coords.wgs84_to_gcj02(inside[:, 0], inside[:, 1])
    data = xlsx_bytes({"商户": shop_rows(np.c_[gx, gy])})
    report = run(fresh_engine, "businesses", data, "商户名册.xlsx", crs="gcj02")
    assert (report.inserted, report.rejected, report.committed) == (len(inside), 0, True)
    assert "GCJ-02" in report.coordinates
    with fresh_engine.connect() as conn:
        stored = conn.execute(
            text(
                "SELECT id, name_zh, kind, address, ST_X(geom), ST_Y(geom), courtyard_code, "
                "sector_code, grid2_code, community_code FROM businesses "
                "WHERE id LIKE 'T%' ORDER BY id"
            )
        ).all()
        expected = locate_points(conn, inside[:, 0], inside[:, 1])
    lonlat = np.array([(r[4], r[5]) for r in stored])
    assert np.abs(lonlat - inside).max() < 1e-8  # back on the WGS 84 spot, to a millimetre
    assert [r[1] for r in stored][:2] == ["测试商店0", "测试商店1"]
    assert {r[2] for r in stored} == {"shop"}
    assert [r[7] for r in stored] == expected["sector_code"].tolist()
    assert [tuple(r[6:]) for r in stored] == [
        tuple(v) for v in expected.drop(columns="outside_m").itertuples(index=False)
    ]


def test_the_same_gcj02_file_read_as_wgs84_lands_hundreds_of_metres_off(fresh_engine, inside):
    gx, gy = coords.wgs84_to_gcj02(inside[:, 0], inside[:, 1])
    run(fresh_engine, "businesses", xlsx_bytes({"s": shop_rows(np.c_[gx, gy])}), "s.xlsx")
    with fresh_engine.connect() as conn:
        stored = conn.execute(
            text("SELECT ST_X(geom), ST_Y(geom) FROM businesses WHERE id LIKE 'T%' ORDER BY id")
        ).all()
    geod = Transformer.from_crs(4326, 4542, always_xy=True)
    a = np.c_[geod.transform(inside[:, 0], inside[:, 1])]
    b = np.c_[geod.transform(*np.array(stored).T)]
    assert (np.hypot(*(a - b).T) > 100).all()


@pytest.mark.parametrize("crs", ["bd09", "cgcs2000"])
def test_baidu_and_projected_cgcs2000_coordinates_land_on_the_wgs84_spot(fresh_engine, inside, crs):
    if crs == "bd09":
        x, y = coords.wgs84_to_bd09(inside[:, 0], inside[:, 1])
    else:
        x, y = Transformer.from_crs(4326, 4542, always_xy=True).transform(*inside.T)
    rows = shop_rows(np.c_[x, y])
    rows[0][3:5] = ["x", "y"]
    report = run(fresh_engine, "businesses", csv_bytes(rows), "shops.csv", crs=crs)
    assert report.inserted == len(inside)
    with fresh_engine.connect() as conn:
        stored = conn.execute(
            text("SELECT ST_X(geom), ST_Y(geom) FROM businesses WHERE id LIKE 'T%' ORDER BY id")
        ).all()
    assert np.abs(np.array(stored) - inside).max() < 1e-8


# -- all or nothing -----------------------------------------------------------------------


def bad_shops(inside) -> list[list]:
    rows = shop_rows(inside[:4])
    rows[2][3] = "东经98度"  # row 3: not a number
    rows[3][4] = ""  # row 4: latitude missing
    rows[4][1] = ""  # row 5: name missing
    return rows


def test_a_file_with_bad_rows_changes_nothing_and_names_each_row_column_and_reason(
    fresh_engine, inside
):
    before = scalar(fresh_engine, "SELECT count(*) FROM businesses")
    changes = scalar(fresh_engine, "SELECT count(*) FROM data_changes")
    with pytest.raises(ImportRejected) as caught:
        run(fresh_engine, "businesses", csv_bytes(bad_shops(inside)), "bad.csv")
    problems = caught.value.report.problems
    assert problems[["row", "column"]].values.tolist() == [
        [3, "经度"],
        [4, "经度/纬度"],
        [5, "名称"],
    ]
    assert problems["reason"].tolist() == [
        "not a number",
        "only one of lon/lat given",
        "required, but empty",
    ]
    assert problems["value"].iloc[0] == "东经98度"
    assert "nothing imported: 3 of 4 rows" in caught.value.detail
    assert scalar(fresh_engine, "SELECT count(*) FROM businesses") == before
    assert scalar(fresh_engine, "SELECT count(*) FROM data_changes") == changes


def test_skip_invalid_loads_the_valid_rows_and_still_reports_the_rest(
    fresh_engine, inside, tmp_path
):
    report = run(
        fresh_engine, "businesses", csv_bytes(bad_shops(inside)), "bad.csv", skip_invalid=True
    )
    assert (report.inserted, report.rejected, report.committed) == (1, 3, True)
    assert scalar(fresh_engine, "SELECT count(*) FROM businesses WHERE id LIKE 'T%'") == 1
    report.to_csv(tmp_path / "report.csv")
    written = pd.read_csv(tmp_path / "report.csv", encoding="utf-8-sig")
    assert written.columns.tolist() == ["row", "column", "value", "reason"]
    assert written["row"].tolist() == [3, 4, 5]


def test_importing_the_same_file_again_updates_rather_than_duplicates(fresh_engine, inside):
    rows = shop_rows(inside)
    run(fresh_engine, "businesses", csv_bytes(rows), "shops.csv")
    rows[3][1] = "改名后的商店"
    again = run(fresh_engine, "businesses", csv_bytes(rows), "shops.csv")
    assert (again.inserted, again.updated, again.unchanged) == (0, 1, len(inside) - 1)
    assert scalar(fresh_engine, "SELECT count(*) FROM businesses WHERE id LIKE 'T%'") == len(inside)
    assert scalar(fresh_engine, "SELECT name_zh FROM businesses WHERE id = 'T002'") == (
        "改名后的商店"
    )


# -- outside the district -----------------------------------------------------------------


def test_a_point_outside_the_district_is_rejected_with_its_distance_in_metres(
    seeded_engine, inside
):
    with seeded_engine.connect() as conn:
        district = gpd.read_postgis(
            "SELECT geom FROM units WHERE level = 'district' AND valid_to IS NULL",
            conn,
            geom_col="geom",
        ).to_crs(4542)
    far = np.array([[98.30, 39.70], [98.55, 39.80]])
    rows = shop_rows(np.vstack([inside[:1], far]))
    with pytest.raises(ImportRejected) as caught:
        attempt(seeded_engine, "businesses", csv_bytes(rows), "shops.csv")
    problems = caught.value.report.problems
    assert problems["row"].tolist() == [3, 4]
    metric = gpd.GeoSeries(shapely.points(far), crs=4326).to_crs(4542)
    for reason, point in zip(problems["reason"], metric, strict=True):
        metres = district.geometry.iloc[0].distance(point)
        assert reason.startswith("outside the sub-district, ")
        assert f"{metres:,.0f} m from its boundary" in reason


def test_swapped_lon_lat_are_named_as_such(seeded_engine, inside):
    rows = shop_rows(inside[:2])
    rows[2][3], rows[2][4] = rows[2][4], rows[2][3]
    with pytest.raises(ImportRejected) as caught:
        attempt(seeded_engine, "businesses", csv_bytes(rows), "shops.csv")
    assert caught.value.report.problems["reason"].tolist() == [
        "latitude out of range (-90..90): did you swap lon/lat?"
    ]


# -- bad files ------------------------------------------------------------------------------


def test_missing_and_non_numeric_coordinates_are_named(seeded_engine, inside):
    rows = shop_rows(inside[:3])
    rows[1][3], rows[1][4] = "", ""
    rows[2][4] = "北纬39"
    with pytest.raises(ImportRejected) as caught:
        attempt(seeded_engine, "businesses", csv_bytes(rows), "shops.csv")
    assert caught.value.report.problems[["row", "reason"]].values.tolist() == [
        [2, "no coordinates"],
        [3, "not a number"],
    ]


def test_unknown_columns_are_refused_unless_mapped_or_ignored(fresh_engine, inside):
    rows = shop_rows(inside[:2])
    rows[0][1] = "店招"
    rows[0].append("备注")
    for row in rows[1:]:
        row.append("无")
    with pytest.raises(InvalidInput, match=r"unknown column\(s\) for businesses: '店招', '备注'"):
        attempt(fresh_engine, "businesses", csv_bytes(rows), "shops.csv")
    report = run(
        fresh_engine,
        "businesses",
        csv_bytes(rows),
        "shops.csv",
        columns={"店招": "name_zh", "备注": "-"},
    )
    assert report.inserted == 2
    assert scalar(fresh_engine, "SELECT name_zh FROM businesses WHERE id = 'T001'") == "测试商店1"


def test_a_missing_required_column_is_named_with_the_files_columns(seeded_engine, inside):
    rows = [r[:1] + r[2:] for r in shop_rows(inside[:2])]  # no 名称
    with pytest.raises(InvalidInput, match=r"missing column\(s\) for businesses: name_zh \(名称\)"):
        attempt(seeded_engine, "businesses", csv_bytes(rows), "shops.csv")


def test_duplicate_ids_in_a_file_are_named_on_every_row_they_appear(seeded_engine, inside):
    rows = shop_rows(inside[:3])
    rows[3][0] = rows[1][0]
    with pytest.raises(ImportRejected) as caught:
        attempt(seeded_engine, "businesses", csv_bytes(rows), "shops.csv")
    problems = caught.value.report.problems
    assert problems["row"].tolist() == [2, 4]
    assert set(problems["reason"]) == {"duplicate id: it appears on rows 2, 4"}


@pytest.mark.parametrize(
    "data, filename, message",
    [
        (b"", "empty.csv", "empty.csv is empty"),
        ("编号,名称,经度,纬度\n".encode(), "header.csv", "no data rows"),
        (b'id,name_zh,lon,lat\nA,"x,98.5,39.75\n', "broken.csv", "malformed CSV"),
        (b"id,name_zh,lon,lat\nA,x,98.5,39.75,7\n", "wide.csv", "row 2 (line 2) has 5 fields"),
        (b'{"type": "FeatureCollection", "features": [}', "x.geojson", "line 1, column 44"),
        (b"PK\x03\x04 not really", "x.xlsx", "not a readable XLSX workbook"),
        (b"id,name\n", "x.xls", "save it as .xlsx"),
        (b"whatever", "x.pdf", "should end in .csv, .xlsx"),
    ],
)
def test_bad_files_get_a_clear_error(seeded_engine, data, filename, message):
    with pytest.raises(InvalidInput, match=message.replace("(", r"\(").replace(")", r"\)")):
        attempt(seeded_engine, "businesses", data, filename)


def test_an_xlsx_with_several_sheets_asks_which_and_sheet_picks_one(fresh_engine, inside):
    data = xlsx_bytes({"一月": shop_rows(inside[:2]), "二月": shop_rows(inside[2:5], "U")})
    with pytest.raises(InvalidInput, match=r"2 sheets with data \('一月', '二月'\).*--sheet"):
        attempt(fresh_engine, "businesses", data, "shops.xlsx")
    report = run(fresh_engine, "businesses", data, "shops.xlsx", sheet="二月")
    assert report.inserted == 3 and "二月" in report.read_as


def test_a_file_above_the_size_limit_is_refused(seeded_engine, inside, monkeypatch):
    data = csv_bytes(shop_rows(inside))
    monkeypatch.setenv("GRIDMAP_IMPORT_MAX_BYTES", str(len(data) - 1))
    get_settings.cache_clear()
    try:
        with pytest.raises(TooLarge, match=f"{len(data):,} bytes, over the import limit"):
            attempt(seeded_engine, "businesses", data, "shops.csv")
    finally:
        monkeypatch.undo()
        get_settings.cache_clear()


@pytest.mark.parametrize("encoding", ["gbk", "gb18030", "utf-8-sig", "utf-16"])
def test_csv_in_chinese_encodings_is_read(fresh_engine, inside, encoding):
    report = run(fresh_engine, "businesses", csv_bytes(shop_rows(inside), encoding), "s.csv")
    assert report.inserted == len(inside)
    assert scalar(fresh_engine, "SELECT address FROM businesses WHERE id = 'T003'") == "西北街3号"


def test_an_unsupported_crs_is_refused_with_the_choices(seeded_engine, inside):
    with pytest.raises(InvalidInput, match="unsupported coordinate system 'web mercator'"):
        attempt(
            seeded_engine, "businesses", csv_bytes(shop_rows(inside)), "s.csv", crs="web mercator"
        )


# -- other formats --------------------------------------------------------------------------


def shops_frame(points: np.ndarray, crs=4326) -> gpd.GeoDataFrame:
    rows = shop_rows(points)
    frame = pd.DataFrame(rows[1:], columns=rows[0]).drop(columns=["经度", "纬度"])
    return gpd.GeoDataFrame(frame, geometry=shapely.points(points), crs=crs)


def vector_bytes(frame: gpd.GeoDataFrame, fmt: str, tmp_path) -> tuple[bytes, str]:
    if fmt == "geojson":
        path = tmp_path / "shops.geojson"
        frame.to_file(path, driver="GeoJSON")
        return path.read_bytes(), path.name
    if fmt == "gpkg":
        path = tmp_path / "shops.gpkg"
        frame.to_file(path, layer="商户", driver="GPKG")
        return path.read_bytes(), path.name
    folder = tmp_path / "shp"
    folder.mkdir()
    frame.to_file(folder / "shops.shp", encoding="GBK")
    (folder / "shops.cpg").unlink()  # as many Chinese tools write it: GBK, no code page file
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for part in folder.iterdir():
            archive.write(part, f"shops/{part.name}")
    return buffer.getvalue(), "shops.zip"


@pytest.mark.parametrize("fmt", ["geojson", "gpkg", "shp"])
def test_geojson_geopackage_and_zipped_shapefile_points_import(fresh_engine, inside, fmt, tmp_path):
    data, name = vector_bytes(shops_frame(inside), fmt, tmp_path)
    report = run(fresh_engine, "businesses", data, name)
    assert (report.inserted, report.row_label) == (len(inside), "feature")
    with fresh_engine.connect() as conn:
        stored = conn.execute(
            text(
                "SELECT name_zh, ST_X(geom), ST_Y(geom) FROM businesses WHERE id LIKE 'T%' "
                "ORDER BY id"
            )
        ).all()
    assert stored[1][0] == "测试商店1"
    assert np.abs(np.array([r[1:] for r in stored]) - inside).max() < 1e-9


def test_a_geopackage_in_a_projected_crs_is_reprojected_by_its_declaration(
    fresh_engine, inside, tmp_path
):
    frame = shops_frame(inside).to_crs(4542)
    data, name = vector_bytes(frame, "gpkg", tmp_path)
    report = run(fresh_engine, "businesses", data, name)
    assert report.inserted == len(inside) and "EPSG:4542" in report.coordinates


def test_polygon_features_are_refused_feature_by_feature(seeded_engine, inside, tmp_path):
    frame = shops_frame(inside[:2])
    frame.loc[1, "geometry"] = shapely.box(98.46, 39.75, 98.47, 39.76)
    data, name = vector_bytes(frame, "geojson", tmp_path)
    with pytest.raises(ImportRejected) as caught:
        attempt(seeded_engine, "businesses", data, name)
    problems = caught.value.report.problems
    assert problems[["row", "column"]].values.tolist() == [[2, "geometry"]]
    assert "polygon" in problems["reason"].iloc[0]


# -- the other kinds ------------------------------------------------------------------------


def test_households_then_residents_linked_by_household_id(fresh_engine, inside):
    households = [["户编号", "地址", "楼栋", "单元", "房号", "经度", "纬度"]] + [
        [f"HX{k}", f"测试路{k}号", "1", "2", f"{k}01", x, y] for k, (x, y) in enumerate(inside)
    ]
    assert run(fresh_engine, "households", csv_bytes(households), "h.csv").inserted == 8
    residents = [
        ["人员编号", "户编号", "姓名", "性别", "出生日期", "与户主关系", "身份证号"],
        ["RX1", "HX0", "张三", "男", "1980年3月5日", "户主", "11010519491231002X"],
        ["RX2", "HX1", "李四", "女", "1990/1/2", "户主", ""],
        ["RX3", "HX99", "王五", "男", "", "", ""],
        ["RX4", "HX2", "赵六", "未知", "", "", "110105194912310021"],
    ]
    with pytest.raises(ImportRejected) as caught:
        run(fresh_engine, "residents", csv_bytes(residents), "r.csv")
    assert caught.value.report.problems[["row", "column", "reason"]].values.tolist() == [
        [4, "户编号", "no household with this id; import the households first"],
        [5, "性别", "not one of: F, M"],
        [5, "身份证号", "the ID number's check character is wrong (GB 11643)"],
    ]
    report = run(fresh_engine, "residents", csv_bytes(residents[:3]), "r.csv")
    assert report.inserted == 2
    with fresh_engine.connect() as conn:
        row = conn.execute(
            text(
                "SELECT r.gender, r.birth_date, h.sector_code FROM residents r "
                "JOIN households h ON h.id = r.household_id WHERE r.id = 'RX1'"
            )
        ).one()
        sector = locate_points(conn, inside[:1, 0], inside[:1, 1])["sector_code"].iloc[0]
    assert (row.gender, str(row.birth_date), row.sector_code) == ("M", "1980-03-05", sector)


def test_resources_check_their_unit_and_parent(fresh_engine, inside):
    rows = [
        ["编号", "类型", "名称", "服务网格", "上级编号", "经度", "纬度"],
        ["RS1", "网格员", "测试网格员", "6209020030010101", "", inside[0][0], inside[0][1]],
        ["RS2", "party_org", "测试支部", "", "", "", ""],
        ["RS3", "党员", "测试党员", "", "RS2", "", ""],
        ["RS4", "网格员", "错网格", "999", "", "", ""],
        ["RS5", "党员", "孤儿", "", "NOPE", "", ""],
    ]
    with pytest.raises(ImportRejected) as caught:
        run(fresh_engine, "resources", csv_bytes(rows), "res.csv")
    assert caught.value.report.problems[["row", "column"]].values.tolist() == [
        [5, "服务网格"],
        [6, "上级编号"],
    ]
    report = run(fresh_engine, "resources", csv_bytes(rows), "res.csv", skip_invalid=True)
    assert report.inserted == 3
    assert scalar(fresh_engine, "SELECT parent_id FROM resources WHERE id = 'RS3'") == "RS2"
    assert scalar(fresh_engine, "SELECT sector_code FROM resources WHERE id = 'RS2'") is None


def test_imported_incidents_get_deadlines_and_are_dispatched_like_seeded_ones(fresh_engine, inside):
    rows = [["事件编号", "事件类别", "发生时间", "上报时间", "描述", "经度", "纬度"]]
    categories = ["sanitation", "环境卫生", "public security", "dispute", "安全隐患"]
    for k, cat in enumerate(categories):
        rows.append([f"IMP{k}", cat, f"2026-03-0{k + 2} 17:{k}5", "", "测试", *inside[k]])
    report = run(fresh_engine, "incidents", csv_bytes(rows), "events.csv")
    assert report.inserted == len(categories)
    with fresh_engine.connect() as conn:
        stored = pd.read_sql(
            text(
                "SELECT i.*, c.dispatch_minutes, c.close_minutes, c.close_working_days "
                "FROM incidents i JOIN incident_categories c ON c.code = i.category "
                "WHERE i.id LIKE 'IMP%' ORDER BY i.id"
            ),
            conn,
        )
        teams = dict(conn.execute(text(SECTOR_TEAMS)).all())
        events = conn.execute(
            text(
                "SELECT incident_id, kind, to_status FROM incident_events "
                "WHERE incident_id LIKE 'IMP%' ORDER BY incident_id, id"
            )
        ).all()
    assert stored["category"].tolist() == [
        "sanitation",
        "sanitation",
        "public_security",
        "dispute",
        "safety_hazard",
    ]
    reported = stored["reported_at"].dt.tz_convert(None).to_numpy("datetime64[s]")
    assert (stored["reported_at"] == stored["observed_at"]).all()  # defaulted
    assert str(stored["observed_at"].iloc[0]) == "2026-03-02 09:05:00+00:00"  # Beijing time
    expected_due = due_at(
        reported,
        stored["close_minutes"].to_numpy(float),
        stored["close_working_days"].to_numpy(float),
    )
    expected_dispatch = dispatch_due_at(reported, stored["dispatch_minutes"].to_numpy(float))
    assert (stored["due_at"].dt.tz_convert(None).to_numpy("datetime64[s]") == expected_due).all()
    assert (
        stored["dispatch_due_at"].dt.tz_convert(None).to_numpy("datetime64[s]") == expected_dispatch
    ).all()
    assert set(stored["status"]) == {"dispatched"} and set(stored["source"]) == {"import"}
    assert stored["dispatched_at"].notna().all()
    for _, incident in stored.iterrows():
        assert list(incident["assigned_to"]) == teams[incident["sector_code"]]
    assert [e[1:] for e in events[:2]] == [("report", "reported"), ("dispatch", "dispatched")]
    assert len(events) == 2 * len(categories)


def test_incidents_reported_before_observed_or_in_the_future_are_refused(seeded_engine, inside):
    later = datetime.now(UTC).replace(year=datetime.now(UTC).year + 1).strftime("%Y-%m-%d %H:%M")
    rows = [
        ["category", "observed_at", "reported_at", "lon", "lat"],
        ["sanitation", "2026-03-05 10:00", "2026-03-05 09:00", *inside[0]],
        ["sanitation", later, "", *inside[1]],
        ["no_such_thing", "2026-03-05 10:00", "", *inside[2]],
    ]
    with pytest.raises(ImportRejected) as caught:
        attempt(seeded_engine, "incidents", csv_bytes(rows), "i.csv")
    problems = caught.value.report.problems
    assert problems[["row", "column", "reason"]].values.tolist()[:2] == [
        [2, "reported_at", "reported before it was observed"],
        [3, "observed_at", "in the future"],
    ]
    assert problems["row"].iloc[2] == 4 and problems["reason"].iloc[2].startswith("not one of")


def test_geojson_that_is_not_a_feature_collection_is_refused(seeded_engine):
    data = json.dumps([{"id": 1}]).encode()
    with pytest.raises(InvalidInput, match="JSON but not GeoJSON"):
        attempt(seeded_engine, "businesses", data, "x.json")

"""Boundary import: a good file replaces the layer and reports how many points moved; a
bad file changes nothing and says where it is wrong; GeoJSON, GeoPackage and zipped
Shapefile alike, from the command line and over HTTP."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import geopandas as gpd
import pytest
import shapely
from sqlalchemy import text

from geo.core.errors import InvalidInput
from geo.planning.importer import import_boundaries
from tests.conftest import auth
from tests.planning_support import coverage_is_clean, metric, neighbours, sectors, strip

GRIDMAP = str(Path(sys.executable).parent / "gridmap")


def sector_layer(
    engine, width_m: float = 40.0, gap_m: float = 0.0
) -> tuple[gpd.GeoDataFrame, tuple]:
    """The current sectors as a file would hold them (code, parent_code, 名称), with the
    border of the first pair moved by `width_m` (and a gap of `gap_m` left, if asked)."""
    with engine.connect() as conn:
        geoms = sectors(conn)
        a, b = neighbours(conn)[0]
        piece = strip(conn, a, b, width_m)
        names = dict(conn.execute(text("SELECT code, name_zh FROM units")).all())
        parents = dict(conn.execute(text("SELECT code, parent_code FROM units")).all())
    geoms[a] = shapely.union(geoms[a], piece)
    geoms[b] = shapely.difference(
        geoms[b], piece if not gap_m else shapely.buffer(piece, gap_m / 1e5)
    )
    frame = gpd.GeoDataFrame(
        {
            "code": list(geoms),
            "parent_code": [parents[c] for c in geoms],
            "名称": [names[c] for c in geoms],
        },
        geometry=list(geoms.values()),
        crs=4326,
    )
    return frame, (a, b, piece)


def snapshot(engine) -> tuple:
    with engine.connect() as conn:
        return tuple(
            conn.execute(
                text(
                    "SELECT (SELECT count(*) FROM units), (SELECT count(*) FROM courtyards), "
                    "(SELECT md5(string_agg(sector_code || coalesce(courtyard_code, ''), ',' "
                    "ORDER BY id)) FROM incidents)"
                )
            ).one()
        )


def raw_moves(engine, table: str, a: str, piece) -> int:
    with engine.connect() as conn:
        return conn.execute(
            text(
                f"SELECT count(*) FROM {table} WHERE sector_code <> :a "
                "AND ST_Covers(ST_GeomFromText(:g, 4326), geom)"
            ),
            {"a": a, "g": piece.wkt},
        ).scalar_one()


def test_a_geojson_sector_layer_replaces_the_layer_and_reports_moved_points(fresh_engine, tmp_path):
    frame, (a, b, piece) = sector_layer(fresh_engine)
    path = tmp_path / "sectors.geojson"
    frame.to_file(path, driver="GeoJSON")
    expected = {t: raw_moves(fresh_engine, t, a, piece) for t in ("incidents", "businesses")}
    with fresh_engine.begin() as conn:
        report = import_boundaries(conn, path, "sector", "cli:test", "2027 年网格调整")
    with fresh_engine.connect() as conn:
        assert coverage_is_clean(conn)
        kind, reason = conn.execute(
            text("SELECT kind, reason FROM boundary_changes WHERE kind <> 'initial_load'")
        ).one()
        now = sectors(conn)
    assert (kind, reason) == ("import_sector", "2027 年网格调整")
    mine = frame.geometry[frame.code == a].iloc[0]
    assert metric(shapely.symmetric_difference(now[a], mine)).area < 1e-5 * metric(mine).area
    for table, count in expected.items():
        assert report["moves"][table]["moved"] == count
        assert report["moves"][table]["flows"] == (
            [{"from": b, "to": a, "count": count}] if count else []
        )
    assert report["features"] == len(frame)


@pytest.mark.parametrize("kind", ["gpkg", "zip"])
def test_geopackage_and_zipped_shapefile_import_alike(fresh_engine, tmp_path, kind):
    frame, (a, b, piece) = sector_layer(fresh_engine)
    if kind == "gpkg":
        path = tmp_path / "sectors.gpkg"
        frame.to_file(path, driver="GPKG")
    else:  # shapefiles truncate column names and usually come in a projected CRS
        folder = tmp_path / "shp"
        folder.mkdir()
        frame.rename(columns={"parent_code": "parent"}).to_crs(4542).to_file(folder / "s.shp")
        path = tmp_path / "sectors.zip"
        with zipfile.ZipFile(path, "w") as archive:
            for f in folder.iterdir():
                archive.write(f, f.name)
    with fresh_engine.begin() as conn:
        report = import_boundaries(conn, path, "sector", "cli:test", dry_run=True)
    assert report["valid"], report["problems"]
    assert report["moves"]["incidents"]["moved"] == raw_moves(fresh_engine, "incidents", a, piece)


def test_a_file_with_a_gap_changes_nothing_and_names_the_gap(fresh_engine, tmp_path):
    frame, (a, b, _) = sector_layer(fresh_engine, gap_m=30)
    path = tmp_path / "gap.geojson"
    frame.to_file(path, driver="GeoJSON")
    before = snapshot(fresh_engine)
    with pytest.raises(InvalidInput) as refused, fresh_engine.begin() as conn:
        import_boundaries(conn, path, "sector", "cli:test")
    gaps = [p for p in refused.value.extra["problems"] if p["rule"] == "gap"]
    assert gaps and gaps[0]["area_m2"] > 1 and gaps[0]["where"]["type"] == "Polygon"
    assert snapshot(fresh_engine) == before


def test_features_with_bad_codes_or_invalid_polygons_are_named_by_number(fresh_engine, tmp_path):
    frame, _ = sector_layer(fresh_engine)
    frame.loc[3, "code"] = "6209020030019999"
    frame.loc[5, "code"] = frame.loc[4, "code"]
    x0, y0, x1, y1 = frame.geometry[7].bounds
    frame.loc[7, "geometry"] = shapely.Polygon([(x0, y0), (x1, y1), (x1, y0), (x0, y1)])
    path = tmp_path / "bad.geojson"
    frame.to_file(path, driver="GeoJSON")
    with pytest.raises(InvalidInput) as refused, fresh_engine.begin() as conn:
        import_boundaries(conn, path, "sector", "cli:test")
    by_feature = {(p["feature"], p["rule"]) for p in refused.value.extra["problems"]}
    assert {(4, "code"), (6, "code"), (8, "invalid_polygon")} <= by_feature


def test_an_unreadable_file_is_a_clear_error(fresh_engine, tmp_path):
    path = tmp_path / "broken.geojson"
    path.write_text("{not json", encoding="utf-8")
    with (
        pytest.raises(InvalidInput, match="cannot read broken.geojson"),
        fresh_engine.begin() as conn,
    ):
        import_boundaries(conn, path, "sector", "cli:test")
    (tmp_path / "x.csv").write_text("code,lon,lat\n", encoding="utf-8")
    with pytest.raises(InvalidInput, match="GeoJSON"), fresh_engine.begin() as conn:
        import_boundaries(conn, tmp_path / "x.csv", "sector", "cli:test")


def test_a_grid_layer_regroups_the_sectors_under_new_codes(fresh_engine, tmp_path):
    with fresh_engine.connect() as conn:
        grids = gpd.read_postgis(
            "SELECT code, parent_code, name_zh, geom FROM units WHERE level = 'grid2' "
            "AND valid_to IS NULL ORDER BY code",
            conn,
            geom_col="geom",
        )
        moved = dict(
            conn.execute(
                text(
                    "SELECT code, parent_code FROM units WHERE level = 'sector' AND "
                    "valid_to IS NULL AND parent_code = '62090200300102'"
                )
            ).all()
        )
    merged = shapely.union(grids.geometry[0], grids.geometry[1])
    grids = grids.drop(index=1)
    grids.loc[0, "geom"] = merged
    path = tmp_path / "grids.geojson"
    grids.to_file(path, driver="GeoJSON")
    with fresh_engine.begin() as conn:
        report = import_boundaries(conn, path, "grid2", "cli:test", "合并网格")
    retired = {u["code"]: u.get("successor") for u in report["units"] if u["action"] == "retired"}
    assert retired["62090200300102"] == "62090200300101"
    assert all(retired[code].startswith("62090200300101") for code in moved)
    with fresh_engine.connect() as conn:
        assert coverage_is_clean(conn)
        assert (
            conn.execute(
                text("SELECT count(*) FROM households WHERE grid2_code = '62090200300102'")
            ).scalar_one()
            == 0
        )


def test_a_courtyard_layer_keeps_the_courtyard_codes_of_points_right(fresh_engine, tmp_path):
    with fresh_engine.connect() as conn:
        yards = gpd.read_postgis(
            "SELECT code, kind, name_zh, geom FROM courtyards WHERE valid_to IS NULL ORDER BY code",
            conn,
            geom_col="geom",
        )
        gone = yards.code.iloc[0]
        residents = conn.execute(
            text("SELECT count(*) FROM households WHERE courtyard_code = :c"), {"c": gone}
        ).scalar_one()
    yards = yards.iloc[1:].copy()
    yards.loc[yards.index[0], "geom"] = shapely.buffer(
        yards.geom.iloc[0], 0.0002, join_style="mitre"
    )
    new_yard = yards.geom.iloc[0]
    path = tmp_path / "yards.geojson"
    yards.to_file(path, driver="GeoJSON")
    with fresh_engine.begin() as conn:
        report = import_boundaries(conn, path, "courtyard", "cli:test", "小区改造")
    with fresh_engine.connect() as conn:
        inside = conn.execute(
            text(
                "SELECT count(*) FROM households WHERE ST_Covers(ST_GeomFromText(:g, 4326), geom)"
            ),
            {"g": new_yard.wkt},
        ).scalar_one()
        tagged = conn.execute(
            text("SELECT count(*) FROM households WHERE courtyard_code = :c"),
            {"c": yards.code.iloc[0]},
        ).scalar_one()
        orphans = conn.execute(
            text("SELECT count(*) FROM households WHERE courtyard_code = :c"), {"c": gone}
        ).scalar_one()
    assert orphans == 0 and residents > 0
    assert tagged == inside
    assert report["moves"]["households"]["moved"] == residents
    assert {c["code"]: c["action"] for c in report["courtyards"]}[gone] == "retired"


def run(*args: str, url: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "GRIDMAP_DATABASE_URL": url}
    return subprocess.run([GRIDMAP, *args], capture_output=True, text=True, env=env, timeout=300)


def test_the_command_line_imports_a_good_file_and_refuses_a_bad_one(
    fresh_url, fresh_engine, tmp_path
):
    frame, (a, _, piece) = sector_layer(fresh_engine, gap_m=30)
    bad = tmp_path / "bad.geojson"
    frame.to_file(bad, driver="GeoJSON")
    report = tmp_path / "problems.csv"
    done = run(
        "import",
        "boundaries",
        str(bad),
        "--level",
        "sector",
        "--report",
        str(report),
        url=fresh_url,
    )
    assert done.returncode == 1 and done.stderr.count("\n") == 1
    assert done.stderr.startswith("gridmap: the sector import is refused")
    assert "gap" in report.read_text(encoding="utf-8")
    frame, (a, _, piece) = sector_layer(fresh_engine)
    good = tmp_path / "good.gpkg"
    frame.to_file(good, driver="GPKG")
    done = run("import", "boundaries", str(good), "--level", "sector", url=fresh_url)
    assert done.returncode == 0, done.stderr
    moved = raw_moves(fresh_engine, "incidents", a, piece)
    assert moved == 0  # already moved by the import
    assert "incidents" in done.stdout and "moved" in done.stdout


def test_the_api_imports_a_multipart_file_for_planners_only(fresh_client, fresh_engine, tmp_path):
    frame, (a, _, piece) = sector_layer(fresh_engine)
    path = tmp_path / "sectors.geojson"
    frame.to_file(path, driver="GeoJSON")
    expected = raw_moves(fresh_engine, "incidents", a, piece)
    files = {"file": ("sectors.geojson", path.read_bytes(), "application/geo+json")}
    denied = fresh_client.post(
        "/api/imports/boundaries", files=files, data={"level": "sector"}, headers=auth("official")
    )
    assert denied.status_code == 403
    response = fresh_client.post(
        "/api/imports/boundaries",
        files=files,
        data={"level": "sector", "reason": "导入"},
        headers=auth("planner"),
    )
    assert response.status_code == 200, response.text
    assert response.json()["moves"]["incidents"]["moved"] == expected

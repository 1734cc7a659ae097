"""Coordinate conversion against published reference pairs, and the inverses' accuracy."""

from __future__ import annotations

import numpy as np
import pytest
from pyproj import Geod, Transformer

from geo.core import coords
from geo.core.coords import CoordSystem, parse_crs, to_wgs84
from geo.core.errors import InvalidInput

GEOD = Geod(ellps="WGS84")

#: googollee/eviltransform, python/test.py, TESTS: (wgsLat, wgsLng, gcjLat, gcjLng)
EVILTRANSFORM = [
    (31.1774276, 121.5272106, 31.17530398364597, 121.531541859215),  # shanghai
    (22.543847, 113.912316, 22.540796131694766, 113.9171764808363),  # shenzhen
    (39.911954, 116.377817, 39.91334545536069, 116.38404722455657),  # beijing
]
#: wandergis/coordtransform, test/app.js: the results printed for (116.404, 39.915)
WANDERGIS_IN = (116.404, 39.915)
WANDERGIS = {
    "gcj02tobd09": (116.41036949371029, 39.92133699351021),
    "bd09togcj02": (116.39762729119315, 39.90865673957631),
    "wgs84togcj02": (116.41024449916938, 39.91640428150164),
}
#: Alibaba Cloud address purification API reference, TransferCoord example response:
#: GCJ02 120.026268,30.279164 -> BD09 120.032768,30.285238, WGS84 120.021519,30.281543
ALIYUN_GCJ02 = (120.026268, 30.279164)
ALIYUN_BD09 = (120.032768, 30.285238)
ALIYUN_WGS84 = (120.021519, 30.281543)


def metres(a, b) -> float:
    return GEOD.inv(a[0], a[1], b[0], b[1])[2]


def one(fn, lon, lat) -> tuple[float, float]:
    x, y = fn(np.array([lon]), np.array([lat]))
    return float(x[0]), float(y[0])


@pytest.mark.parametrize("wgs_lat, wgs_lon, gcj_lat, gcj_lon", EVILTRANSFORM)
def test_wgs84_to_gcj02_matches_eviltransforms_published_pairs(wgs_lat, wgs_lon, gcj_lat, gcj_lon):
    assert one(coords.wgs84_to_gcj02, wgs_lon, wgs_lat) == pytest.approx(
        (gcj_lon, gcj_lat), abs=1e-9
    )


@pytest.mark.parametrize("wgs_lat, wgs_lon, gcj_lat, gcj_lon", EVILTRANSFORM)
def test_gcj02_to_wgs84_recovers_the_published_wgs84_point_to_a_millimetre(
    wgs_lat, wgs_lon, gcj_lat, gcj_lon
):
    # eviltransform accepts 5 m for its one-step inverse and 0.5 m for its exact one
    assert metres(one(coords.gcj02_to_wgs84, gcj_lon, gcj_lat), (wgs_lon, wgs_lat)) < 0.001


def test_the_packages_one_step_inverse_is_the_approximation_we_refine():
    import coordTransform

    gcj_lat, gcj_lon, wgs = EVILTRANSFORM[0][2], EVILTRANSFORM[0][3], EVILTRANSFORM[0][1::-1]
    rough = coordTransform.gcj02_to_wgs84(gcj_lon, gcj_lat)
    assert metres(rough, wgs) > 0.5  # why the refinement exists
    assert metres(one(coords.gcj02_to_wgs84, gcj_lon, gcj_lat), wgs) < 0.001


def test_bd09_matches_wandergis_coordtransform_published_results():
    assert one(coords.gcj02_to_bd09, *WANDERGIS_IN) == pytest.approx(
        WANDERGIS["gcj02tobd09"], abs=1e-9
    )
    assert one(coords.wgs84_to_gcj02, *WANDERGIS_IN) == pytest.approx(
        WANDERGIS["wgs84togcj02"], abs=1e-9
    )
    # the published BD-09 -> GCJ-02 is the one-step formula; ours is refined, within 10 cm
    assert metres(one(coords.bd09_to_gcj02, *WANDERGIS_IN), WANDERGIS["bd09togcj02"]) < 0.1


def test_gcj02_and_bd09_match_aliyuns_published_transfer_example():
    assert one(coords.gcj02_to_bd09, *ALIYUN_GCJ02) == pytest.approx(ALIYUN_BD09, abs=1e-6)
    # the vendor's WGS 84 is a one-step inverse (printed to 6 decimals): within 2 m of ours
    assert metres(one(coords.gcj02_to_wgs84, *ALIYUN_GCJ02), ALIYUN_WGS84) < 2.0
    from_bd09 = to_wgs84([ALIYUN_BD09[0]], [ALIYUN_BD09[1]], "bd09")
    assert metres((from_bd09.lon[0], from_bd09.lat[0]), ALIYUN_WGS84) < 2.0


def test_inverses_undo_the_forward_functions_over_the_district_to_a_tenth_of_a_millimetre():
    rng = np.random.default_rng(1)
    lon, lat = rng.uniform(98.43, 98.52, 10_000), rng.uniform(39.73, 39.79, 10_000)
    for forward, inverse in [
        (coords.wgs84_to_gcj02, coords.gcj02_to_wgs84),
        (coords.wgs84_to_bd09, coords.bd09_to_wgs84),
    ]:
        back_lon, back_lat = inverse(*forward(lon, lat))
        assert np.abs(back_lon - lon).max() < 1e-9 and np.abs(back_lat - lat).max() < 1e-9


def test_gcj02_offset_in_jiuquan_is_hundreds_of_metres_so_it_must_be_converted():
    w = (98.47, 39.76)
    assert 100 < metres(one(coords.wgs84_to_gcj02, *w), w) < 1000


def test_missing_values_stay_missing_and_points_outside_china_are_unchanged():
    lon, lat = coords.gcj02_to_wgs84([np.nan, 2.35, 98.5], [39.7, 48.85, np.nan])
    assert np.isnan(lon[0]) and np.isnan(lat[2])
    assert (lon[1], lat[1]) == (2.35, 48.85)


def test_projected_cgcs2000_is_recognised_in_any_order_and_with_a_zone_prefix():
    lon, lat = np.array([98.47, 98.49]), np.array([39.76, 39.75])
    east, north = Transformer.from_crs(4326, 4542, always_xy=True).transform(lon, lat)
    for x, y, expect in [
        (east, north, "EPSG:4542"),
        (north, east, "surveyors"),
        (east + 33_000_000, north, "EPSG:4521"),
    ]:
        got = to_wgs84(x, y, "cgcs2000")
        assert expect in got.read_as
        assert np.abs(got.lon - lon).max() < 1e-8 and np.abs(got.lat - lat).max() < 1e-8
    plain = to_wgs84(lon, lat, "cgcs2000")
    assert "EPSG:4490" in plain.read_as and np.array_equal(plain.lon, lon)


def test_crs_names_users_type_are_understood_and_others_refused_with_the_choices():
    assert parse_crs(None) == CoordSystem.WGS84
    assert parse_crs("GCJ-02") == parse_crs("高德") == CoordSystem.GCJ02
    assert parse_crs("Baidu") == CoordSystem.BD09
    assert parse_crs("EPSG:4490") == CoordSystem.CGCS2000
    with pytest.raises(InvalidInput, match="unsupported coordinate system 'mercator'.*gcj02"):
        parse_crs("mercator")


def test_swapped_and_projected_values_are_named_as_such():
    reasons = coords.lonlat_problems(
        np.array([39.76, 98.47, 454583.0, 200.0]), np.array([98.47, 39.76, 4403015.0, 10.0])
    )
    assert "did you swap lon/lat?" in reasons[0]
    assert reasons[1] is None
    assert "--crs cgcs2000" in reasons[2]
    assert "longitude out of range" in reasons[3]

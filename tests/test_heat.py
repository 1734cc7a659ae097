"""Aggregated heat draws like raw-point heat at street zoom.

Leaflet.heat (as vendored: Folium's build with weights summed per cell) bins the points in
view into squares of half its radius at their centre of mass, scales each bin by the
densest bin (at least 1) and stamps a blurred disc per bin; simpleheat composites the
stamps. `draw` below does the same in numpy, so the test compares what a phone would
show for the raw incidents and for the page's 10 m cells.
"""

from __future__ import annotations

import numpy as np
from sqlalchemy import text

from geo.maps.heat import incident_heat
from geo.maps.layers import HEAT_STYLE


def to_pixels(lon, lat, zoom):
    scale = 256 * 2**zoom
    x = (np.asarray(lon) + 180) / 360 * scale
    rad = np.radians(np.asarray(lat))
    y = (1 - np.log(np.tan(rad) + 1 / np.cos(rad)) / np.pi) / 2 * scale
    return x, y


def draw(lon, lat, weight, zoom, view, size=512, pan=0.0):
    """The heat's opacity image (size x size px) for a view centred on `view` (lon, lat);
    Leaflet.heat's bins move with the map, `pan` shifts them by that many pixels."""
    radius, blur = HEAT_STYLE["radius"], HEAT_STYLE["blur"]
    r = radius + blur
    cx, cy = to_pixels(*view, zoom)
    x, y = to_pixels(lon, lat, zoom)
    x, y = x - cx + size / 2, y - cy + size / 2
    keep = (x > -r) & (x < size + r) & (y > -r) & (y < size + r)
    x, y, w = x[keep], y[keep], np.asarray(weight, float)[keep]
    cell = r / 2
    key = np.floor((x + pan) / cell).astype(int) * 100_000 + np.floor((y + pan) / cell).astype(int)
    bins, inverse = np.unique(key, return_inverse=True)
    total = np.bincount(inverse, w)
    bx = np.bincount(inverse, w * x) / total
    by = np.bincount(inverse, w * y) / total
    alpha = np.clip(np.maximum(total / max(1.0, total.max()), HEAT_STYLE["min_opacity"]), 0, 1)
    # one blurred disc per bin, composited "source-over": 1 - prod(1 - a k)
    yy, xx = np.mgrid[0:size, 0:size]
    log_clear = np.zeros((size, size))
    for px, py, a in zip(bx, by, alpha, strict=True):
        x0, x1 = int(max(0, px - r)), int(min(size, px + r + 1))
        y0, y1 = int(max(0, py - r)), int(min(size, py + r + 1))
        if x0 >= x1 or y0 >= y1:
            continue
        d = np.hypot(xx[y0:y1, x0:x1] - px, yy[y0:y1, x0:x1] - py)
        k = np.clip((r - d) / (2 * blur), 0, 1)
        log_clear[y0:y1, x0:x1] += np.log1p(-np.minimum(a * k, 0.999))
    return 1 - np.exp(log_clear)


def test_the_page_cells_draw_the_raw_incidents_heat_at_street_zoom(seeded_engine):
    with seeded_engine.connect() as conn:
        raw = np.array(conn.execute(text("SELECT ST_X(geom), ST_Y(geom) FROM incidents")).all())
        cells = incident_heat(conn, "TRUE", {})
        coarse = incident_heat(conn, "TRUE", {}, cell_m=160)
    assert len(cells.count) < len(raw)
    ones = np.ones(len(raw))
    # street zoom, centred on the busiest cell (a market), where a patrol looks
    view = (cells.lon[cells.count.argmax()], cells.lat[cells.count.argmax()])
    for zoom in (16, 17):
        points = draw(raw[:, 0], raw[:, 1], ones, zoom, view)
        assert points.max() > 0.5
        # Leaflet.heat's own picture moves this much when the map is panned by half a bin
        panned = np.abs(draw(raw[:, 0], raw[:, 1], ones, zoom, view, pan=8) - points)
        ours = np.abs(draw(cells.lon, cells.lat, cells.weights(), zoom, view) - points)
        assert ours.mean() <= panned.mean(), zoom
        assert np.quantile(ours, 0.99) <= np.quantile(panned, 0.99), zoom
        # and the comparison can tell: 160 m cells draw visibly different blobs
        lumps = np.abs(draw(coarse.lon, coarse.lat, coarse.weights(), zoom, view) - points)
        assert lumps.mean() > 3 * panned.mean()

"""Random points in polygons and around anchors, vectorised, in metres (EPSG:4542)."""

from __future__ import annotations

import numpy as np
import shapely


def points_in(polygon, n: int, rng: np.random.Generator) -> np.ndarray:
    """`n` uniform random points (x, y array) inside `polygon`, by rejection in its bounds."""
    minx, miny, maxx, maxy = polygon.bounds
    shapely.prepare(polygon)
    found = np.empty((0, 2))
    while len(found) < n:
        k = max(16, int((n - len(found)) * 1.6))
        xy = np.column_stack([rng.uniform(minx, maxx, k), rng.uniform(miny, maxy, k)])
        found = np.vstack([found, xy[shapely.contains_xy(polygon, xy[:, 0], xy[:, 1])]])
    return found[:n]


def jitter_inside(
    anchors: np.ndarray,
    sigma: float | np.ndarray,
    area,
    rng: np.random.Generator,
    max_rounds: int = 50,
) -> np.ndarray:
    """Each anchor moved by a normal offset of `sigma` metres, redrawn until inside `area`."""
    shapely.prepare(area)
    sigma = np.broadcast_to(np.asarray(sigma, dtype=float), (len(anchors),))
    out = anchors + rng.normal(0.0, 1.0, anchors.shape) * sigma[:, None]
    for _ in range(max_rounds):
        outside = ~shapely.contains_xy(area, out[:, 0], out[:, 1])
        if not outside.any():
            return out
        k = int(outside.sum())
        out[outside] = anchors[outside] + rng.normal(0.0, 1.0, (k, 2)) * sigma[outside, None]
    raise RuntimeError(f"{int(outside.sum())} anchors stay outside the area; are they inside it?")

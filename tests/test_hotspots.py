"""Gi* hotspot classes against hand-built lattices whose answer is known."""

from __future__ import annotations

import numpy as np
import pytest
import shapely

from geo.core.errors import InvalidInput
from geo.insight.hotspots import gi_star_hotspots, lattice_over

#: a 3 km x 3 km square in metric coordinates: 30 x 30 cells of 100 m
AREA = shapely.box(0, 0, 3000, 3000)


def uniform(rng, n):
    return rng.uniform(0, 3000, n), rng.uniform(0, 3000, n)


def block(rng, col0, row0, size, per_cell):
    """`per_cell` points in each cell of a size x size block of 100 m cells."""
    cols, rows = np.meshgrid(np.arange(col0, col0 + size), np.arange(row0, row0 + size))
    cols, rows = np.repeat(cols.ravel(), per_cell), np.repeat(rows.ravel(), per_cell)
    return (cols + rng.uniform(0.05, 0.95, len(cols))) * 100, (
        rows + rng.uniform(0.05, 0.95, len(rows))
    ) * 100


def cell(result, col, row):
    cells = result.cells
    return cells[(cells["col"] == col) & (cells["row"] == row)].iloc[0]


def test_a_known_hot_cluster_is_hot_at_99_percent_and_far_cells_are_not():
    rng = np.random.default_rng(7)
    bx, by = uniform(rng, 900)  # one incident a cell on average
    hx, hy = block(rng, 14, 14, 3, 30)  # 3 x 3 cells at (14..16, 14..16), 30 each
    result = gi_star_hotspots(np.r_[bx, hx], np.r_[by, hy], AREA, cell_m=100)
    cells = result.cells
    assert len(cells) == 900
    cluster = cells[cells["col"].between(14, 16) & cells["row"].between(14, 16)]
    assert (cluster["gi_bin"] == 3).all()
    # a cell's Gi* neighbourhood reaches one cell out: beyond two cells nothing is hot
    far = cells[~(cells["col"].between(12, 18) & cells["row"].between(12, 18))]
    assert (far["gi_bin"] <= 0).all()
    assert (cells["gi_bin"] < 0).sum() == 0
    assert result.summary()[3] >= 9


def test_an_empty_hole_in_a_busy_area_is_a_cold_spot():
    rng = np.random.default_rng(11)
    x, y = block(rng, 0, 0, 30, 12)
    hole = (x >= 1000) & (x < 1400) & (y >= 1000) & (y < 1400)  # 4 x 4 empty cells
    result = gi_star_hotspots(x[~hole], y[~hole], AREA, cell_m=100)
    assert cell(result, 11, 11)["gi_bin"] == -3
    assert cell(result, 12, 12)["gi_bin"] == -3
    assert cell(result, 25, 25)["gi_bin"] == 0
    assert (result.cells["gi_bin"] > 0).sum() == 0


def test_pure_noise_gives_no_significant_cell_once_the_false_discovery_rate_is_controlled():
    rng = np.random.default_rng(3)
    x, y = uniform(rng, 4500)
    result = gi_star_hotspots(x, y, AREA, cell_m=100)
    # uncorrected, about 1 % of 900 cells would pass p < 0.01 by chance
    assert (result.cells["p"] < 0.01).sum() >= 1
    assert (result.cells["gi_bin"].abs() == 3).sum() == 0


def test_classes_follow_the_confidence_levels_and_their_fdr_cutoffs():
    rng = np.random.default_rng(5)
    bx, by = uniform(rng, 900)
    hx, hy = block(rng, 5, 5, 2, 8)
    result = gi_star_hotspots(np.r_[bx, hx], np.r_[by, hy], AREA)
    cutoffs = result.fdr_cutoffs
    assert cutoffs[0.99] <= cutoffs[0.95] <= cutoffs[0.90]
    for _, c in result.cells.iterrows():
        level = 3 if c.p <= cutoffs[0.99] else 2 if c.p <= cutoffs[0.95] else 1 if (
            c.p <= cutoffs[0.90]
        ) else 0  # fmt: skip
        assert c.gi_bin == np.sign(c.z) * level


def test_only_cells_touching_the_area_are_analysed():
    triangle = shapely.Polygon([(0, 0), (1000, 0), (0, 1000)])
    lattice = lattice_over(triangle, 100)
    assert 50 < len(lattice.cells) < 100
    assert shapely.intersects(triangle, lattice.cells.geometry.values).all()


@pytest.mark.parametrize("size", [5, 24.9, 1001, float("nan")])
def test_a_cell_size_outside_25_to_1000_metres_is_refused(size):
    with pytest.raises(InvalidInput) as error:
        lattice_over(AREA, size)
    assert error.value.extra["field"] == "cell"

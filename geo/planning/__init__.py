"""Boundary planning: planners redraw the grids safely — validated, previewed, versioned.

Grid sectors are the one source geometry; level-2 grids and communities are the coverage
union of the sectors they hold, so the levels cannot disagree. An edit (move a border,
reassign, split, merge, roll back, import, rebalance) builds a proposed layer, which is
resolved into a clean coverage of the sub-district and validated before anything is
written; then one transaction closes the changed versions and inserts the next ones,
re-attaches the points of the changed area and re-dispatches the open incidents that moved.
A dry run does all of it and rolls it back, so a preview is exactly what applying would do.

Modules: `geometry` (CRS and GeoJSON), `coverage` (noding, gaps, overlaps), `checks` (the
rules), `layer` (current and as-of state, ETags, the lock), `codes` (stable codes),
`commit` (the transaction), `reattach` (incremental re-attach), `edits`, `importer`,
`rebalance`, `asof`, `preview_map` (the SVG preview page); `plans` (named drafts of edits
applied as one change, locks), `plan_compare` and `plan_files` (export and import);
`subdistricts` (`gridmap district add`: another sub-district's outline and units).
"""

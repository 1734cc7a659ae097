"""a boundary edit writes less per moved incident: two indexes fewer, room for HOT upserts

Revision ID: 0019e
Revises: 0018c
Create Date: 2026-12-02

A boundary edit at a million incidents moves ~5,000 of them to another sector in one
UPDATE; its cost is proportional to the moved rows (issue 23). Profiled on the 1M
benchmark database (CPU time of the UPDATE and its triggers, the machine under load):
the rewrite of the rows with their index entries about a quarter, the statement-level
triggers the rest, about half of it the per-sector rollups' ~5,300-row daily upsert and
half the heat cells' (0017h) upserts and deletes. Here:

- `ix_incidents_grid2_code` and `ix_incidents_community_code` are dropped: a level-2 grid's
  and a community's codes follow from the sector's (its parents), and every reader either
  goes by the sector (row scopes match `sector_code LIKE code || '%'`, the unit page counts
  by the unit's current sectors, `geo.publish.listing`) or pages in id order, which the
  planner serves from the primary key at a million rows (EXPLAIN in the README). Every
  moved incident wrote an entry in each (12 full indexes, now 10);
- the four rollup tables an edit upserts (`incident_daily_stats`, `incident_monthly_stats`,
  `incident_heat_cells`, `incident_heat_totals`) get fill factor 80 and are rewritten once
  in primary-key order (CLUSTER): an upsert that adds to an existing row then finds room
  for the new row version on its page and updates it HOT (no new entry in any index of
  the table); packed full, every such update moved the row and added an entry to each index
  (3 for the daily rollup);
- the heat cell triggers delete the cells left empty by their row ids (`ctid = ANY`):
  the planner, estimating a few thousand ids, scanned the whole totals table instead
  (370,000 rows, for every edit); the functions now run with `enable_seqscan = off`, so
  the ids are fetched directly (a TID scan). Nothing else in them scans a table.

The downgrade recreates the indexes and restores the defaults (the tables keep their
order, which no reader depends on).
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0019e"
down_revision: str | None = "0018c"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: index name → column, on incidents
DROPPED = {
    "ix_incidents_grid2_code": "grid2_code",
    "ix_incidents_community_code": "community_code",
}
#: rollup table → its primary key index (the order it is rewritten in)
ROOMY = {
    "incident_daily_stats": "incident_daily_stats_pkey",
    "incident_monthly_stats": "incident_monthly_stats_pkey",
    "incident_heat_cells": "incident_heat_cells_pkey",
    "incident_heat_totals": "incident_heat_totals_pkey",
}
FILL_FACTOR = 80
HEAT_FUNCTIONS = ("incident_heat_insert()", "incident_heat_update()", "incident_heat_delete()")


def upgrade() -> None:
    for index in DROPPED:
        op.execute(f"DROP INDEX {index}")
    for table, key in ROOMY.items():
        op.execute(f"ALTER TABLE {table} SET (fillfactor = {FILL_FACTOR})")
        op.execute(f"CLUSTER {table} USING {key}")
        op.execute(f"ANALYZE {table}")
    for function in HEAT_FUNCTIONS:
        op.execute(f"ALTER FUNCTION {function} SET enable_seqscan = off")


def downgrade() -> None:
    for function in HEAT_FUNCTIONS:
        op.execute(f"ALTER FUNCTION {function} RESET enable_seqscan")
    for table in ROOMY:
        op.execute(f"ALTER TABLE {table} SET WITHOUT CLUSTER")
        op.execute(f"ALTER TABLE {table} RESET (fillfactor)")
    for index, column in DROPPED.items():
        op.execute(f"CREATE INDEX {index} ON incidents ({column})")

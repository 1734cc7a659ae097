"""a boundary edit writes less per moved incident: two indexes fewer, room for HOT upserts

Revision ID: 0019e
Revises: 0019a
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
- the four rollup tables an edit upserts get room on their pages and are rewritten once
  in primary-key order (CLUSTER): an upsert that adds to an existing row then finds room
  for the new row version on its page and updates it HOT (no new entry in any index of
  the table); packed full, almost every such update moved the row and added an entry to
  each index. Measured on the benchmark's edit: the per-sector rollups (3 indexes each,
  ~500-byte rows) at fill factor 50 update all 5,280 + 348 rows HOT (80: 42 %, 65: 74 %),
  so they get 50; the heat tables (one index, 60-byte rows, and twice the rows: the heat
  page reads them) get 80 (HOT 59 % and 28 % of their updates, from 7 % and 23 %);
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
down_revision: str | None = "0019a"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: index name → column, on incidents
DROPPED = {
    "ix_incidents_grid2_code": "grid2_code",
    "ix_incidents_community_code": "community_code",
}
#: rollup table → its fill factor
ROOMY = {
    "incident_daily_stats": 50,
    "incident_monthly_stats": 50,
    "incident_monthly_totals": 50,  # (0019a: kept from the monthly rollup, upserted with it)
    "incident_heat_cells": 80,
    "incident_heat_totals": 80,
}
HEAT_FUNCTIONS = ("incident_heat_insert()", "incident_heat_update()", "incident_heat_delete()")


def upgrade() -> None:
    for index in DROPPED:
        op.execute(f"DROP INDEX {index}")
    for table, fill in ROOMY.items():
        op.execute(f"ALTER TABLE {table} SET (fillfactor = {fill})")
        op.execute(f"CLUSTER {table} USING {table}_pkey")
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

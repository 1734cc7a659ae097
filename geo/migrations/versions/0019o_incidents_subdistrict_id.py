"""incidents: the sub-district index carries the id, so a tenant's pages come in id order

Revision ID: 0019o
Revises: 0018c
Create Date: 2026-12-02

Under row-level security (0017t) a scoped transaction reads `incidents` through the policy
`subdistrict = current_setting('gridmap.subdistrict')`. The OGC items page takes its keys
`ORDER BY id LIMIT … OFFSET …`: the primary key's order holds no sub-district, so the
planner read every row of the sub-district through `ix_incidents_subdistrict` and sorted
them (a page at offset 500,000 of a million incidents: 14 s, an external sort of 21 MB, where
the same page unscoped took 0.7 s). Replacing that index by `(subdistrict, id)` gives the
sub-district's ids in order from the index alone (0.3 s), and it still serves everything
the one-column index served (its leading column); the table keeps its number of indexes.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0019o"
down_revision: str | None = "0018c"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("incidents_subdistrict_id", "incidents", ["subdistrict", "id"])
    op.drop_index("ix_incidents_subdistrict", table_name="incidents")


def downgrade() -> None:
    op.create_index("ix_incidents_subdistrict", "incidents", ["subdistrict"])
    op.drop_index("incidents_subdistrict_id", table_name="incidents")

"""the case lists' index of open cases carries the sub-district, so lists read it alone again

Revision ID: 0020o
Revises: 0020d
Create Date: 2026-12-02

0016d's `incidents_open_due` holds the open cases by (due_at, id, status) with the columns
the lists filter on, so that a grid worker's list and the counts by state are read from the
index alone. Since 0017t every scoped transaction reads `incidents` through the policy
`subdistrict = current_setting('gridmap.subdistrict')`, a column the index lacked: each list
and each count fetched every open case of the sub-district from the table to check it
(on the 1,000,000-incident benchmark database: 4,611 open cases on 3,808 pages, 14-18 ms a
count, where the same read from the index is 4-6 ms). The index now includes `subdistrict`;
its entries are those of the open cases only, as before.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0020o"
down_revision: str | None = "0020d"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OPEN = "status NOT IN ('verified', 'rejected', 'duplicate')"
#: what the lists filter on (whose case, which grid, which category; the sub-district, for
#: the row-level security policy): read from the index
COVERED = ["sector_code", "owner_id", "assigned_to", "category"]


def _index(covered: list[str]) -> None:
    op.drop_index("incidents_open_due", table_name="incidents")
    op.create_index(
        "incidents_open_due",
        "incidents",
        ["due_at", "id", "status"],
        unique=False,
        postgresql_where=sa.text(OPEN),
        postgresql_include=covered,
    )


def upgrade() -> None:
    _index([*COVERED, "subdistrict"])


def downgrade() -> None:
    _index(COVERED)

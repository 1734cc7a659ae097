"""the case lists' index of open cases leads with the sub-district, so lists read it alone again

Revision ID: 0020o
Revises: 0020d
Create Date: 2026-12-02

0016d's `incidents_open_due` holds the open cases by (due_at, id, status) with the columns
the lists filter on, so that a grid worker's list and the counts by state are read from the
index alone. Since 0017t every scoped transaction reads `incidents` through the policy
`subdistrict = current_setting('gridmap.subdistrict')`, a column the index lacked: each list
and each count fetched every open case from the table to check it (on the 1,000,000-incident
benchmark database: 4,611 open cases on 3,808 pages, 14-18 ms a count, where the same read
from the index is 4-6 ms), and in a city the index holds every sub-district's open cases, all
of which a tenant's list walked.

Now keyed (subdistrict, due_at, id, status): a tenant's open cases are one range of it, in
the lists' order. Measured on a city of 50 sub-districts with 214,000 open cases (a copy of
the city benchmark's database, 22 % of its cases reopened), warm, one sub-district's
supervisor page / counts 12 / 20 ms -> 5 / 2.4 ms, a grid worker's 29 / 25 -> 10 / 5 ms. The
city's own list (every sub-district) reads all open cases for its first page: 60-100 ms.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0020o"
down_revision: str | None = "0020d"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OPEN = "status NOT IN ('verified', 'rejected', 'duplicate')"
ORDER = ["due_at", "id", "status"]
#: what the lists filter on (whose case, which grid, which category): read from the index
COVERED = ["sector_code", "owner_id", "assigned_to", "category"]


def _index(columns: list[str]) -> None:
    op.drop_index("incidents_open_due", table_name="incidents")
    op.create_index(
        "incidents_open_due",
        "incidents",
        columns,
        unique=False,
        postgresql_where=sa.text(OPEN),
        postgresql_include=COVERED,
    )


def upgrade() -> None:
    _index(["subdistrict", *ORDER])


def downgrade() -> None:
    _index(ORDER)

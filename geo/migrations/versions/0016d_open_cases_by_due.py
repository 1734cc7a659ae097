"""the case desk's lists: the open cases in the order they are listed (due first)

Revision ID: 0016d
Revises: 0015
Create Date: 2026-12-01

`GET /api/cases?state=open` (my cases, the command centre's open cases) lists open cases
by due time and reads one page (`limit`/`offset`). A partial index on the open cases by
(due_at, id) gives that order without sorting every open case of a million-incident
history; with `status` and the columns the lists filter on (sector, owner, team, category)
in it, a grid worker's list and the counts by state are read from the index alone.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016d"
down_revision: str | None = "0016s"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OPEN = "status NOT IN ('verified', 'rejected', 'duplicate')"
#: what the lists filter on (whose case, which grid, which category): read from the index
COVERED = ["sector_code", "owner_id", "assigned_to", "category"]


def upgrade() -> None:
    op.create_index(
        "incidents_open_due",
        "incidents",
        ["due_at", "id", "status"],
        unique=False,
        postgresql_where=sa.text(OPEN),
        postgresql_include=COVERED,
    )


def downgrade() -> None:
    op.drop_index("incidents_open_due", table_name="incidents")

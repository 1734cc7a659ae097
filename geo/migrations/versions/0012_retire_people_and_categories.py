"""people and categories retire instead of being deleted

Revision ID: 0012
Revises: 0009
Create Date: 2026-12-01

Grid workers, stationed officers, party branches and co-building units (rows of
`resources`) and incident categories get a `retired_at`: a retired row leaves the active
lists, dispatch, coverage counts and the report form, but stays in the table so the cases,
events and audit entries that name it still resolve.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("resources", sa.Column("retired_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column(
        "incident_categories",
        sa.Column("retired_at", sa.DateTime(timezone=True), nullable=True),
    )


def downgrade() -> None:
    op.drop_column("incident_categories", "retired_at")
    op.drop_column("resources", "retired_at")

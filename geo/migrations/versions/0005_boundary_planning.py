"""boundary planning: the change log, lineage of versions, and as-of functions

Revision ID: 0005
Revises: 0002
Create Date: 2026-11-24

Every boundary edit writes one `boundary_changes` row; the unit and courtyard versions it
writes point at it (`change_id`), and a retired version names the unit that took over its
area (`successor_code`). `units_as_of(ts)` and `courtyards_as_of(ts)` return the versions
in force at a moment, for maps and statistics of a past period on the boundaries valid then.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0005"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

VERSIONED = ("units", "courtyards")


def upgrade() -> None:
    op.create_table(
        "boundary_changes",
        sa.Column("id", sa.Integer(), sa.Identity(always=False), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=120), nullable=False),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("summary", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    for table in VERSIONED:
        op.add_column(table, sa.Column("change_id", sa.Integer(), nullable=True))
        op.add_column(table, sa.Column("successor_code", sa.String(length=32), nullable=True))
        op.create_foreign_key(
            f"{table}_change_id_fkey", table, "boundary_changes", ["change_id"], ["id"]
        )
        op.create_index(f"{table}_code_history", table, ["code", "valid_from"])
    op.execute(
        """
        CREATE FUNCTION units_as_of(ts timestamptz) RETURNS SETOF units
        LANGUAGE sql STABLE AS $$
            SELECT * FROM units
            WHERE valid_from <= ts AND (valid_to IS NULL OR valid_to > ts)
        $$
        """
    )
    op.execute(
        """
        CREATE FUNCTION courtyards_as_of(ts timestamptz) RETURNS SETOF courtyards
        LANGUAGE sql STABLE AS $$
            SELECT * FROM courtyards
            WHERE valid_from <= ts AND (valid_to IS NULL OR valid_to > ts)
        $$
        """
    )


def downgrade() -> None:
    op.execute("DROP FUNCTION courtyards_as_of(timestamptz)")
    op.execute("DROP FUNCTION units_as_of(timestamptz)")
    for table in VERSIONED:
        op.drop_index(f"{table}_code_history", table_name=table)
        op.drop_constraint(f"{table}_change_id_fkey", table, type_="foreignkey")
        op.drop_column(table, "successor_code")
        op.drop_column(table, "change_id")
    op.drop_table("boundary_changes")

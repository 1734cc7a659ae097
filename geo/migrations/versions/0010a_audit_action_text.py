"""The audit log's action holds any path: a write to a long path lost its audit row
(`action` was varchar(80), and the insert failed after the write had answered).

Revision ID: 0010a
Revises: 0009
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010a"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.alter_column("audit_log", "action", type_=sa.Text(), existing_type=sa.String(80))


def downgrade() -> None:
    # longer actions are cut to fit (the log stays append-only: ALTER does not fire triggers)
    op.alter_column(
        "audit_log",
        "action",
        type_=sa.String(80),
        existing_type=sa.Text(),
        postgresql_using="left(action, 80)",
    )

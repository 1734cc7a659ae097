"""planner's plans: named drafts of boundary edits, their edits, and the sectors they lock

Revision ID: 0016p
Revises: 0015
Create Date: 2026-12-01

- `plans`: a named sequence of edits not yet applied, made on a base (the layer ETag when
  it was made or last rebased); `cursor` is how many of its edits are in force (undo moves
  it back, redo forward); `status` open, applied (with the boundary change it became) or
  discarded.
- `plan_edits`: the edits of a plan in order, each with the body the single-edit routes
  take and a short summary of its preview.
- `plan_locks`: a sector locked by one plan; a trigger on `units` refuses any new or closed
  version of a locked sector unless the transaction works for that plan
  (`set_config('gridmap.plan', id, true)`), with SQLSTATE GM409 naming the sector and plan.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0016p"
down_revision: str | None = "0016o"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

GUARD = """
CREATE FUNCTION plan_lock_guard() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    owner integer;
    owner_name text;
BEGIN
    SELECT l.plan_id, p.name INTO owner, owner_name
    FROM plan_locks l JOIN plans p ON p.id = l.plan_id WHERE l.sector_code = NEW.code;
    IF owner IS NOT NULL
       AND owner::text IS DISTINCT FROM nullif(current_setting('gridmap.plan', true), '') THEN
        RAISE EXCEPTION USING ERRCODE = 'GM409',
            MESSAGE = format('sector %s is locked by plan #%s (%s); nothing was written. '
                             'Apply or discard that plan, or ask its author to unlock it',
                             NEW.code, owner, owner_name);
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER units_plan_lock BEFORE INSERT OR UPDATE ON units
    FOR EACH ROW EXECUTE FUNCTION plan_lock_guard();
"""


def upgrade() -> None:
    op.create_table(
        "plans",
        sa.Column("id", sa.Integer(), sa.Identity(always=False), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("status", sa.String(length=12), server_default="open", nullable=False),
        sa.Column("base_etag", sa.String(length=64), nullable=False),
        sa.Column("cursor", sa.Integer(), server_default="0", nullable=False),
        sa.Column("created_by", sa.String(length=120), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("applied_change_id", sa.Integer(), nullable=True),
        sa.CheckConstraint("status IN ('open', 'applied', 'discarded')", name="plans_status"),
        sa.ForeignKeyConstraint(["applied_change_id"], ["boundary_changes.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "plan_edits",
        sa.Column("plan_id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("body", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("summary", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["plan_id"], ["plans.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("plan_id", "seq"),
    )
    op.create_table(
        "plan_locks",
        sa.Column("sector_code", sa.String(length=32), nullable=False),
        sa.Column("plan_id", sa.Integer(), nullable=False),
        sa.Column("locked_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["plan_id"], ["plans.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("sector_code"),
    )
    op.create_index(op.f("ix_plan_locks_plan_id"), "plan_locks", ["plan_id"], unique=False)
    op.execute(GUARD)


def downgrade() -> None:
    op.execute("DROP TRIGGER units_plan_lock ON units")
    op.execute("DROP FUNCTION plan_lock_guard()")
    op.drop_index(op.f("ix_plan_locks_plan_id"), table_name="plan_locks")
    op.drop_table("plan_locks")
    op.drop_table("plan_edits")
    op.drop_table("plans")

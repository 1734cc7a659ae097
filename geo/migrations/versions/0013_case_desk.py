"""the case desk: one named owner, extension and return requests, photos, working calendar

Revision ID: 0013
Revises: 0009
Create Date: 2026-12-01

- `incidents.owner_id`: the one grid worker who owns a case (the team in `assigned_to`
  still sees it).
- `incident_events.kind` widens to 24 characters for the request kinds
  (`extension_request`, `extension_approved`, ... `return_refused`).
- `case_requests`: a worker's request for more time (延期) or to hand a case back (回退),
  and the supervisor's decision.
- `incident_photos`: metadata of the photos stored content-addressed under GRIDMAP_HOME.
- `working_calendar`: the admin-editable days that differ from the `chinese-calendar`
  package's answer (or that it does not know): a holiday on a weekday, a make-up working
  day (调休) on a weekend.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("incidents", sa.Column("owner_id", sa.String(length=40), nullable=True))
    op.create_index(op.f("ix_incidents_owner_id"), "incidents", ["owner_id"], unique=False)
    op.alter_column(
        "incident_events",
        "kind",
        type_=sa.String(length=24),
        existing_type=sa.String(length=16),
        existing_nullable=False,
    )
    op.create_table(
        "case_requests",
        sa.Column("id", sa.Integer(), sa.Identity(always=False), nullable=False),
        sa.Column("incident_id", sa.String(length=40), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), server_default="pending", nullable=False),
        sa.Column("working_days", sa.Integer(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("requested_by", sa.String(length=80), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_by", sa.String(length=80), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decision_note", sa.Text(), nullable=True),
        sa.CheckConstraint("kind IN ('extension', 'return')", name="case_requests_kind"),
        sa.CheckConstraint(
            "status IN ('pending', 'approved', 'refused')", name="case_requests_status"
        ),
        sa.ForeignKeyConstraint(["incident_id"], ["incidents.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        op.f("ix_case_requests_incident_id"), "case_requests", ["incident_id"], unique=False
    )
    op.create_index(
        "case_requests_one_pending",
        "case_requests",
        ["incident_id"],
        unique=True,
        postgresql_where=sa.text("status = 'pending'"),
    )
    op.create_table(
        "incident_photos",
        sa.Column("id", sa.Integer(), sa.Identity(always=False), nullable=False),
        sa.Column("incident_id", sa.String(length=40), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("media_type", sa.String(length=16), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("bytes", sa.Integer(), nullable=False),
        sa.Column("stage", sa.String(length=16), nullable=False),
        sa.Column("uploaded_by", sa.String(length=80), nullable=False),
        sa.Column(
            "uploaded_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint("stage IN ('report', 'before', 'after')", name="incident_photos_stage"),
        sa.ForeignKeyConstraint(["incident_id"], ["incidents.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        op.f("ix_incident_photos_incident_id"), "incident_photos", ["incident_id"], unique=False
    )
    op.create_table(
        "working_calendar",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("working", sa.Boolean(), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("changed_by", sa.String(length=80), nullable=True),
        sa.PrimaryKeyConstraint("day"),
    )


def downgrade() -> None:
    op.drop_table("working_calendar")
    op.drop_index(op.f("ix_incident_photos_incident_id"), table_name="incident_photos")
    op.drop_table("incident_photos")
    op.drop_index("case_requests_one_pending", table_name="case_requests")
    op.drop_index(op.f("ix_case_requests_incident_id"), table_name="case_requests")
    op.drop_table("case_requests")
    # events of the longer kinds would not fit the old width
    op.execute("DELETE FROM incident_events WHERE length(kind) > 16")
    op.alter_column(
        "incident_events",
        "kind",
        type_=sa.String(length=16),
        existing_type=sa.String(length=24),
        existing_nullable=False,
    )
    op.drop_index(op.f("ix_incidents_owner_id"), table_name="incidents")
    op.drop_column("incidents", "owner_id")

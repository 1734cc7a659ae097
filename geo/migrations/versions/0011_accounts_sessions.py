"""accounts: people with passwords, server-side sessions, throttled failures, token owners

Revision ID: 0011
Revises: 0009
Create Date: 2026-12-01

People sign in with a login name and an Argon2id password (`users`); a sign-in is a row of
`user_sessions` holding only the SHA-256 of the random cookie value. Failed sign-ins and
bad tokens are counted in `auth_failures` (throttling across processes). A token may
belong to a user (a personal access token, with its roles and an expiry), and a case event
remembers the stable identity of whoever acted (`incident_events.actor_id`, e.g. `user:7`).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0011"
down_revision: str | None = "0010a"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), sa.Identity(always=False), nullable=False),
        sa.Column("login", sa.String(length=64), nullable=False),
        sa.Column("display_name", sa.String(length=80), nullable=False),
        sa.Column("password_hash", sa.String(length=200), nullable=False),
        sa.Column("roles", postgresql.ARRAY(sa.String(length=16)), nullable=False),
        sa.Column("worker_id", sa.String(length=40), nullable=True),
        sa.Column(
            "scope_codes",
            postgresql.ARRAY(sa.String(length=32)),
            server_default="{}",
            nullable=False,
        ),
        sa.Column("must_change_password", sa.Boolean(), server_default="true", nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("password_changed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("disabled_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("login"),
    )
    op.create_table(
        "user_sessions",
        sa.Column("id", sa.Integer(), sa.Identity(always=False), nullable=False),
        sa.Column("session_hash", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "last_seen_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("session_hash"),
    )
    op.create_index(op.f("ix_user_sessions_user_id"), "user_sessions", ["user_id"], unique=False)
    op.create_table(
        "auth_failures",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column(
            "at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("account", sa.String(length=64), nullable=True),
        sa.Column("address", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("auth_failures_address", "auth_failures", ["kind", "address", "at"])
    op.create_index("auth_failures_account", "auth_failures", ["kind", "account", "at"])
    op.add_column("api_tokens", sa.Column("user_id", sa.Integer(), nullable=True))
    op.create_foreign_key(
        "api_tokens_user_id_fkey", "api_tokens", "users", ["user_id"], ["id"], ondelete="CASCADE"
    )
    op.add_column(
        "api_tokens",
        sa.Column(
            "roles",
            postgresql.ARRAY(sa.String(length=16)),
            server_default="{}",
            nullable=False,
        ),
    )
    op.add_column("api_tokens", sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("incident_events", sa.Column("actor_id", sa.String(length=40), nullable=True))


def downgrade() -> None:
    op.drop_column("incident_events", "actor_id")
    op.drop_column("api_tokens", "expires_at")
    op.drop_column("api_tokens", "roles")
    op.drop_constraint("api_tokens_user_id_fkey", "api_tokens", type_="foreignkey")
    op.drop_column("api_tokens", "user_id")
    op.drop_index("auth_failures_account", table_name="auth_failures")
    op.drop_index("auth_failures_address", table_name="auth_failures")
    op.drop_table("auth_failures")
    op.drop_index(op.f("ix_user_sessions_user_id"), table_name="user_sessions")
    op.drop_table("user_sessions")
    op.drop_table("users")

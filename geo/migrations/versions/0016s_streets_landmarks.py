"""orientation layers: the district's streets and landmarks, drawn under the data

Revision ID: 0016s
Revises: 0015
Create Date: 2026-12-01

Two plain layers (not versioned: they orient the reader, no statistic counts on them),
loaded by `gridmap seed` from `data/boundaries/` and replaced by `gridmap import streets
FILE` / `gridmap import landmarks FILE` (an OpenStreetMap extract, say). A change bumps
the data version, so cached map pages are redrawn with the new streets.
"""

from collections.abc import Sequence

import geoalchemy2
import sqlalchemy as sa
from alembic import op

revision: str = "0016s"
down_revision: str | None = "0016p"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("streets", "landmarks")


def upgrade() -> None:
    op.create_table(
        "streets",
        sa.Column("id", sa.Integer(), sa.Identity(always=False), nullable=False),
        sa.Column("name_zh", sa.String(length=80), nullable=True),
        sa.Column("name_en", sa.String(length=120), nullable=True),
        sa.Column("highway", sa.String(length=32), nullable=True),
        sa.Column("arterial", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column(
            "geom",
            geoalchemy2.types.Geometry(
                geometry_type="MULTILINESTRING", srid=4326, spatial_index=False
            ),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("streets_geom", "streets", ["geom"], postgresql_using="gist")
    op.create_table(
        "landmarks",
        sa.Column("id", sa.Integer(), sa.Identity(always=False), nullable=False),
        sa.Column("name_zh", sa.String(length=80), nullable=False),
        sa.Column("name_en", sa.String(length=120), nullable=True),
        sa.Column("kind", sa.String(length=32), nullable=True),
        sa.Column(
            "geom",
            geoalchemy2.types.Geometry(geometry_type="POINT", srid=4326, spatial_index=False),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("landmarks_geom", "landmarks", ["geom"], postgresql_using="gist")
    for table in TABLES:
        op.execute(
            f"CREATE TRIGGER {table}_data_change AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE "
            f"ON {table} FOR EACH STATEMENT EXECUTE FUNCTION record_data_change()"
        )


def downgrade() -> None:
    for table in TABLES:
        op.execute(f"DROP TRIGGER IF EXISTS {table}_data_change ON {table}")
    op.drop_index("landmarks_geom", table_name="landmarks", postgresql_using="gist")
    op.drop_table("landmarks")
    op.drop_index("streets_geom", table_name="streets", postgresql_using="gist")
    op.drop_table("streets")

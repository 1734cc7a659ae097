"""district schema

Revision ID: 0001
Revises:
Create Date: 2026-11-24

The whole district model: versioned units and courtyards, the attached point entities,
incidents with their history, and the data-change log behind the data version.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geometry
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


VERSIONED_TABLES = (
    "units",
    "courtyards",
    "households",
    "residents",
    "businesses",
    "resources",
    "incidents",
    "incident_categories",
)


def upgrade() -> None:
    op.execute("CREATE EXTENSION IF NOT EXISTS postgis")
    op.execute("CREATE SEQUENCE incident_seq")
    op.create_table(
        "data_changes",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column(
            "at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.Column("table_name", sa.String(length=40), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_geospatial_table(
        "businesses",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("name_zh", sa.String(length=120), nullable=False),
        sa.Column("name_en", sa.String(length=160), nullable=True),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("category", sa.String(length=40), nullable=True),
        sa.Column("address", sa.Text(), nullable=True),
        sa.Column(
            "geom",
            Geometry(
                geometry_type="POINT",
                srid=4326,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
                nullable=False,
            ),
            nullable=False,
        ),
        sa.Column("synthetic", sa.Boolean(), server_default="false", nullable=False),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("courtyard_code", sa.String(length=32), nullable=True),
        sa.Column("sector_code", sa.String(length=32), nullable=True),
        sa.Column("grid2_code", sa.String(length=32), nullable=True),
        sa.Column("community_code", sa.String(length=32), nullable=True),
        sa.CheckConstraint("kind IN ('shop', 'enterprise', 'institution')", name="businesses_kind"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_geospatial_index(
        "idx_businesses_geom",
        "businesses",
        ["geom"],
        unique=False,
        postgresql_using="gist",
        postgresql_ops={},
    )
    op.create_index(
        op.f("ix_businesses_community_code"), "businesses", ["community_code"], unique=False
    )
    op.create_index(
        op.f("ix_businesses_courtyard_code"), "businesses", ["courtyard_code"], unique=False
    )
    op.create_index(op.f("ix_businesses_grid2_code"), "businesses", ["grid2_code"], unique=False)
    op.create_index(op.f("ix_businesses_kind"), "businesses", ["kind"], unique=False)
    op.create_index(op.f("ix_businesses_sector_code"), "businesses", ["sector_code"], unique=False)
    op.create_geospatial_table(
        "courtyards",
        sa.Column("id", sa.Integer(), sa.Identity(always=False), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("name_zh", sa.String(length=80), nullable=False),
        sa.Column("name_en", sa.String(length=120), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("property_company_id", sa.String(length=40), nullable=True),
        sa.Column("sector_code", sa.String(length=32), nullable=True),
        sa.Column("grid2_code", sa.String(length=32), nullable=True),
        sa.Column("community_code", sa.String(length=32), nullable=True),
        sa.Column(
            "geom",
            Geometry(
                geometry_type="MULTIPOLYGON",
                srid=4326,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
                nullable=False,
            ),
            nullable=False,
        ),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.Column(
            "valid_from",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("valid_to", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("changed_by", sa.String(length=80), nullable=True),
        sa.CheckConstraint("kind IN ('managed', 'scattered', 'rental')", name="courtyards_kind"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("code", "version", name="courtyards_code_version"),
    )
    op.create_index(
        "courtyards_current_code",
        "courtyards",
        ["code"],
        unique=True,
        postgresql_where=sa.text("valid_to IS NULL"),
    )
    op.create_geospatial_index(
        "courtyards_current_geom",
        "courtyards",
        ["geom"],
        unique=False,
        postgresql_using="gist",
        postgresql_where=sa.text("valid_to IS NULL"),
        postgresql_ops={},
    )
    op.create_index(op.f("ix_courtyards_sector_code"), "courtyards", ["sector_code"], unique=False)
    op.create_table(
        "dataset_info",
        sa.Column("key", sa.String(length=40), nullable=False),
        sa.Column("value", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("key"),
    )
    op.create_geospatial_table(
        "households",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("address", sa.Text(), nullable=True),
        sa.Column("building", sa.String(length=20), nullable=True),
        sa.Column("unit_no", sa.String(length=20), nullable=True),
        sa.Column("room", sa.String(length=20), nullable=True),
        sa.Column(
            "geom",
            Geometry(
                geometry_type="POINT",
                srid=4326,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
                nullable=False,
            ),
            nullable=False,
        ),
        sa.Column("synthetic", sa.Boolean(), server_default="false", nullable=False),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("courtyard_code", sa.String(length=32), nullable=True),
        sa.Column("sector_code", sa.String(length=32), nullable=True),
        sa.Column("grid2_code", sa.String(length=32), nullable=True),
        sa.Column("community_code", sa.String(length=32), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_geospatial_index(
        "idx_households_geom",
        "households",
        ["geom"],
        unique=False,
        postgresql_using="gist",
        postgresql_ops={},
    )
    op.create_index(
        op.f("ix_households_community_code"), "households", ["community_code"], unique=False
    )
    op.create_index(
        op.f("ix_households_courtyard_code"), "households", ["courtyard_code"], unique=False
    )
    op.create_index(op.f("ix_households_grid2_code"), "households", ["grid2_code"], unique=False)
    op.create_index(op.f("ix_households_sector_code"), "households", ["sector_code"], unique=False)
    op.create_table(
        "incident_categories",
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("name_zh", sa.String(length=40), nullable=False),
        sa.Column("name_en", sa.String(length=80), nullable=False),
        sa.Column("urgent", sa.Boolean(), nullable=False),
        sa.Column("sensitive", sa.Boolean(), nullable=False),
        sa.Column("dispatch_minutes", sa.Integer(), nullable=False),
        sa.Column("close_minutes", sa.Integer(), nullable=True),
        sa.Column("close_working_days", sa.Integer(), nullable=True),
        sa.Column("sort", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "(close_minutes IS NULL) <> (close_working_days IS NULL)",
            name="incident_categories_one_limit",
        ),
        sa.PrimaryKeyConstraint("code"),
    )
    op.create_geospatial_table(
        "resources",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("subtype", sa.String(length=24), nullable=True),
        sa.Column("branch_type", sa.String(length=16), nullable=True),
        sa.Column("name_zh", sa.String(length=120), nullable=False),
        sa.Column("name_en", sa.String(length=160), nullable=True),
        sa.Column("parent_id", sa.String(length=40), nullable=True),
        sa.Column("serves_code", sa.String(length=32), nullable=True),
        sa.Column("has_party_org", sa.Boolean(), nullable=True),
        sa.Column("phone", sa.String(length=20), nullable=True),
        sa.Column(
            "geom",
            Geometry(
                geometry_type="POINT",
                srid=4326,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
            ),
            nullable=True,
        ),
        sa.Column("synthetic", sa.Boolean(), server_default="false", nullable=False),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("courtyard_code", sa.String(length=32), nullable=True),
        sa.Column("sector_code", sa.String(length=32), nullable=True),
        sa.Column("grid2_code", sa.String(length=32), nullable=True),
        sa.Column("community_code", sa.String(length=32), nullable=True),
        sa.CheckConstraint(
            "kind IN ('grid_worker', 'stationed_officer', 'party_org', 'party_member', 'cobuilding_unit', 'property_company', 'committee_member', 'governance_centre')",
            name="resources_kind",
        ),
        sa.ForeignKeyConstraint(["parent_id"], ["resources.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_geospatial_index(
        "idx_resources_geom",
        "resources",
        ["geom"],
        unique=False,
        postgresql_using="gist",
        postgresql_ops={},
    )
    op.create_index(
        op.f("ix_resources_community_code"), "resources", ["community_code"], unique=False
    )
    op.create_index(
        op.f("ix_resources_courtyard_code"), "resources", ["courtyard_code"], unique=False
    )
    op.create_index(op.f("ix_resources_grid2_code"), "resources", ["grid2_code"], unique=False)
    op.create_index(op.f("ix_resources_kind"), "resources", ["kind"], unique=False)
    op.create_index(op.f("ix_resources_parent_id"), "resources", ["parent_id"], unique=False)
    op.create_index(op.f("ix_resources_sector_code"), "resources", ["sector_code"], unique=False)
    op.create_index(op.f("ix_resources_serves_code"), "resources", ["serves_code"], unique=False)
    op.create_geospatial_table(
        "units",
        sa.Column("id", sa.Integer(), sa.Identity(always=False), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("level", sa.String(length=16), nullable=False),
        sa.Column("parent_code", sa.String(length=32), nullable=True),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("name_zh", sa.String(length=80), nullable=False),
        sa.Column("name_en", sa.String(length=120), nullable=False),
        sa.Column(
            "geom",
            Geometry(
                geometry_type="MULTIPOLYGON",
                srid=4326,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
                nullable=False,
            ),
            nullable=False,
        ),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.Column(
            "valid_from",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("valid_to", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("changed_by", sa.String(length=80), nullable=True),
        sa.CheckConstraint(
            "level IN ('district', 'community', 'grid2', 'sector')", name="units_level"
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("code", "version", name="units_code_version"),
    )
    op.create_index(
        "units_current_code",
        "units",
        ["code"],
        unique=True,
        postgresql_where=sa.text("valid_to IS NULL"),
    )
    op.create_geospatial_index(
        "units_current_geom",
        "units",
        ["geom"],
        unique=False,
        postgresql_using="gist",
        postgresql_where=sa.text("valid_to IS NULL"),
        postgresql_ops={},
    )
    op.create_index(
        "units_level_current",
        "units",
        ["level"],
        unique=False,
        postgresql_where=sa.text("valid_to IS NULL"),
    )
    op.create_geospatial_table(
        "incidents",
        sa.Column(
            "id",
            sa.String(length=40),
            server_default=sa.text("'I' || lpad(nextval('incident_seq')::text, 10, '0')"),
            nullable=False,
        ),
        sa.Column("category", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("observed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reported_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reporter_contact", sa.String(length=40), nullable=True),
        sa.Column("assigned_to", postgresql.ARRAY(sa.String(length=40)), nullable=True),
        sa.Column("dispatched_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("dispatch_due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("duplicate_of", sa.String(length=40), nullable=True),
        sa.Column("idempotency_key", sa.String(length=80), nullable=True),
        sa.Column("source", sa.String(length=16), server_default="api", nullable=False),
        sa.Column(
            "geom",
            Geometry(
                geometry_type="POINT",
                srid=4326,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
                nullable=False,
            ),
            nullable=False,
        ),
        sa.Column("synthetic", sa.Boolean(), server_default="false", nullable=False),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("courtyard_code", sa.String(length=32), nullable=True),
        sa.Column("sector_code", sa.String(length=32), nullable=True),
        sa.Column("grid2_code", sa.String(length=32), nullable=True),
        sa.Column("community_code", sa.String(length=32), nullable=True),
        sa.CheckConstraint(
            "status IN ('reported', 'dispatched', 'in_progress', 'resolved', 'verified', 'rejected', 'duplicate')",
            name="incidents_status",
        ),
        sa.ForeignKeyConstraint(
            ["category"],
            ["incident_categories.code"],
        ),
        sa.ForeignKeyConstraint(
            ["duplicate_of"],
            ["incidents.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("idempotency_key"),
    )
    op.create_geospatial_index(
        "idx_incidents_geom",
        "incidents",
        ["geom"],
        unique=False,
        postgresql_using="gist",
        postgresql_ops={},
    )
    op.create_index(op.f("ix_incidents_category"), "incidents", ["category"], unique=False)
    op.create_index(
        op.f("ix_incidents_community_code"), "incidents", ["community_code"], unique=False
    )
    op.create_index(
        op.f("ix_incidents_courtyard_code"), "incidents", ["courtyard_code"], unique=False
    )
    op.create_index(op.f("ix_incidents_grid2_code"), "incidents", ["grid2_code"], unique=False)
    op.create_index(op.f("ix_incidents_observed_at"), "incidents", ["observed_at"], unique=False)
    op.create_index(op.f("ix_incidents_sector_code"), "incidents", ["sector_code"], unique=False)
    op.create_index(op.f("ix_incidents_status"), "incidents", ["status"], unique=False)
    op.create_table(
        "residents",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("household_id", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=40), nullable=False),
        sa.Column("gender", sa.String(length=1), nullable=True),
        sa.Column("birth_date", sa.Date(), nullable=True),
        sa.Column("relation", sa.String(length=20), nullable=True),
        sa.Column("phone", sa.String(length=20), nullable=True),
        sa.Column("id_number", sa.String(length=18), nullable=True),
        sa.Column("synthetic", sa.Boolean(), server_default="false", nullable=False),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint("gender IN ('M', 'F')", name="residents_gender"),
        sa.ForeignKeyConstraint(["household_id"], ["households.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_residents_household_id"), "residents", ["household_id"], unique=False)
    op.create_table(
        "incident_events",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("incident_id", sa.String(length=40), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=80), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("from_status", sa.String(length=16), nullable=True),
        sa.Column("to_status", sa.String(length=16), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["incident_id"], ["incidents.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        op.f("ix_incident_events_incident_id"), "incident_events", ["incident_id"], unique=False
    )
    op.execute(
        """
        CREATE FUNCTION record_data_change() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            INSERT INTO data_changes (table_name) VALUES (TG_TABLE_NAME);
            RETURN NULL;
        END $$
        """
    )
    for table in VERSIONED_TABLES:
        op.execute(
            f"CREATE TRIGGER {table}_data_change AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE "
            f"ON {table} FOR EACH STATEMENT EXECUTE FUNCTION record_data_change()"
        )
    # the case history is append-only
    op.execute(
        """
        CREATE FUNCTION refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION '% is append-only', TG_TABLE_NAME;
        END $$
        """
    )
    op.execute(
        "CREATE TRIGGER incident_events_append_only BEFORE UPDATE ON incident_events "
        "FOR EACH ROW EXECUTE FUNCTION refuse_change()"
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER incident_events_append_only ON incident_events")
    for table in VERSIONED_TABLES:
        op.execute(f"DROP TRIGGER {table}_data_change ON {table}")
    op.drop_index(op.f("ix_incident_events_incident_id"), table_name="incident_events")
    op.drop_table("incident_events")
    op.drop_index(op.f("ix_residents_household_id"), table_name="residents")
    op.drop_table("residents")
    op.drop_index(op.f("ix_incidents_status"), table_name="incidents")
    op.drop_index(op.f("ix_incidents_sector_code"), table_name="incidents")
    op.drop_index(op.f("ix_incidents_observed_at"), table_name="incidents")
    op.drop_index(op.f("ix_incidents_grid2_code"), table_name="incidents")
    op.drop_index(op.f("ix_incidents_courtyard_code"), table_name="incidents")
    op.drop_index(op.f("ix_incidents_community_code"), table_name="incidents")
    op.drop_index(op.f("ix_incidents_category"), table_name="incidents")
    op.drop_geospatial_index(
        "idx_incidents_geom", table_name="incidents", postgresql_using="gist", column_name="geom"
    )
    op.drop_geospatial_table("incidents")
    op.drop_index(
        "units_level_current", table_name="units", postgresql_where=sa.text("valid_to IS NULL")
    )
    op.drop_geospatial_index(
        "units_current_geom",
        table_name="units",
        postgresql_using="gist",
        postgresql_where=sa.text("valid_to IS NULL"),
        column_name="geom",
    )
    op.drop_index(
        "units_current_code", table_name="units", postgresql_where=sa.text("valid_to IS NULL")
    )
    op.drop_geospatial_table("units")
    op.drop_index(op.f("ix_resources_serves_code"), table_name="resources")
    op.drop_index(op.f("ix_resources_sector_code"), table_name="resources")
    op.drop_index(op.f("ix_resources_parent_id"), table_name="resources")
    op.drop_index(op.f("ix_resources_kind"), table_name="resources")
    op.drop_index(op.f("ix_resources_grid2_code"), table_name="resources")
    op.drop_index(op.f("ix_resources_courtyard_code"), table_name="resources")
    op.drop_index(op.f("ix_resources_community_code"), table_name="resources")
    op.drop_geospatial_index(
        "idx_resources_geom", table_name="resources", postgresql_using="gist", column_name="geom"
    )
    op.drop_geospatial_table("resources")
    op.drop_table("incident_categories")
    op.drop_index(op.f("ix_households_sector_code"), table_name="households")
    op.drop_index(op.f("ix_households_grid2_code"), table_name="households")
    op.drop_index(op.f("ix_households_courtyard_code"), table_name="households")
    op.drop_index(op.f("ix_households_community_code"), table_name="households")
    op.drop_geospatial_index(
        "idx_households_geom", table_name="households", postgresql_using="gist", column_name="geom"
    )
    op.drop_geospatial_table("households")
    op.drop_table("dataset_info")
    op.drop_index(op.f("ix_courtyards_sector_code"), table_name="courtyards")
    op.drop_geospatial_index(
        "courtyards_current_geom",
        table_name="courtyards",
        postgresql_using="gist",
        postgresql_where=sa.text("valid_to IS NULL"),
        column_name="geom",
    )
    op.drop_index(
        "courtyards_current_code",
        table_name="courtyards",
        postgresql_where=sa.text("valid_to IS NULL"),
    )
    op.drop_geospatial_table("courtyards")
    op.drop_index(op.f("ix_businesses_sector_code"), table_name="businesses")
    op.drop_index(op.f("ix_businesses_kind"), table_name="businesses")
    op.drop_index(op.f("ix_businesses_grid2_code"), table_name="businesses")
    op.drop_index(op.f("ix_businesses_courtyard_code"), table_name="businesses")
    op.drop_index(op.f("ix_businesses_community_code"), table_name="businesses")
    op.drop_geospatial_index(
        "idx_businesses_geom", table_name="businesses", postgresql_using="gist", column_name="geom"
    )
    op.drop_geospatial_table("businesses")
    op.drop_table("data_changes")
    op.execute("DROP FUNCTION record_data_change()")
    op.execute("DROP FUNCTION refuse_change()")
    op.execute("DROP SEQUENCE incident_seq")

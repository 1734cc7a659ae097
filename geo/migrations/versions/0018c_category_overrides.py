"""per sub-district category overrides, and the categories in force for a transaction

Revision ID: 0018c
Revises: 0017t
Create Date: 2026-12-02

`incident_categories` stays the city-wide catalogue and its defaults. A sub-district may
override, for itself only, a category's names, urgency and time limits, or switch it off:
one row of `category_overrides` per (sub-district, category); a NULL column keeps the
default; a closing limit given (minutes or working days) replaces both of the default's.
The table carries `subdistrict` with 0017t's policies: a tenant reads and writes its own
overrides, the city reads all.

`categories_in_force` (a `security_invoker` view, so row-level security applies to the
caller) is the catalogue as the transaction's sub-district (`gridmap_subdistrict()`) sees
it: every reader of category names and limits reads it instead of the table.
`gridmap_subdistrict_count()` tells anyone how many sub-districts the database holds.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018c"
down_revision: str | None = "0018r"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TENANT, CITY = "gridmap_tenant", "gridmap_city"
HERE = "subdistrict = current_setting('gridmap.subdistrict', true)"

VIEW = """
CREATE VIEW categories_in_force WITH (security_invoker = true) AS
SELECT c.code,
       coalesce(o.name_zh, c.name_zh) AS name_zh,
       coalesce(o.name_en, c.name_en) AS name_en,
       coalesce(o.urgent, c.urgent) AS urgent,
       c.sensitive,
       coalesce(o.dispatch_minutes, c.dispatch_minutes) AS dispatch_minutes,
       CASE WHEN o.close_minutes IS NULL AND o.close_working_days IS NULL
            THEN c.close_minutes ELSE o.close_minutes END AS close_minutes,
       CASE WHEN o.close_minutes IS NULL AND o.close_working_days IS NULL
            THEN c.close_working_days ELSE o.close_working_days END AS close_working_days,
       c.sort,
       c.retired_at,
       coalesce(o.enabled, true) AS enabled,
       o.code IS NOT NULL AS overridden
FROM incident_categories c
LEFT JOIN category_overrides o ON o.code = c.code AND o.subdistrict = gridmap_subdistrict()
"""

#: how many sub-districts the database holds, whoever asks (a tenant sees only its own
#: outline): the catalogue is the city's, but a database of one sub-district has no other
#: tenant a change could reach. SECURITY DEFINER: runs as the owner, whom RLS does not bind.
COUNT = """
CREATE FUNCTION gridmap_subdistrict_count() RETURNS bigint
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public AS $$
  SELECT count(*) FROM units WHERE level = 'district' AND valid_to IS NULL
$$
"""


def upgrade() -> None:
    op.create_table(
        "category_overrides",
        sa.Column(
            "subdistrict",
            sa.String(9),
            nullable=False,
            server_default=sa.text("gridmap_subdistrict()"),
        ),
        sa.Column(
            "code",
            sa.String(32),
            sa.ForeignKey("incident_categories.code"),
            nullable=False,
        ),
        sa.Column("name_zh", sa.String(40), nullable=True),
        sa.Column("name_en", sa.String(80), nullable=True),
        sa.Column("urgent", sa.Boolean(), nullable=True),
        sa.Column("dispatch_minutes", sa.Integer(), nullable=True),
        sa.Column("close_minutes", sa.Integer(), nullable=True),
        sa.Column("close_working_days", sa.Integer(), nullable=True),
        sa.Column("enabled", sa.Boolean(), nullable=False, server_default=sa.text("true")),
        sa.Column("changed_by", sa.String(120), nullable=True),
        sa.Column(
            "changed_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        sa.PrimaryKeyConstraint("subdistrict", "code"),
        sa.CheckConstraint(
            "close_minutes IS NULL OR close_working_days IS NULL",
            name="category_overrides_one_limit",
        ),
    )
    op.execute("ALTER TABLE category_overrides ENABLE ROW LEVEL SECURITY")
    op.execute(
        f"CREATE POLICY tenant_rows ON category_overrides TO {TENANT}, {CITY} "
        f"USING ({HERE}) WITH CHECK ({HERE})"
    )
    op.execute(f"CREATE POLICY city_reads ON category_overrides FOR SELECT TO {CITY} USING (true)")
    # (0017t's default privileges grant the two roles this table; said again for clarity)
    op.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON category_overrides TO {TENANT}, {CITY}")
    op.execute(
        "CREATE TRIGGER category_overrides_data_change AFTER INSERT OR UPDATE OR DELETE OR "
        "TRUNCATE ON category_overrides FOR EACH STATEMENT EXECUTE FUNCTION record_data_change()"
    )
    op.execute(VIEW)
    op.execute(f"GRANT SELECT ON categories_in_force TO {TENANT}, {CITY}")
    op.execute(COUNT)


def downgrade() -> None:
    op.execute("DROP FUNCTION gridmap_subdistrict_count()")
    op.execute("DROP VIEW categories_in_force")
    op.execute("DROP TRIGGER category_overrides_data_change ON category_overrides")
    op.execute("DROP POLICY city_reads ON category_overrides")
    op.execute("DROP POLICY tenant_rows ON category_overrides")
    op.drop_table("category_overrides")

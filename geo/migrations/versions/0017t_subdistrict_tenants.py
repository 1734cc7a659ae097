"""sub-districts as tenants: a `subdistrict` on every row of a sub-district, row-level security

Revision ID: 0017t
Revises: 0017h
Create Date: 2026-12-01

Several sub-districts (街道) share one database. Every table holding a sub-district's rows
gets `subdistrict` (its nine-digit code):
- units: generated from the unit code (`left(code, 9)`), so a unit can never sit in another
  sub-district than its code says; the area rollups likewise from their sector code;
- every other table: `DEFAULT gridmap_subdistrict()`, the sub-district the transaction works
  for (`gridmap.subdistrict`, see `geo.core.tenancy`), else the home one (settings).
  Existing rows take the one sub-district the database holds today.

Two cluster-wide NOLOGIN roles, created if missing: `gridmap_tenant` reads and writes the
rows of `current_setting('gridmap.subdistrict')` only; `gridmap_city` reads every row and
writes like a tenant of its own sub-district. The app connects as the owner (RLS does not
apply to it) and steps down per transaction (`SET LOCAL ROLE`). Both roles get the app's
privileges on every table and sequence, also on those later migrations create (ALTER
DEFAULT PRIVILEGES); a later table holding a sub-district's rows must add its column and
policies itself (`tenant_sql`). Global reference tables stay global: working_calendar,
streets, landmarks, dataset_info, data_changes, auth_failures, incident_categories.
The downgrade drops the columns, policies and grants; the roles stay (other databases of
the cluster may use them).
"""

from collections.abc import Sequence

from alembic import op

from geo.core.settings import get_settings

revision: str = "0017t"
down_revision: str | None = "0017h"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

GUC = "gridmap.subdistrict"
TENANT, CITY = "gridmap_tenant", "gridmap_city"
#: tables whose rows belong to the sub-district the writing transaction works for
DEFAULTED = (
    "courtyards",
    "households",
    "residents",
    "businesses",
    "resources",
    "incidents",
    "incident_events",
    "incident_photos",
    "case_requests",
    "users",
    "api_tokens",
    "user_sessions",
    "audit_log",
    "boundary_changes",
    "notifications",
    "webhooks",
    "webhook_deliveries",
    "plans",
    "plan_edits",
    "plan_locks",
    "action_replays",
    "incident_worker_daily_stats",
    "incident_worker_monthly_stats",
)
#: tables whose sub-district follows from a code column
GENERATED = {
    "units": "code",
    "incident_daily_stats": "sector_code",
    "incident_monthly_stats": "sector_code",
}
#: where the existing rows' sub-district shows in a code of their own
FROM_CODE = {
    "courtyards": "sector_code",
    "households": "sector_code",
    "businesses": "sector_code",
    "resources": "serves_code",
    "incidents": "sector_code",
    "webhooks": "unit_code",
    "plan_locks": "sector_code",
}
#: the (rows, parent, key) whose sub-district is their parent's
FROM_PARENT = {
    "residents": ("households", "household_id"),
    "incident_events": ("incidents", "incident_id"),
    "incident_photos": ("incidents", "incident_id"),
    "case_requests": ("incidents", "incident_id"),
    "action_replays": ("incidents", "incident_id"),
}
#: tables that already carry their sub-district, filled by their triggers from the sector
#: code (0017h's heat cells): only the policies are added here
KEPT = ("incident_heat_cells", "incident_heat_totals")
INDEXED = ("incidents", "households", "residents", "businesses", "resources", "audit_log")
HERE = f"subdistrict = current_setting('{GUC}', true)"

#: unset (a connection without the service's options): the home sub-district the database
#: was migrated for (GRIDMAP_DISTRICT_CODE + GRIDMAP_STREET_CODE)
FUNCTION = """
CREATE FUNCTION gridmap_subdistrict() RETURNS varchar LANGUAGE sql STABLE AS $$
  SELECT coalesce(nullif(current_setting('{guc}', true), ''), '{home}')::varchar(9)
$$
"""

ROLES = f"""
DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{TENANT}') THEN
    CREATE ROLE {TENANT} NOLOGIN;
  END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{CITY}') THEN
    CREATE ROLE {CITY} NOLOGIN;
  END IF;
  IF NOT (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) THEN
    EXECUTE format('GRANT {TENANT}, {CITY} TO %I', current_user);
  END IF;
END
$$
"""


#: PostGIS's index-backed predicates. Under row-level security PostgreSQL uses a condition
#: as an index condition only if its function is LEAKPROOF (else it must run after the
#: policy's filter): without this a tenant's bbox or attach query scans the whole table
#: (measured: 2 ms → 200 ms at 25,000 incidents). Marking them is sound here: the policies
#: guard against the service's own forgotten WHEREs, not against SQL written by callers
#: (they never write any). Needs a superuser; elsewhere a notice says it was skipped.
LEAKPROOF = (
    "geometry_overlaps(geometry, geometry)",
    "st_intersects(geometry, geometry)",
    "st_contains(geometry, geometry)",
    "st_within(geometry, geometry)",
    "st_covers(geometry, geometry)",
    "st_coveredby(geometry, geometry)",
    "st_dwithin(geometry, geometry, double precision)",
)


def _leakproof(flag: str) -> str:
    statements = " ".join(f"ALTER FUNCTION {f} {flag};" for f in LEAKPROOF)
    return f"""
DO $$
BEGIN
  {statements}
EXCEPTION WHEN insufficient_privilege THEN
  RAISE NOTICE 'PostGIS predicates not marked {flag} (needs a superuser): tenant queries '
    'will not use the spatial indexes';
END
$$
"""


def tenant_sql(table: str, rows: str = HERE) -> list[str]:
    """Row-level security on `table`: a tenant reads and writes the rows of its sub-district,
    the city reads all and writes like a tenant."""
    return [
        f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY",
        f"CREATE POLICY tenant_rows ON {table} TO {TENANT}, {CITY} "
        f"USING ({rows}) WITH CHECK ({rows})",
        f"CREATE POLICY city_reads ON {table} FOR SELECT TO {CITY} USING (true)",
    ]


def _grants(verb: str) -> list[str]:
    to = "TO" if verb == "GRANT" else "FROM"
    return [
        f"{verb} USAGE ON SCHEMA public {to} {TENANT}, {CITY}",
        f"{verb} SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public {to} "
        f"{TENANT}, {CITY}",
        f"{verb} USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA public {to} {TENANT}, {CITY}",
        f"ALTER DEFAULT PRIVILEGES IN SCHEMA public {verb} SELECT, INSERT, UPDATE, DELETE "
        f"ON TABLES {to} {TENANT}, {CITY}",
        f"ALTER DEFAULT PRIVILEGES IN SCHEMA public {verb} USAGE, SELECT, UPDATE "
        f"ON SEQUENCES {to} {TENANT}, {CITY}",
    ]


def upgrade() -> None:
    op.execute(FUNCTION.format(guc=GUC, home=get_settings().street_prefix))
    op.execute(ROLES)
    for table, column in GENERATED.items():
        op.execute(
            f"ALTER TABLE {table} ADD COLUMN subdistrict varchar(9) "
            f"GENERATED ALWAYS AS (left({column}, 9)) STORED"
        )
    for table in DEFAULTED:
        op.execute(
            f"ALTER TABLE {table} ADD COLUMN subdistrict varchar(9) NOT NULL "
            "DEFAULT gridmap_subdistrict()"
        )
    # a database holds one sub-district until now: these find nothing to change, unless a
    # row's own code says otherwise
    for table, column in FROM_CODE.items():
        op.execute(
            f"UPDATE {table} SET subdistrict = left({column}, 9) "
            f"WHERE length({column}) >= 9 AND subdistrict <> left({column}, 9)"
        )
    # the case history is append-only (0001): its new column is filled with the trigger off
    op.execute("ALTER TABLE incident_events DISABLE TRIGGER incident_events_append_only")
    for table, (parent, key) in FROM_PARENT.items():
        op.execute(
            f"UPDATE {table} t SET subdistrict = p.subdistrict FROM {parent} p "
            f"WHERE p.id = t.{key} AND t.subdistrict <> p.subdistrict"
        )
    op.execute("ALTER TABLE incident_events ENABLE TRIGGER incident_events_append_only")
    for table in INDEXED:
        op.execute(f"CREATE INDEX ix_{table}_subdistrict ON {table} (subdistrict)")
    for table in DEFAULTED:
        for statement in tenant_sql(table):
            op.execute(statement)
    for table in (*GENERATED, *KEPT):
        # an incident outside every sector counts under the empty key, shared by all
        rows = HERE if table == "units" else f"({HERE} OR subdistrict = '')"
        for statement in tenant_sql(table, rows):
            op.execute(statement)
    for statement in _grants("GRANT"):
        op.execute(statement)
    op.execute(_leakproof("LEAKPROOF"))


def downgrade() -> None:
    op.execute(_leakproof("NOT LEAKPROOF"))
    for statement in _grants("REVOKE"):
        op.execute(statement)
    for table in (*DEFAULTED, *GENERATED, *KEPT):
        op.execute(f"DROP POLICY city_reads ON {table}")
        op.execute(f"DROP POLICY tenant_rows ON {table}")
        op.execute(f"ALTER TABLE {table} DISABLE ROW LEVEL SECURITY")
        if table not in KEPT:
            op.execute(f"ALTER TABLE {table} DROP COLUMN subdistrict")  # and its index
    op.execute("DROP FUNCTION gridmap_subdistrict()")

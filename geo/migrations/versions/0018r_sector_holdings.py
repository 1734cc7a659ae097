"""sector holdings rollup and sub-district-led indexes on the incident rollups (city size)

Revision ID: 0018r
Revises: 0017t
Create Date: 2026-12-02

Coverage and evaluation at city size (issue 23). Two causes of a sub-district of a city
costing 5-8x the same sub-district alone, and of the whole city costing 50x:

- coverage counted households, residents (joined to their households) and businesses raw
  on every request: `sector_holdings` holds those counts per sector ahead of time, one row
  per (sector, what) with `what` one of `households`, `residents` or a business kind
  (`shop`, `enterprise`, `institution`, ...). Statement-level triggers with transition
  tables keep it exact on INSERT, UPDATE (a re-attach after a boundary edit moves a
  household with its residents, a resident moved to another household) and TRUNCATE; a
  household's DELETE is counted by a row trigger BEFORE it (its residents, deleted by the
  foreign key's cascade afterwards, can no longer name their sector). A key whose count
  falls to 0 is deleted. Points in no sector are not counted (coverage never showed them).
  `subdistrict` is generated from the sector code, with the same row-level security as
  the other area rollups (0017t);
- the incident rollups (per sector 0008/0015, per worker 0016e) had no index led by their
  sub-district: under row-level security a tenant read every sub-district's rows and
  filtered them. Each gets `(subdistrict, day)` or `(subdistrict, month)`;
- the per-worker rollups took their sub-district from the writing transaction (0017t's
  default), and 0017t gave every existing row the home sub-district: in a database that
  already held several sub-districts (the city benchmark's), the home sub-district's
  tenant read the whole city's worker rows and every other tenant none. Each row now takes
  its worker's sub-district (`resources.subdistrict`). Likewise 0017t gave a resource
  serving no unit (party organisations and members, property companies, co-building
  units) the home sub-district: it takes the sub-district of the sector it lies in.

The downgrade drops the triggers, functions, table and indexes (the worker rows keep
their corrected sub-district).
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0018r"
down_revision: str | None = "0017t"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLE = "sector_holdings"
TENANT, CITY = "gridmap_tenant", "gridmap_city"
HERE = "subdistrict = current_setting('gridmap.subdistrict', true)"
#: incident rollup → its period column: each gets an index led by the sub-district
ROLLUPS = {
    "incident_daily_stats": "day",
    "incident_monthly_stats": "month",
    "incident_worker_daily_stats": "day",
    "incident_worker_monthly_stats": "month",
}

#: add the signed rows `signed` (sector_code, what, delta) to the table: one grouped upsert;
#: the keys left at 0 are then deleted by the row ids the upsert returns
BUMP = f"""
WITH up AS (
    INSERT INTO {TABLE} AS s (sector_code, what, n)
    SELECT sector_code, what, sum(delta) FROM ({{signed}}) r
    WHERE sector_code IS NOT NULL GROUP BY 1, 2 HAVING sum(delta) <> 0
    ON CONFLICT (sector_code, what) DO UPDATE SET n = s.n + EXCLUDED.n
    RETURNING s.ctid AS row_id, s.n)
SELECT array_agg(row_id) INTO empty FROM up WHERE n = 0;
DELETE FROM {TABLE} WHERE ctid = ANY(empty);
"""

#: a resident counts in the sector of its household (if that still exists)
_RESIDENTS = (
    "SELECT h.sector_code, 'residents' AS what, {sign} AS delta FROM {rows} r "
    "JOIN households h ON h.id = r.household_id"
)
_BUSINESSES = "SELECT sector_code, kind AS what, {sign} AS delta FROM {rows}"


def changed(columns: str) -> str:
    """The updated rows whose `columns` changed, signed: -1 old, +1 new. Grouped by id and
    `columns`, an unchanged row's two versions cancel (as 0016v's `changed_rows`: the
    transition tables have no statistics, a join of the two plans badly)."""
    return (
        f"(SELECT sum(sign) AS sign, id, {columns} FROM (SELECT -1 AS sign, id, {columns} "
        f"FROM old_rows UNION ALL SELECT 1, id, {columns} FROM new_rows) s "
        f"GROUP BY id, {columns} HAVING sum(sign) <> 0)"
    )


#: a household moved: itself and its residents, -1 (and -residents) at the old sector, +1
#: at the new
_MOVED_HOUSEHOLDS = f"""
    SELECT m.sector_code, w.what,
           m.sign * CASE w.what WHEN 'households' THEN 1 ELSE coalesce(n.residents, 0) END
               AS delta
    FROM {changed("sector_code")} m
    LEFT JOIN (SELECT household_id, count(*) AS residents FROM residents
               WHERE household_id IN (SELECT id FROM new_rows) GROUP BY 1) n
           ON n.household_id = m.id
    CROSS JOIN (VALUES ('households'), ('residents')) AS w(what)
"""
_MOVED_RESIDENTS = (
    f"SELECT h.sector_code, 'residents' AS what, m.sign AS delta "
    f"FROM {changed('household_id')} m JOIN households h ON h.id = m.household_id"
)
_MOVED_BUSINESSES = (
    f"SELECT sector_code, kind AS what, sign AS delta FROM {changed('sector_code, kind')} m"
)

#: trigger function → (table, event, transition tables, signed rows)
FUNCTIONS = {
    "holdings_households_insert": (
        "households",
        "INSERT",
        "REFERENCING NEW TABLE AS new_rows",
        "SELECT sector_code, 'households' AS what, 1 AS delta FROM new_rows",
    ),
    "holdings_households_update": (
        "households",
        "UPDATE",
        "REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows",
        _MOVED_HOUSEHOLDS,
    ),
    "holdings_residents_insert": (
        "residents",
        "INSERT",
        "REFERENCING NEW TABLE AS new_rows",
        _RESIDENTS.format(sign=1, rows="new_rows"),
    ),
    "holdings_residents_delete": (
        "residents",
        "DELETE",
        "REFERENCING OLD TABLE AS old_rows",
        _RESIDENTS.format(sign=-1, rows="old_rows"),
    ),
    "holdings_residents_update": (
        "residents",
        "UPDATE",
        "REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows",
        _MOVED_RESIDENTS,
    ),
    "holdings_businesses_insert": (
        "businesses",
        "INSERT",
        "REFERENCING NEW TABLE AS new_rows",
        _BUSINESSES.format(sign=1, rows="new_rows"),
    ),
    "holdings_businesses_delete": (
        "businesses",
        "DELETE",
        "REFERENCING OLD TABLE AS old_rows",
        _BUSINESSES.format(sign=-1, rows="old_rows"),
    ),
    "holdings_businesses_update": (
        "businesses",
        "UPDATE",
        "REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows",
        _MOVED_BUSINESSES,
    ),
}
#: a household deleted: it and its residents, counted before the cascade deletes them
#: (the residents' own DELETE trigger then finds no household and counts nothing)
HOUSEHOLD_DELETE = f"""
CREATE FUNCTION holdings_households_delete() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE empty tid[];
BEGIN
{
    BUMP.format(
        signed="SELECT OLD.sector_code AS sector_code, 'households' AS what, -1 AS delta "
        "UNION ALL SELECT OLD.sector_code, 'residents', -count(*) FROM residents "
        "WHERE household_id = OLD.id"
    )
}
RETURN OLD;
END $$
"""
#: table → what its TRUNCATE empties (households takes its residents with it)
TRUNCATED = {
    "households": "what IN ('households', 'residents')",
    "residents": "what = 'residents'",
    "businesses": "what NOT IN ('households', 'residents')",
}
BACKFILL = f"""
INSERT INTO {TABLE} (sector_code, what, n)
SELECT sector_code, 'households', count(*) FROM households
WHERE sector_code IS NOT NULL GROUP BY 1
UNION ALL
SELECT h.sector_code, 'residents', count(*) FROM residents r
JOIN households h ON h.id = r.household_id WHERE h.sector_code IS NOT NULL GROUP BY 1
UNION ALL
SELECT sector_code, kind, count(*) FROM businesses WHERE sector_code IS NOT NULL GROUP BY 1, 2
"""


def upgrade() -> None:
    op.execute(
        "UPDATE resources SET subdistrict = left(sector_code, 9) WHERE serves_code IS NULL "
        "AND length(sector_code) >= 9 AND subdistrict <> left(sector_code, 9)"
    )
    for table in ("incident_worker_daily_stats", "incident_worker_monthly_stats"):
        op.execute(
            f"UPDATE {table} d SET subdistrict = r.subdistrict FROM resources r "
            "WHERE r.id = d.worker_id AND d.subdistrict <> r.subdistrict"
        )
    for table, period in ROLLUPS.items():
        op.execute(f"CREATE INDEX {table}_subdistrict ON {table} (subdistrict, {period})")
    op.execute(
        f"CREATE TABLE {TABLE} (sector_code varchar(32) NOT NULL, what varchar(32) NOT NULL, "
        "n integer NOT NULL, subdistrict varchar(9) GENERATED ALWAYS AS (left(sector_code, 9)) "
        "STORED, PRIMARY KEY (sector_code, what))"
    )
    op.execute(f"ALTER TABLE {TABLE} ENABLE ROW LEVEL SECURITY")
    op.execute(
        f"CREATE POLICY tenant_rows ON {TABLE} TO {TENANT}, {CITY} USING ({HERE}) "
        f"WITH CHECK ({HERE})"
    )
    op.execute(f"CREATE POLICY city_reads ON {TABLE} FOR SELECT TO {CITY} USING (true)")
    for name, (table, event, transition, signed) in FUNCTIONS.items():
        op.execute(
            f"CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$ "
            f"DECLARE empty tid[]; BEGIN {BUMP.format(signed=signed)} RETURN NULL; END $$"
        )
        op.execute(
            f"CREATE TRIGGER {name} AFTER {event} ON {table} {transition} "
            f"FOR EACH STATEMENT EXECUTE FUNCTION {name}()"
        )
    op.execute(HOUSEHOLD_DELETE)
    op.execute(
        "CREATE TRIGGER holdings_households_delete BEFORE DELETE ON households "
        "FOR EACH ROW EXECUTE FUNCTION holdings_households_delete()"
    )
    for table, emptied in TRUNCATED.items():
        op.execute(
            f"CREATE FUNCTION holdings_{table}_truncate() RETURNS trigger LANGUAGE plpgsql AS $$ "
            f"BEGIN DELETE FROM {TABLE} WHERE {emptied}; RETURN NULL; END $$"
        )
        op.execute(
            f"CREATE TRIGGER holdings_{table}_truncate AFTER TRUNCATE ON {table} "
            f"FOR EACH STATEMENT EXECUTE FUNCTION holdings_{table}_truncate()"
        )
    op.execute(BACKFILL)
    op.execute(f"ANALYZE {TABLE}")


def downgrade() -> None:
    names = [(name, table) for name, (table, *_) in FUNCTIONS.items()]
    names += [("holdings_households_delete", "households")]
    names += [(f"holdings_{table}_truncate", table) for table in TRUNCATED]
    for name, table in names:
        op.execute(f"DROP TRIGGER {name} ON {table}")
        op.execute(f"DROP FUNCTION {name}()")
    op.execute(f"DROP TABLE {TABLE}")
    for table in ROLLUPS:
        op.execute(f"DROP INDEX {table}_subdistrict")

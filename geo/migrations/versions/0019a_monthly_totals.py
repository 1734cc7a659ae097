"""monthly totals over all categories, per sector and per worker (the whole city's evaluation)

Revision ID: 0019a
Revises: 0019o
Create Date: 2026-12-02

The evaluation of a whole city (issue 23) summed, per level, every (sector, category,
month) row of the period: about 130,000 rows of 73 columns for each area level, about
500,000 for the worker level, where it needs no category at all. Three tables hold the same
columns summed over the categories, one row per (sector, month) and per (worker, month):
`incident_monthly_totals` and `incident_worker_monthly_totals` (a tenth of the rows); the
category level one per (sub-district, category, month), `incident_category_monthly_totals`
(a twentieth).

They are kept by statement-level triggers with transition tables on the monthly rollups
themselves (not on `incidents`: an intake, a transition or a boundary edit changes the
rollups as before, and each changed rollup statement adds its signed rows, grouped, to the
totals in one upsert). A TRUNCATE of a rollup empties its totals. Rows left at zero stay,
as in the rollups. `subdistrict`: a sector's from its code, a worker's that of its rollup
rows; with 0017t's row-level security.

Sensitive categories: the totals include them; a caller who may not see them gets the
totals less the sensitive categories' monthly rows (`geo.cases.periods`).

The downgrade drops the triggers, functions and tables.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0019a"
down_revision: str | None = "0019o"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TENANT, CITY = "gridmap_tenant", "gridmap_city"
HERE = "subdistrict = current_setting('gridmap.subdistrict', true)"
HIST = [f"h{k:02d}" for k in range(64)]
#: the rollups' count columns (0008, 0015), in the rollups' order
VALUES = [
    "incidents",
    "verified",
    "verified_in_time",
    *HIST,
    "voided",
    "sent_back",
    "extended",
    "first_time_fixed",
    "dispatched",
    "dispatched_in_time",
]
#: totals table → (the monthly rollup it sums, its key: (column, from the rollup's row, type),
#: its `subdistrict` column when not a key: (definition, value inserted or None))
TOTALS = {
    "incident_monthly_totals": (
        "incident_monthly_stats",
        [("sector_code", "sector_code", "varchar(32)")],
        ("varchar(9) GENERATED ALWAYS AS (left(sector_code, 9)) STORED", None),
    ),
    "incident_worker_monthly_totals": (
        "incident_worker_monthly_stats",
        [("worker_id", "worker_id", "varchar(40)")],
        # a worker's sub-district: that of its rollup rows
        ("varchar(9) NOT NULL DEFAULT gridmap_subdistrict()", "min(subdistrict)"),
    ),
    "incident_category_monthly_totals": (
        "incident_monthly_stats",
        [
            ("subdistrict", "left(sector_code, 9)", "varchar(9)"),
            ("category", "category", "varchar(32)"),
        ],
        None,
    ),
}
ROLLUPS = ("incident_monthly_stats", "incident_worker_monthly_stats")
#: trigger event → (transition tables, the signed rows `r` it adds)
EVENTS = {
    "insert": ("REFERENCING NEW TABLE AS new_rows", "SELECT 1 AS sign, * FROM new_rows"),
    "update": (
        "REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows",
        "SELECT -1 AS sign, * FROM old_rows UNION ALL SELECT 1, * FROM new_rows",
    ),
    "delete": ("REFERENCING OLD TABLE AS old_rows", "SELECT -1 AS sign, * FROM old_rows"),
}


def _upsert(totals: str, signed: str) -> str:
    """Add the signed rollup rows `signed` to `totals`, summed per key and month."""
    _, key, subdistrict = TOTALS[totals]
    names = [name for name, _, _ in key] + ["month"]
    picked = [f"{value} AS {name}" for name, value, _ in key] + ["month"]
    if subdistrict and subdistrict[1]:
        names.append("subdistrict")
        picked.append(f"{subdistrict[1]} AS subdistrict")
    conflict = ", ".join(name for name, _, _ in key)
    updates = ", ".join(f"{c} = t.{c} + EXCLUDED.{c}" for c in VALUES)
    return (
        f"INSERT INTO {totals} AS t ({', '.join(names)}, {', '.join(VALUES)}) "
        f"SELECT {', '.join(picked)}, {', '.join(f'sum(sign * {c})' for c in VALUES)} "
        f"FROM ({signed}) r GROUP BY {', '.join(str(k + 1) for k in range(len(key) + 1))} "
        f"ON CONFLICT ({conflict}, month) DO UPDATE SET {updates};"
    )


def _create(totals: str) -> list[str]:
    _, key, subdistrict = TOTALS[totals]
    columns = [f"{name} {kind} NOT NULL" for name, _, kind in key] + ["month date NOT NULL"]
    columns += [f"{c} integer NOT NULL DEFAULT 0" for c in VALUES]
    if subdistrict:
        columns.append(f"subdistrict {subdistrict[0]}")
    primary = ", ".join(name for name, _, _ in key)
    statements = [
        f"CREATE TABLE {totals} ({', '.join(columns)}, PRIMARY KEY ({primary}, month))",
        f"ALTER TABLE {totals} ENABLE ROW LEVEL SECURITY",
        f"CREATE POLICY tenant_rows ON {totals} TO {TENANT}, {CITY} USING ({HERE}) "
        f"WITH CHECK ({HERE})",
        f"CREATE POLICY city_reads ON {totals} FOR SELECT TO {CITY} USING (true)",
    ]
    if subdistrict:  # (a key led by the sub-district serves a tenant already)
        statements.append(f"CREATE INDEX {totals}_subdistrict ON {totals} (subdistrict, month)")
    return statements


def _of(rollup: str) -> list[str]:
    return [totals for totals, (source, *_) in TOTALS.items() if source == rollup]


def upgrade() -> None:
    for totals in TOTALS:
        for statement in _create(totals):
            op.execute(statement)
    for rollup in ROLLUPS:
        for event, (transition, signed) in EVENTS.items():
            name = f"{rollup}_totals_{event}"
            body = " ".join(_upsert(totals, signed) for totals in _of(rollup))
            op.execute(
                f"CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
                f"{body} RETURN NULL; END $$"
            )
            op.execute(
                f"CREATE TRIGGER {name} AFTER {event.upper()} ON {rollup} {transition} "
                f"FOR EACH STATEMENT EXECUTE FUNCTION {name}()"
            )
        emptied = " ".join(f"DELETE FROM {totals};" for totals in _of(rollup))
        op.execute(
            f"CREATE FUNCTION {rollup}_totals_truncate() RETURNS trigger LANGUAGE plpgsql "
            f"AS $$ BEGIN {emptied} RETURN NULL; END $$"
        )
        op.execute(
            f"CREATE TRIGGER {rollup}_totals_truncate AFTER TRUNCATE ON {rollup} "
            f"FOR EACH STATEMENT EXECUTE FUNCTION {rollup}_totals_truncate()"
        )
    for totals, (rollup, *_) in TOTALS.items():
        op.execute(_upsert(totals, f"SELECT 1 AS sign, * FROM {rollup}"))
        op.execute(f"ANALYZE {totals}")


def downgrade() -> None:
    for rollup in ROLLUPS:
        for event in (*EVENTS, "truncate"):
            op.execute(f"DROP TRIGGER {rollup}_totals_{event} ON {rollup}")
            op.execute(f"DROP FUNCTION {rollup}_totals_{event}()")
    for totals in TOTALS:
        op.execute(f"DROP TABLE {totals}")

"""evaluation per post: daily and monthly rollups per grid worker, kept exact by triggers

Revision ID: 0016e
Revises: 0015
Create Date: 2026-12-01

The evaluation's level `worker` read the incidents live: at a million incidents a year's
figures per worker took seconds, where the area levels sum a rollup in milliseconds. These
two tables hold the same figures as `incident_daily_stats` / `incident_monthly_stats`
(0008 + 0015: counts, the 64-bucket close-time histogram, the evaluation's counts) per
worker, category and Beijing day (or month). A case counts for its one named owner when it
has one (`incidents.owner_id`), else for every worker of the team it was dispatched to
(`assigned_to`); a case with neither counts for nobody. Statement-level triggers with
transition tables keep them in step with every INSERT, UPDATE, DELETE and TRUNCATE of
incidents (an `assign`, a re-dispatch or a sent-back event moves the figures with it).
The existing incidents are counted once here.
"""

import importlib.util
from collections.abc import Sequence
from pathlib import Path

from alembic import op

revision: str = "0016e"
down_revision: str | None = "0016d"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

DAILY, MONTHLY = "incident_worker_daily_stats", "incident_worker_monthly_stats"
#: the workers a case counts for (the evaluation's rule; `r` is an incidents row)
WORKERS = (
    "unnest(CASE WHEN r.owner_id IS NOT NULL THEN ARRAY[r.owner_id] "
    "ELSE r.assigned_to END) AS w(worker_id)"
)


def _revision(filename: str):
    """An earlier revision's module (its SQL builders: one definition of each figure)."""
    path = Path(__file__).with_name(filename)
    spec = importlib.util.spec_from_file_location(filename.removesuffix(".py"), path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _figures() -> tuple[list[str], str]:
    """The rollup's value columns and the incident columns a row's contribution needs."""
    r8, r15 = _revision("0008_incident_daily_stats.py"), _revision("0015_evaluation_rollups.py")
    values = [*r8.VALUES, *r15.NEW_VALUES]
    figures = f"{r8.FIGURES}, {r15.EXTRA_FIGURES}, owner_id, assigned_to"
    return values, figures


def _apply(signed_rows: str) -> str:
    """Add the signed contributions of `signed_rows` (incident columns plus `sign`) to both
    worker rollups, in one statement. The rows are first grouped by what decides their
    contribution (worker, category, day, the flags, the histogram bucket), so that a row
    an UPDATE did not change in those respects cancels out (its -1 and +1 meet in one
    group, dropped by HAVING) before the 64 histogram columns are spread out."""
    r8, r15 = _revision("0008_incident_daily_stats.py"), _revision("0015_evaluation_rollups.py")
    values, _ = _figures()
    flags = {
        "is_verified": "status = 'verified'",
        "is_in_time": "status = 'verified' AND closed_at <= due_at",
        **{f"is_{c}": rule for c, rule in r15.NEW_VALUES.items()},
    }
    marks = ", ".join(f"coalesce({rule}, false) AS {flag}" for flag, rule in flags.items())
    counted = ", ".join(
        [
            "sum(n) AS incidents",
            "coalesce(sum(n) FILTER (WHERE is_verified), 0) AS verified",
            "coalesce(sum(n) FILTER (WHERE is_in_time), 0) AS verified_in_time",
            *(
                f"coalesce(sum(n) FILTER (WHERE bucket = {k}), 0) AS {c}"
                for k, c in enumerate(r8.HIST)
            ),  # fmt: skip
            *(f"coalesce(sum(n) FILTER (WHERE is_{c}), 0) AS {c}" for c in r15.NEW_VALUES),
        ]
    )
    keys = ", ".join(str(k) for k in range(1, len(flags) + 5))
    names = ", ".join(values)
    sums = ", ".join(f"sum({c})" for c in values)
    updates = ", ".join(f"{c} = s.{c} + EXCLUDED.{c}" for c in values)
    return (
        f"WITH grouped AS (SELECT w.worker_id, category, "
        f"(observed_at AT TIME ZONE 'Asia/Shanghai')::date AS day, "
        f"CASE WHEN status = 'verified' THEN incident_close_bucket(closed_at, reported_at) "
        f"END AS bucket, {marks}, sum(sign) AS n FROM ({signed_rows}) r "
        f"CROSS JOIN LATERAL {WORKERS} GROUP BY {keys} HAVING sum(sign) <> 0), "
        f"delta AS (SELECT worker_id, category, day, {counted} FROM grouped GROUP BY 1, 2, 3), "
        f"daily AS (INSERT INTO {DAILY} AS s (worker_id, category, day, {names}) "
        f"SELECT worker_id, category, day, {names} FROM delta "
        f"ON CONFLICT (worker_id, category, day) DO UPDATE SET {updates} RETURNING 1) "
        f"INSERT INTO {MONTHLY} AS s (worker_id, category, month, {names}) "
        f"SELECT worker_id, category, date_trunc('month', day)::date, {sums} FROM delta "
        f"GROUP BY 1, 2, 3 ON CONFLICT (worker_id, category, month) DO UPDATE SET {updates};"
    )


def upgrade() -> None:
    values, figures = _figures()
    columns = ", ".join(f"{c} integer NOT NULL DEFAULT 0" for c in values)
    for table, period in ((DAILY, "day"), (MONTHLY, "month")):
        op.execute(
            f"""
            CREATE TABLE {table} (
                worker_id varchar(40) NOT NULL,
                category varchar(32) NOT NULL,
                {period} date NOT NULL,
                {columns},
                PRIMARY KEY (worker_id, category, {period})
            )
            """
        )
        op.execute(f"CREATE INDEX {table}_{period} ON {table} ({period})")
    signed = {
        "insert": f"SELECT 1 AS sign, {figures} FROM new_rows",
        "delete": f"SELECT -1 AS sign, {figures} FROM old_rows",
        # a row whose figures did not change cancels itself out within its key
        "update": f"SELECT -1 AS sign, {figures} FROM old_rows "
        f"UNION ALL SELECT 1, {figures} FROM new_rows",
    }
    tables = {"insert": "NEW TABLE AS new_rows", "delete": "OLD TABLE AS old_rows",
              "update": "OLD TABLE AS old_rows NEW TABLE AS new_rows"}  # fmt: skip
    for name, rows in signed.items():
        op.execute(
            f"CREATE FUNCTION incident_worker_stats_{name}() RETURNS trigger "
            f"LANGUAGE plpgsql AS $$ BEGIN {_apply(rows)} RETURN NULL; END $$;"
        )
        op.execute(
            f"CREATE TRIGGER incident_worker_stats_{name} AFTER {name.upper()} ON incidents "
            f"REFERENCING {tables[name]} FOR EACH STATEMENT "
            f"EXECUTE FUNCTION incident_worker_stats_{name}()"
        )
    op.execute(
        f"""
        CREATE FUNCTION incident_worker_stats_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN TRUNCATE {DAILY}, {MONTHLY}; RETURN NULL; END $$;
        CREATE TRIGGER incident_worker_stats_truncate AFTER TRUNCATE ON incidents
            FOR EACH STATEMENT EXECUTE FUNCTION incident_worker_stats_truncate();
        """
    )
    # the existing incidents
    op.execute(_apply(f"SELECT 1 AS sign, {figures} FROM incidents"))


def downgrade() -> None:
    for name in ("insert", "delete", "update", "truncate"):
        op.execute(f"DROP TRIGGER incident_worker_stats_{name} ON incidents")
        op.execute(f"DROP FUNCTION incident_worker_stats_{name}()")
    op.execute(f"DROP TABLE {MONTHLY}")
    op.execute(f"DROP TABLE {DAILY}")

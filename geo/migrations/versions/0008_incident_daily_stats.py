"""incident statistics: daily and monthly rollups kept exact by statement-level triggers

Revision ID: 0008
Revises: 0005
Create Date: 2026-11-24

Coverage needs, per unit and category, the incidents of a year and the median time to
close them; at a million incidents reading the raw rows takes seconds. These tables hold,
per sector, category and Beijing-time day (or month) of observation, the count of incidents, of
verified ones, of those verified within their limit, and a 64-bucket histogram of the
hours to close (h00..h63, log-spaced: bucket 0 < 0.05 h, bucket k covers
[0.05·1.15^(k-1), 0.05·1.15^k), bucket 63 everything above). Triggers with transition
tables keep it in step with every INSERT, UPDATE, DELETE and TRUNCATE of incidents, one
aggregate per statement, so bulk loads stay fast.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0008"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BUCKETS = 64
HIST = [f"h{k:02d}" for k in range(BUCKETS)]
KEY = ("coalesce(sector_code, '') AS sector_code", "category",
       "(observed_at AT TIME ZONE 'Asia/Shanghai')::date AS day")  # fmt: skip


VALUES = ["incidents", "verified", "verified_in_time", *HIST]


def _apply(signed_rows: str) -> str:
    """Add the signed contributions of `signed_rows` (a query of incidents columns plus
    `sign`, +1 or -1) to the daily and the monthly rollup: one statement, one upsert per
    key and table. Each row's histogram bucket is computed once, not once per bucket."""
    hist = ", ".join(
        f"coalesce(sum(sign) FILTER (WHERE status = 'verified' AND bucket = {k}), 0) AS {c}"
        for k, c in enumerate(HIST)
    )
    values = ", ".join(VALUES)
    sums = ", ".join(f"sum({c})" for c in VALUES)
    updates = ", ".join(f"{c} = s.{c} + EXCLUDED.{c}" for c in VALUES)
    return (
        f"WITH delta AS (SELECT {', '.join(KEY)}, sum(sign) AS incidents, "
        f"coalesce(sum(sign) FILTER (WHERE status = 'verified'), 0) AS verified, "
        f"coalesce(sum(sign) FILTER (WHERE status = 'verified' AND closed_at <= due_at), 0) "
        f"AS verified_in_time, {hist} FROM (SELECT *, incident_close_bucket(closed_at, "
        f"reported_at) AS bucket FROM ({signed_rows}) s OFFSET 0) r GROUP BY 1, 2, 3), "
        f"daily AS (INSERT INTO incident_daily_stats AS s (sector_code, category, day, {values}) "
        f"SELECT * FROM delta ON CONFLICT (sector_code, category, day) "
        f"DO UPDATE SET {updates} RETURNING 1) "
        f"INSERT INTO incident_monthly_stats AS s (sector_code, category, month, {values}) "
        f"SELECT sector_code, category, date_trunc('month', day)::date, {sums} FROM delta "
        f"GROUP BY 1, 2, 3 ON CONFLICT (sector_code, category, month) DO UPDATE SET {updates};"
    )


def _prefixed(alias: str) -> str:
    return ", ".join(f"{alias}.{c.strip()}" for c in FIGURES.split(","))


#: the columns that decide a row's contribution
FIGURES = "sector_code, category, observed_at, reported_at, status, due_at, closed_at"
CHANGED = (
    "(o.sector_code, o.category, o.observed_at, o.reported_at, o.status, o.due_at, o.closed_at) "
    "IS DISTINCT FROM (n.sector_code, n.category, n.observed_at, n.reported_at, n.status, "
    "n.due_at, n.closed_at)"
)


def upgrade() -> None:
    op.execute(
        """
        CREATE FUNCTION incident_close_bucket(closed timestamptz, reported timestamptz)
        RETURNS int LANGUAGE sql IMMUTABLE AS $$
            SELECT CASE
                WHEN closed IS NULL THEN NULL
                WHEN extract(epoch FROM closed - reported) / 3600.0 < 0.05 THEN 0
                ELSE least(63, 1 + floor(ln(extract(epoch FROM closed - reported) / 3600.0
                                            / 0.05) / ln(1.15)))::int
            END
        $$
        """
    )
    hist = ", ".join(f"{c} integer NOT NULL DEFAULT 0" for c in HIST)
    for table, period in (("incident_daily_stats", "day"), ("incident_monthly_stats", "month")):
        op.execute(
            f"""
            CREATE TABLE {table} (
                sector_code varchar(32) NOT NULL,
                category varchar(32) NOT NULL,
                {period} date NOT NULL,
                incidents integer NOT NULL DEFAULT 0,
                verified integer NOT NULL DEFAULT 0,
                verified_in_time integer NOT NULL DEFAULT 0,
                {hist},
                PRIMARY KEY (sector_code, category, {period})
            )
            """
        )
        op.execute(f"CREATE INDEX {table}_{period} ON {table} ({period})")
    op.execute(
        f"""
        CREATE FUNCTION incident_stats_insert() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN {_apply(f"SELECT 1 AS sign, {FIGURES} FROM new_rows")} RETURN NULL; END $$;
        CREATE FUNCTION incident_stats_delete() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN {_apply(f"SELECT -1 AS sign, {FIGURES} FROM old_rows")} RETURN NULL; END $$;
        CREATE FUNCTION incident_stats_update() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            -- only rows whose figures changed; the rest would add and take away the same
            {
            _apply(
                f"SELECT -1 AS sign, o.* FROM (SELECT o.id, {_prefixed('o')} FROM old_rows o "
                f"JOIN new_rows n USING (id) WHERE {CHANGED}) o UNION ALL "
                f"SELECT 1, n.* FROM (SELECT n.id, {_prefixed('n')} FROM new_rows n "
                f"JOIN old_rows o USING (id) WHERE {CHANGED}) n"
            )
        }
            RETURN NULL;
        END $$;
        CREATE FUNCTION incident_stats_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN TRUNCATE incident_daily_stats, incident_monthly_stats; RETURN NULL; END $$;
        CREATE TRIGGER incident_stats_insert AFTER INSERT ON incidents
            REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT
            EXECUTE FUNCTION incident_stats_insert();
        CREATE TRIGGER incident_stats_delete AFTER DELETE ON incidents
            REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT
            EXECUTE FUNCTION incident_stats_delete();
        CREATE TRIGGER incident_stats_update AFTER UPDATE ON incidents
            REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT
            EXECUTE FUNCTION incident_stats_update();
        CREATE TRIGGER incident_stats_truncate AFTER TRUNCATE ON incidents
            FOR EACH STATEMENT EXECUTE FUNCTION incident_stats_truncate();
        """
    )
    # what is open now is read live; this keeps that read small
    op.execute(
        "CREATE INDEX incidents_open ON incidents (observed_at) "
        "WHERE status NOT IN ('verified', 'rejected', 'duplicate')"
    )
    # existing incidents
    op.execute(_apply(f"SELECT 1 AS sign, {FIGURES} FROM incidents"))


def downgrade() -> None:
    op.execute("DROP INDEX incidents_open")
    for name in ("insert", "delete", "update", "truncate"):
        op.execute(f"DROP TRIGGER incident_stats_{name} ON incidents")
        op.execute(f"DROP FUNCTION incident_stats_{name}()")
    op.execute("DROP TABLE incident_daily_stats")
    op.execute("DROP TABLE incident_monthly_stats")
    op.execute("DROP FUNCTION incident_close_bucket(timestamptz, timestamptz)")

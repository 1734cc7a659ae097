"""evaluation: what the case loop did to each incident, kept in the rollups by triggers

Revision ID: 0015
Revises: 0009
Create Date: 2026-12-01

The evaluation of issue 20 needs, per sector, category and day, beyond what 0008 keeps:
cases voided (rejected or duplicate), cases sent back at least once (返工: a `transition`
resolved → in_progress), cases with an approved extension (延期: an `extension_approved`
event), cases closed without being sent back (一次完成), cases dispatched and dispatched
within their dispatch limit. Two counters on each incident (`times_sent_back`,
`extensions_approved`) are kept by a statement-level trigger on `incident_events` (events
are append-only, so inserts are all it sees); the incidents' rollup triggers then carry
the new figures like the old ones, so a boundary edit or a state change keeps every count
exact. The rollups are rebuilt once here for the existing incidents.
"""

import importlib.util
from collections.abc import Sequence
from pathlib import Path

from alembic import op

revision: str = "0015"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: the rollup columns this revision adds, and what each counts (per incident row `r`)
NEW_VALUES = {
    "voided": "status IN ('rejected', 'duplicate')",
    "sent_back": "times_sent_back > 0",
    "extended": "extensions_approved > 0",
    "first_time_fixed": "status = 'verified' AND times_sent_back = 0",
    "dispatched": "dispatched_at IS NOT NULL",
    "dispatched_in_time": "dispatched_at IS NOT NULL AND dispatched_at <= dispatch_due_at",
}
EXTRA_FIGURES = "dispatched_at, dispatch_due_at, times_sent_back, extensions_approved"
SENT_BACK = "kind = 'transition' AND from_status = 'resolved' AND to_status = 'in_progress'"
EXTENDED = "kind = 'extension_approved'"


def _rollups():
    """The 0008 revision's SQL builders (histogram, key, first figures)."""
    path = Path(__file__).with_name("0008_incident_daily_stats.py")
    spec = importlib.util.spec_from_file_location("rollups_0008", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _apply(signed_rows: str) -> str:
    """0008's upsert with the new columns: the signed contributions of `signed_rows` added
    to the daily and the monthly rollup, each row's histogram bucket computed once."""
    r = _rollups()
    values = [*r.VALUES, *NEW_VALUES]
    hist = ", ".join(
        f"coalesce(sum(sign) FILTER (WHERE status = 'verified' AND bucket = {k}), 0) AS {c}"
        for k, c in enumerate(r.HIST)
    )
    new = ", ".join(
        f"coalesce(sum(sign) FILTER (WHERE {rule}), 0) AS {c}" for c, rule in NEW_VALUES.items()
    )
    names = ", ".join(values)
    sums = ", ".join(f"sum({c})" for c in values)
    updates = ", ".join(f"{c} = s.{c} + EXCLUDED.{c}" for c in values)
    return (
        f"WITH delta AS (SELECT {', '.join(r.KEY)}, sum(sign) AS incidents, "
        f"coalesce(sum(sign) FILTER (WHERE status = 'verified'), 0) AS verified, "
        f"coalesce(sum(sign) FILTER (WHERE status = 'verified' AND closed_at <= due_at), 0) "
        f"AS verified_in_time, {hist}, {new} FROM (SELECT *, incident_close_bucket(closed_at, "
        f"reported_at) AS bucket FROM ({signed_rows}) s OFFSET 0) r GROUP BY 1, 2, 3), "
        f"daily AS (INSERT INTO incident_daily_stats AS s (sector_code, category, day, {names}) "
        f"SELECT * FROM delta ON CONFLICT (sector_code, category, day) "
        f"DO UPDATE SET {updates} RETURNING 1) "
        f"INSERT INTO incident_monthly_stats AS s (sector_code, category, month, {names}) "
        f"SELECT sector_code, category, date_trunc('month', day)::date, {sums} FROM delta "
        f"GROUP BY 1, 2, 3 ON CONFLICT (sector_code, category, month) DO UPDATE SET {updates};"
    )


def _signed(figures: str) -> dict[str, str]:
    return {
        "insert": f"SELECT 1 AS sign, {figures} FROM new_rows",
        "delete": f"SELECT -1 AS sign, {figures} FROM old_rows",
        "update": f"SELECT -1 AS sign, {figures} FROM old_rows "
        f"UNION ALL SELECT 1, {figures} FROM new_rows",
    }


def upgrade() -> None:
    r = _rollups()
    # the event kinds of this session (`extension_approved`, 18 letters) need the room; the
    # case desk's revision may widen it too (the same type: a no-op the second time)
    op.execute("ALTER TABLE incident_events ALTER COLUMN kind TYPE varchar(32)")
    op.execute(
        "ALTER TABLE incidents ADD COLUMN times_sent_back integer NOT NULL DEFAULT 0, "
        "ADD COLUMN extensions_approved integer NOT NULL DEFAULT 0"
    )
    op.execute(
        f"""
        UPDATE incidents i SET times_sent_back = m.sent_back, extensions_approved = m.extended
        FROM (SELECT incident_id, count(*) FILTER (WHERE {SENT_BACK}) AS sent_back,
                     count(*) FILTER (WHERE {EXTENDED}) AS extended
              FROM incident_events WHERE ({SENT_BACK}) OR ({EXTENDED}) GROUP BY 1) m
        WHERE i.id = m.incident_id
        """
    )
    op.execute(
        f"""
        CREATE FUNCTION incident_events_marks() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            UPDATE incidents i SET times_sent_back = i.times_sent_back + m.sent_back,
                                   extensions_approved = i.extensions_approved + m.extended
            FROM (SELECT incident_id, count(*) FILTER (WHERE {SENT_BACK}) AS sent_back,
                         count(*) FILTER (WHERE {EXTENDED}) AS extended
                  FROM new_rows WHERE ({SENT_BACK}) OR ({EXTENDED}) GROUP BY 1) m
            WHERE i.id = m.incident_id;
            RETURN NULL;
        END $$;
        CREATE TRIGGER incident_events_marks AFTER INSERT ON incident_events
            REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT
            EXECUTE FUNCTION incident_events_marks();
        """
    )
    for table in ("incident_daily_stats", "incident_monthly_stats"):
        columns = ", ".join(f"ADD COLUMN {c} integer NOT NULL DEFAULT 0" for c in NEW_VALUES)
        op.execute(f"ALTER TABLE {table} {columns}")
    figures = f"{r.FIGURES}, {EXTRA_FIGURES}"
    for name, rows in _signed(figures).items():
        op.execute(
            f"CREATE OR REPLACE FUNCTION incident_stats_{name}() RETURNS trigger "
            f"LANGUAGE plpgsql AS $$ BEGIN {_apply(rows)} RETURN NULL; END $$;"
        )
    # the existing incidents, counted again with the new columns
    op.execute("TRUNCATE incident_daily_stats, incident_monthly_stats")
    op.execute(_apply(f"SELECT 1 AS sign, {figures} FROM incidents"))


def downgrade() -> None:
    r = _rollups()
    for name, rows in _signed(r.FIGURES).items():
        op.execute(
            f"CREATE OR REPLACE FUNCTION incident_stats_{name}() RETURNS trigger "
            f"LANGUAGE plpgsql AS $$ BEGIN {r._apply(rows)} RETURN NULL; END $$;"
        )
    for table in ("incident_daily_stats", "incident_monthly_stats"):
        columns = ", ".join(f"DROP COLUMN {c}" for c in NEW_VALUES)
        op.execute(f"ALTER TABLE {table} {columns}")
    op.execute("DROP TRIGGER incident_events_marks ON incident_events")
    op.execute("DROP FUNCTION incident_events_marks()")
    op.execute("ALTER TABLE incidents DROP COLUMN times_sent_back, DROP COLUMN extensions_approved")
    op.execute("ALTER TABLE incident_events ALTER COLUMN kind TYPE varchar(24)")  # as 0013 left it

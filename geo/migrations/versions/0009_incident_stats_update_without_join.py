"""incident statistics: triggers that compute each row's histogram bucket once

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-24

The 0008 triggers evaluated `incident_close_bucket` inside each of the 64 histogram
aggregates, 64 times per row: an update of 5,000 incidents (a boundary edit moving them to
another sector) spent 4.6 s in the trigger at a million incidents. The rollup's upsert now
computes the bucket once per row (0008's builder, shared), and the update trigger sums the
old rows at -1 and the new rows at +1 in that one aggregate instead of first joining old to
new by id (transition tables carry no statistics, so that join's plan was a guess); a row
whose figures did not change cancels itself out within its key.
"""

import importlib.util
from collections.abc import Sequence
from pathlib import Path

from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _rollups():
    """The 0008 revision's SQL builders: one definition of the rollup's upsert."""
    path = Path(__file__).with_name("0008_incident_daily_stats.py")
    spec = importlib.util.spec_from_file_location("rollups_0008", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def upgrade() -> None:
    r = _rollups()
    signed = {
        "insert": f"SELECT 1 AS sign, {r.FIGURES} FROM new_rows",
        "delete": f"SELECT -1 AS sign, {r.FIGURES} FROM old_rows",
        "update": f"SELECT -1 AS sign, {r.FIGURES} FROM old_rows "
        f"UNION ALL SELECT 1, {r.FIGURES} FROM new_rows",
    }
    for name, rows in signed.items():
        op.execute(
            f"CREATE OR REPLACE FUNCTION incident_stats_{name}() RETURNS trigger "
            f"LANGUAGE plpgsql AS $$ BEGIN {r._apply(rows)} RETURN NULL; END $$;"
        )


def downgrade() -> None:
    """Back to 0008's trigger functions, as 0008 wrote them (same figures, slower)."""
    r = _rollups()
    joined = (
        f"SELECT -1 AS sign, o.* FROM (SELECT o.id, {r._prefixed('o')} FROM old_rows o "
        f"JOIN new_rows n USING (id) WHERE {r.CHANGED}) o UNION ALL "
        f"SELECT 1, n.* FROM (SELECT n.id, {r._prefixed('n')} FROM new_rows n "
        f"JOIN old_rows o USING (id) WHERE {r.CHANGED}) n"
    )
    bodies = {
        "insert": r._apply(f"SELECT 1 AS sign, {r.FIGURES} FROM new_rows"),
        "delete": r._apply(f"SELECT -1 AS sign, {r.FIGURES} FROM old_rows"),
        "update": r._apply(joined),
    }
    for name, body in bodies.items():
        op.execute(
            f"CREATE OR REPLACE FUNCTION incident_stats_{name}() RETURNS trigger "
            f"LANGUAGE plpgsql AS $$ BEGIN {body} RETURN NULL; END $$;"
        )

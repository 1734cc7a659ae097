"""The incident rollup UPDATE triggers count only the rows whose figures changed.

A statement-level `AFTER UPDATE` trigger with transition tables read every updated row
twice (old and new) even when nothing it counts changed, and computed each one's
contribution before the +1 and -1 cancelled. Two frequent UPDATEs change nothing a rollup
counts for one of them:

- re-attaching points after a boundary edit sets the unit codes only (`courtyard_code`,
  `sector_code`, `grid2_code`, `community_code`): the per-worker rollups (0016e) depend on
  none of them (5,000 moved incidents: about 0.4 s of trigger work, now a hash join);
- re-dispatch sets `assigned_to` and `updated_at`: the per-sector rollups (0008/0015) do
  not depend on them.

PostgreSQL refuses a column list (`AFTER UPDATE OF ...`) on a trigger with transition
tables, so the functions themselves keep only the rows whose figures differ: old (-1) and
new (+1) rows grouped by `id` (the primary key) and the figures, the groups whose signs
cancel dropped, before any contribution is computed. The sums are the same: an unchanged
row's -1 and +1 cancelled later before. The triggers and the other functions are unchanged.

Revision ID: 0016v
Revises: 0016e
"""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from pathlib import Path

from alembic import op

revision: str = "0016v"
down_revision: str | None = "0016e"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _revision(filename: str):
    """An earlier revision's module (its SQL builders: one definition of each figure)."""
    path = Path(__file__).with_name(filename)
    spec = importlib.util.spec_from_file_location(filename.removesuffix(".py"), path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def changed_rows(figures: str) -> str:
    """Signed rows (-1 old, +1 new) with the columns `figures` of the updated rows whose
    `figures` changed: an unchanged row's old and new versions meet in one group of
    (id, figures) and cancel (one hash aggregate; a join of the two transition tables,
    which have no statistics, was planned as a nested loop)."""
    return (
        f"SELECT sum(sign) AS sign, {figures} FROM (SELECT -1 AS sign, id, {figures} "
        f"FROM old_rows UNION ALL SELECT 1, id, {figures} FROM new_rows) s "
        f"GROUP BY id, {figures} HAVING sum(sign) <> 0"
    )


def _functions(filtered: bool) -> dict[str, str]:
    """Name → body of the two UPDATE trigger functions (filtered or as 0015/0016e had them)."""
    r8 = _revision("0008_incident_daily_stats.py")
    r15 = _revision("0015_evaluation_rollups.py")
    r16e = _revision("0016e_worker_rollups.py")
    sector = f"{r8.FIGURES}, {r15.EXTRA_FIGURES}"
    _, worker = r16e._figures()
    # the worker rollups' figures include the sector's, but their sums ignore the sector
    by_worker = ", ".join(c for c in worker.split(", ") if c != "sector_code")
    if filtered:
        return {
            "incident_stats_update": r15._apply(changed_rows(sector)),
            "incident_worker_stats_update": r16e._apply(changed_rows(by_worker)),
        }
    both = "SELECT -1 AS sign, {f} FROM old_rows UNION ALL SELECT 1, {f} FROM new_rows"
    return {
        "incident_stats_update": r15._apply(both.format(f=sector)),
        "incident_worker_stats_update": r16e._apply(both.format(f=worker)),
    }


def _replace(filtered: bool) -> None:
    for name, body in _functions(filtered).items():
        op.execute(
            f"CREATE OR REPLACE FUNCTION {name}() RETURNS trigger "
            f"LANGUAGE plpgsql AS $$ BEGIN {body} RETURN NULL; END $$;"
        )


def upgrade() -> None:
    _replace(filtered=True)


def downgrade() -> None:
    _replace(filtered=False)

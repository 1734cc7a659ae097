"""the deadline sweep remembers the cases it has told about, told anyone or not

Revision ID: 0020d
Revises: 0019e
Create Date: 2026-12-02

The periodic deadline sweep (`geo.notify.inbox.sweep_deadlines`, every 30 s in every
service process) chose the open cases due soon or overdue that had no notification of that
kind yet. A case whose workers have no user account (no one to tell) never gets one: the
sweep took it up again every 30 s, in every process, for as long as it stayed in its window
(a day for overdue cases), each time reading its facts, inserting no notification and
looking for its webhooks. Measured on the 1,000,000-incident benchmark database: 230 such
cases, about 2,000 statements per sweep per process, the case lists' requests under load
sharing the two cores with them.

`deadline_sweeps` holds one row per case and kind swept (its key), written in the same
transaction as the notifications and webhook messages: the sweep takes up only cases
without one, and of two processes sweeping at once the second finds the rows written (its
insert does nothing) and tells nobody twice. Rows go with their case (`ON DELETE CASCADE`);
with 0017t's `subdistrict` and row-level security. Filled here from the notifications of
those kinds already written, so an upgrade tells nobody again.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0020d"
down_revision: str | None = "0019e"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TENANT, CITY = "gridmap_tenant", "gridmap_city"
HERE = "subdistrict = current_setting('gridmap.subdistrict', true)"


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE deadline_sweeps (
            incident_id varchar(40) NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
            kind varchar(16) NOT NULL
                CONSTRAINT deadline_sweeps_kind CHECK (kind IN ('due_soon', 'overdue')),
            swept_at timestamptz NOT NULL DEFAULT now(),
            subdistrict varchar(9) NOT NULL DEFAULT gridmap_subdistrict(),
            CONSTRAINT deadline_sweeps_pkey PRIMARY KEY (incident_id, kind)
        )
        """
    )
    op.execute("ALTER TABLE deadline_sweeps ENABLE ROW LEVEL SECURITY")
    op.execute(
        f"CREATE POLICY tenant_rows ON deadline_sweeps TO {TENANT}, {CITY} "
        f"USING ({HERE}) WITH CHECK ({HERE})"
    )
    op.execute(f"CREATE POLICY city_reads ON deadline_sweeps FOR SELECT TO {CITY} USING (true)")
    op.execute(
        "INSERT INTO deadline_sweeps (incident_id, kind, swept_at, subdistrict) "
        "SELECT n.incident_id, n.kind, min(n.created_at), i.subdistrict "
        "FROM notifications n JOIN incidents i ON i.id = n.incident_id "
        "WHERE n.kind IN ('due_soon', 'overdue') GROUP BY n.incident_id, n.kind, i.subdistrict"
    )


def downgrade() -> None:
    op.execute("DROP TABLE deadline_sweeps")

"""incident heat cells: the heat page's aggregates, kept exact by statement-level triggers

Revision ID: 0017h
Revises: 0016v
Create Date: 2026-12-01

The heat page (`/maps/incidents`) counted the selected incidents per 5 m cell from the raw
points on every uncached build: at a million incidents most of its time. This table holds
the same cells ahead of time: per 5 m lattice cell (`cx`, `cy`: floor of longitude and
latitude over the lattice steps of `geo.maps.heat.lattice_steps(5.0)`), Beijing month of
observation, category, status and sector, the number of incidents and the sums of their
longitudes and latitudes (so merged cells keep their centre of mass). The page reads the
whole months of its window here and only the partial months at its edges from the raw
rows (`geo.maps.heat_cells`); `incident_heat_totals` holds the same cells over all time,
every category and status, so a page of everything since a day reads those less the few
months before it. Triggers with transition tables keep it in step with every
INSERT, UPDATE (a transition, a boundary re-attach, a moved point), DELETE and TRUNCATE of
incidents; a key whose count falls to 0 is deleted. `subdistrict` is the sub-district of
the incident's sector (its first nine digits), for row-level security by sub-district.
The existing incidents are counted once here.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0017h"
down_revision: str | None = "0016v"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLE = "incident_heat_cells"
#: the same cells over all time, every category and status: what a page of everything
#: since a day reads, less the months before it (a fifth of the rows of `TABLE`)
TOTAL = "incident_heat_totals"
#: the totals are kept on 5, 10, 20 and 40 m lattices (a page of a million reads 20 m)
TOTAL_SHIFTS = 4
#: degrees of longitude and latitude of the 5 m lattice (`lattice_steps(5.0)`, frozen here:
#: tests/test_heat_cells.py checks they agree)
DLON, DLAT = 5.842824666486151e-05, 4.4915558749550845e-05
#: the 5 m cell of a point; `shift` merges cells 2 x 2 that many times (10 m, 20 m, 40 m)
CX = f"(floor(ST_X(geom) / {DLON!r})::int >> {{shift}})"
CY = f"(floor(ST_Y(geom) / {DLAT!r})::int >> {{shift}})"
SUBDISTRICT = (
    "coalesce(left(nullif(sector_code, ''), 9), "
    "nullif(current_setting('gridmap.subdistrict', true), ''), '')"
)
#: each table's key, as expressions over an incidents row `r` (and `g.shift`), and what
#: the rows are joined with
KEYS = {
    TABLE: (
        {
            "month": "date_trunc('month', observed_at AT TIME ZONE 'Asia/Shanghai')::date",
            "subdistrict": SUBDISTRICT,
            "category": "category",
            "status": "status",
            "sector_code": "coalesce(sector_code, '')",
            "cx": CX.format(shift=0),
            "cy": CY.format(shift=0),
        },
        "",
    ),
    TOTAL: (
        {
            "shift": "g.shift",
            "subdistrict": SUBDISTRICT,
            "sector_code": "coalesce(sector_code, '')",
            "cx": CX.format(shift="g.shift"),
            "cy": CY.format(shift="g.shift"),
        },
        f"CROSS JOIN generate_series(0, {TOTAL_SHIFTS - 1}) AS g(shift)",
    ),
}
TYPES = {
    "month": "date",
    "subdistrict": "varchar(9) DEFAULT current_setting('gridmap.subdistrict')",
    "category": "varchar(32)",
    "status": "varchar(16)",
    "sector_code": "varchar(32)",
    "shift": "smallint",
    "cx": "integer",
    "cy": "integer",
}
#: the incident columns that decide a row's cell
FIGURES = "sector_code, category, status, observed_at, geom"


def _apply(signed_rows: str) -> str:
    """Add the signed contributions of `signed_rows` (incidents columns plus `sign`, +1 or
    -1) to both tables: one grouped upsert each; the cells left with no incident are then
    deleted by the row ids the upsert returns. An UPDATE passes its old rows at -1 and its
    new rows at +1 (no join of the two: transition tables carry no statistics, 0009): a row
    whose cell did not change cancels out within its key, so HAVING drops it."""
    statements = []
    for table, (key, joined) in KEYS.items():
        names = ", ".join(key)
        keyed = ", ".join(f"{expr} AS {name}" for name, expr in key.items())
        groups = ", ".join(str(k) for k in range(1, len(key) + 1))
        statements.append(
            f"WITH up AS (INSERT INTO {table} AS s ({names}, incidents, sum_lon, sum_lat) "
            f"SELECT {keyed}, sum(sign), sum(sign * ST_X(geom)), sum(sign * ST_Y(geom)) "
            f"FROM ({signed_rows}) r {joined} GROUP BY {groups} "
            # a point moved within its cell moves the cell's centre of mass only
            f"HAVING sum(sign) <> 0 OR abs(sum(sign * ST_X(geom))) > 1e-9 "
            f"OR abs(sum(sign * ST_Y(geom))) > 1e-9 "
            f"ON CONFLICT ({names}) DO UPDATE SET incidents = s.incidents + EXCLUDED.incidents, "
            f"sum_lon = s.sum_lon + EXCLUDED.sum_lon, sum_lat = s.sum_lat + EXCLUDED.sum_lat "
            f"RETURNING s.ctid AS row_id, s.incidents) "
            f"SELECT array_agg(row_id) INTO empty FROM up WHERE incidents = 0; "
            f"DELETE FROM {table} WHERE ctid = ANY(empty);"
        )
    return " ".join(statements)


def _function(name: str, signed_rows: str) -> str:
    return (
        f"CREATE FUNCTION incident_heat_{name}() RETURNS trigger LANGUAGE plpgsql AS $$ "
        f"DECLARE empty tid[]; BEGIN {_apply(signed_rows)} RETURN NULL; END $$;"
    )


def upgrade() -> None:
    for table, (key, _) in KEYS.items():
        columns = "".join(f"{name} {TYPES[name]} NOT NULL, " for name in key)
        op.execute(
            f"CREATE TABLE {table} ({columns}"
            f"incidents integer NOT NULL, sum_lon double precision NOT NULL, "
            f"sum_lat double precision NOT NULL, PRIMARY KEY ({', '.join(key)}))"
        )
    op.execute(_function("insert", f"SELECT 1 AS sign, {FIGURES} FROM new_rows"))
    op.execute(_function("delete", f"SELECT -1 AS sign, {FIGURES} FROM old_rows"))
    op.execute(
        _function(
            "update",
            f"SELECT -1 AS sign, {FIGURES} FROM old_rows "
            f"UNION ALL SELECT 1, {FIGURES} FROM new_rows",
        )
    )
    op.execute(
        "CREATE FUNCTION incident_heat_truncate() RETURNS trigger LANGUAGE plpgsql AS $$ "
        f"BEGIN TRUNCATE {TABLE}, {TOTAL}; RETURN NULL; END $$;"
    )
    transition = {
        "insert": "REFERENCING NEW TABLE AS new_rows",
        "delete": "REFERENCING OLD TABLE AS old_rows",
        "update": "REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows",
        "truncate": "",
    }
    for name, tables in transition.items():
        op.execute(
            f"CREATE TRIGGER incident_heat_{name} AFTER {name.upper()} ON incidents {tables} "
            f"FOR EACH STATEMENT EXECUTE FUNCTION incident_heat_{name}()"
        )
    # the existing incidents
    backfill = _apply(f"SELECT 1 AS sign, {FIGURES} FROM incidents")
    op.execute(f"DO $$ DECLARE empty tid[]; BEGIN {backfill} END $$;")
    op.execute(f"ANALYZE {TABLE}, {TOTAL}")  # the page's plans read month ranges by index


def downgrade() -> None:
    for name in ("insert", "delete", "update", "truncate"):
        op.execute(f"DROP TRIGGER incident_heat_{name} ON incidents")
        op.execute(f"DROP FUNCTION incident_heat_{name}()")
    op.execute(f"DROP TABLE {TABLE}, {TOTAL}")

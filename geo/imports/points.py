"""Importing point entities (households, businesses, resources, incidents) and residents:
check every cell, convert coordinates, attach, and upsert by id — in the caller's
transaction, all or nothing.

How it runs, set-based from end to end: cells are parsed column by column (pandas); the
rows go into a temporary staging table with one COPY; their points get a GiST index and
`geo.grid.attach.codes_sql` (the one edge rule) gives every point its courtyard, sector, grid
and community in one join; rows outside the sub-district, or failing a check against the
database (unknown household, unit or parent), are named in the report; then an `UPDATE`
of the stored ids and an `INSERT ... SELECT` of the new ones write the rest. A row whose
values equal the stored ones is left alone (counted as unchanged).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import shapely
from pyproj import Transformer
from sqlalchemy import text
from sqlalchemy.engine import Connection

from geo.core import coords
from geo.core.bulk import copy_columns
from geo.core.errors import InvalidInput
from geo.core.models import SRID
from geo.grid.attach import WORKING_SUBDISTRICT, codes_sql, hold_boundaries, without_jit
from geo.imports.base import ImportOptions, Progress
from geo.imports.columns import (
    IGNORE,
    LAT,
    LON,
    Field,
    as_text,
    match_columns,
    missing_fields,
    parse,
)
from geo.imports.report import ImportRejected, ImportReport, problems_frame
from geo.imports.source import Table

STEPS = ("checking values", "staging", "attaching", "checking rows", "writing")
SQL_TYPES = {
    "text": "text",
    "choice": "text",
    "number": "float8",
    "date": "date",
    "datetime": "timestamptz",
    "bool": "boolean",
}
#: PostgreSQL's work_mem for an import's transaction: its sorts of a million rows spilled
#: 100 MB each to disk at the default 4 MB
IMPORT_WORK_MEM = "256MB"
#: geographic CRSs a vector file may declare and still be read as lon/lat
GEOGRAPHIC = {4326, 4490, 4610, 4214}


#: how many of the rows sharing a duplicate id its reason names (the rest are counted)
DUPLICATES_NAMED = 5


@dataclass
class Values:
    """The parsed columns of a file, keyed by field, with the problems found so far."""

    table: Table
    mapping: dict[str, str]  # field → the file's header
    columns: dict[str, pd.Series]
    problems: list[pd.DataFrame]
    empty: dict[str, np.ndarray] = field(default_factory=dict)
    #: where the coordinates come from, as the report names it (headers or "geometry")
    where: str = ""
    #: SQL literals for absent columns that have a default (set on insert only)
    defaults: dict[str, str] = field(default_factory=dict)

    def header(self, name: str) -> str:
        return self.mapping.get(name, name)

    def add(self, mask: np.ndarray, column: str, reason, value=None) -> None:
        """Record `reason` (one sentence, or one per row) for the rows in `mask`."""
        mask = np.asarray(mask, dtype=bool)
        if not mask.any():
            return
        if value is None:
            source = self.table.frame.get(self.header(column))
            value = as_text(source)[mask].to_numpy() if source is not None else ""
        reasons = reason[mask] if isinstance(reason, np.ndarray | pd.Series) else reason
        self.problems.append(
            problems_frame(
                self.table.row_numbers[mask],
                self.header(column),
                np.asarray(value, dtype=object) if not isinstance(value, str) else value,
                np.asarray(reasons, dtype=object) if not isinstance(reasons, str) else reasons,
            )
        )


class PointImporter:
    """One kind of point entity (or residents, `geometry="none"`) in one table keyed by a
    text `id`. Subclasses add fields, value checks, derived columns and database checks."""

    kind: str = ""
    table: str = ""
    label: tuple[str, str] = ("", "")
    steps = STEPS
    params: tuple[str, ...] = ()
    #: "required", "optional" (rows without coordinates stay unplaced) or "none"
    geometry: str = "required"
    #: whether rows must carry their id (incidents may leave ids to the database)
    id_required: bool = True
    #: SQL giving a new id to a row without one (when ids are not required)
    id_default_sql: str = ""

    # -- what a kind defines -----------------------------------------------------------

    def fields(self, conn: Connection) -> list[Field]:
        raise NotImplementedError

    def check_values(self, values: Values) -> None:
        """Checks of one row's values against each other (vectorised)."""

    def derive(self, conn: Connection, values: Values) -> dict[str, pd.Series]:
        """Columns computed from the values (e.g. deadlines), staged and written too."""
        return {}

    def check_rows_sql(self, columns: set[str]) -> list[tuple[str, str, str]]:
        """(column, SQL selecting row_no and value of bad staged rows, reason) checks
        against the database; the SQL reads `import_rows r`."""
        return []

    def dependent_sql(self) -> tuple[str, str, str] | None:
        """With --skip-invalid: (column, SQL, reason) selecting rows (row_no, value) that
        depend on the rows in `:bad` and must be skipped with them."""
        return None

    # -- the import ----------------------------------------------------------------------

    def load(
        self,
        conn: Connection,
        table: Table,
        source: str,
        options: ImportOptions,
        progress: Progress,
    ) -> ImportReport:
        report = ImportReport(
            kind=self.kind,
            source=source,
            read_as=table.read_as,
            row_label=table.row_label,
            rows=len(table.frame),
            skip_invalid=options.skip_invalid,
            notes=list(table.notes),
        )
        progress(self.steps[0])
        fields = self.fields(conn)
        if self.geometry != "none":
            fields = [*fields, LON, LAT]
        values = self._parse(table, fields, options, report)
        self.check_values(values)
        staged = {name: values.columns[name] for name in values.mapping if name in values.columns}
        staged = {k: v for k, v in staged.items() if k not in ("lon", "lat")}
        staged.update(self.derive(conn, values))
        lon, lat = self._coordinates(values, options, report)
        if "id" not in values.mapping and not self.id_required:
            report.notes.append(
                "no id column: every row is a new record (importing the file again would "
                "add them again; give ids to update instead)"
            )

        progress(self.steps[1])
        # the joins and sorts of a million staged rows in memory, not in temporary files
        # (the import's transaction only; one import at a time per caller)
        conn.execute(text(f"SET LOCAL work_mem = '{IMPORT_WORK_MEM}'"))
        self._stage(conn, staged, lon, lat, fields)

        progress(self.steps[2])
        if self.geometry != "none":
            self._attach(conn)

        progress(self.steps[3])
        if self.geometry != "none":
            self._outside(conn, values)
        for column, sql, reason in self.check_rows_sql(set(staged)):
            bad = conn.execute(text(sql)).all()
            if bad:
                rows = np.array([r[0] for r in bad])
                mask = np.zeros(len(table.frame), dtype=bool)
                mask[rows] = True
                by_row = dict(bad)
                order = np.flatnonzero(mask)
                values.add(mask, column, reason, value=[by_row[k] for k in order])
        report.problems = _sorted(values.problems)
        if report.rejected and not options.skip_invalid:
            raise ImportRejected(report)
        bad_rows = np.flatnonzero(np.isin(table.row_numbers, report.problems["row"].to_numpy()))
        dependent = self.dependent_sql()
        while dependent is not None and len(bad_rows):
            # rows that lean on a skipped row (a member of a skipped organisation) go too
            column, sql, reason = dependent
            more = conn.execute(text(sql), {"bad": bad_rows.tolist()}).all()
            if not more:
                break
            mask = np.zeros(len(table.frame), dtype=bool)
            mask[[r[0] for r in more]] = True
            by_row = dict(more)
            values.add(mask, column, reason, value=[by_row[k] for k in np.flatnonzero(mask)])
            bad_rows = np.union1d(bad_rows, np.flatnonzero(mask))
        report.problems = _sorted(values.problems)

        progress(self.steps[4])
        written = self.write(conn, list(staged), bad_rows.tolist(), options, source, values)
        report.inserted, report.updated = written
        report.unchanged = report.rows - report.rejected - report.inserted - report.updated
        report.committed = True
        return report

    # -- steps ---------------------------------------------------------------------------

    def check_header(
        self, conn: Connection, headers: list[str], has_geometry: bool, options: ImportOptions
    ) -> None:
        """InvalidInput when the file's columns cannot make this kind: called on the header
        alone, before the rows are read (a workbook of a million rows is refused at once)."""
        fields = self.fields(conn)
        if self.geometry != "none":
            fields = [*fields, LON, LAT]
        self._check_columns(headers, has_geometry, fields, options)

    def _check_columns(
        self, headers: list[str], file_geometry: bool, fields: list[Field], options: ImportOptions
    ) -> dict[str, str]:
        """The file's header → field mapping, or InvalidInput naming the missing columns."""
        mapping = match_columns(headers, fields, options.columns, self.kind)
        mapped = {target for target in mapping.values() if target != IGNORE}
        has_geometry = file_geometry and self.geometry != "none"
        required = [f for f in missing_fields(fields, mapped)]
        if not self.id_required:
            required = [f for f in required if f.name != "id"]
        if self.geometry == "required" and not has_geometry:
            required += [f for f in (LON, LAT) if f.name not in mapped]
        if self.geometry == "optional" and not has_geometry and len({"lon", "lat"} & mapped) == 1:
            required += [f for f in (LON, LAT) if f.name not in mapped]
        if required:
            raise InvalidInput(
                f"missing column(s) for {self.kind}: "
                + ", ".join(f.shown() for f in required)
                + f". The file's columns: {', '.join(headers)}. Name a column with --columns "
                f"'HEADER={required[0].name}'",
                where="columns",
                missing=[f.name for f in required],
            )
        return mapping

    def _parse(
        self, table: Table, fields: list[Field], options: ImportOptions, report: ImportReport
    ) -> Values:
        headers = list(table.frame.columns)
        mapping = self._check_columns(headers, table.geometry is not None, fields, options)
        by_field = {target: header for header, target in mapping.items() if target != IGNORE}
        values = Values(table, by_field, {}, [])
        values.defaults = {
            f.name: "'" + f.default.replace("'", "''") + "'"
            for f in fields
            if f.default is not None and f.name not in by_field
        }
        for f in fields:
            if f.name not in by_field:
                continue
            parsed = parse(f, table.frame[by_field[f.name]])
            values.columns[f.name] = parsed.values.reset_index(drop=True)
            values.empty[f.name] = parsed.empty
            values.add(parsed.problems.notna().to_numpy(), f.name, parsed.problems.to_numpy())
        self._duplicate_ids(values)
        return values

    def _duplicate_ids(self, values: Values) -> None:
        ids = values.columns.get("id")
        if ids is None:
            return
        dup = (ids.duplicated(keep=False) & ids.notna()).to_numpy()
        if not dup.any():
            return
        # each reason names a few of the rows sharing the id and counts the rest: a file of
        # 20,000 identical ids gives 20,000 short reasons, not 20,000 lists of 20,000 rows
        rows = pd.Series(values.table.row_numbers[dup], index=ids[dup].to_numpy())
        groups = rows.groupby(level=0)
        count = groups.size()
        first = groups.agg(lambda r: ", ".join(str(x) for x in r.iloc[:DUPLICATES_NAMED]))
        label = values.table.row_label
        said = {
            key: f"duplicate id: it appears on {label}s {first[key]}"
            + (
                f" and {count[key] - DUPLICATES_NAMED:,} more ({count[key]:,} in all)"
                if count[key] > DUPLICATES_NAMED
                else ""
            )
            for key in count.index
        }
        reasons = ids[dup].map(said).to_numpy(dtype=object)
        full = np.full(len(ids), None, dtype=object)
        full[dup] = reasons
        values.add(dup, "id", full)

    def _coordinates(
        self, values: Values, options: ImportOptions, report: ImportReport
    ) -> tuple[np.ndarray, np.ndarray]:
        """WGS 84 lon/lat per row (NaN where there is none), with problems recorded."""
        n = len(values.table.frame)
        if self.geometry == "none":
            return np.full(n, np.nan), np.full(n, np.nan)
        crs = coords.parse_crs(options.crs)
        x = values.columns.get("lon", pd.Series(np.full(n, np.nan))).to_numpy(dtype=float)
        y = values.columns.get("lat", pd.Series(np.full(n, np.nan))).to_numpy(dtype=float)
        where = f"{values.header('lon')}/{values.header('lat')}"
        has_x = ~values.empty.get("lon", np.ones(n, dtype=bool))
        has_y = ~values.empty.get("lat", np.ones(n, dtype=bool))
        geometry = values.table.geometry
        if geometry is not None:
            x, y, wrong = self._from_geometry(values, geometry, x, y, options, report)
            where = "geometry"
            # a feature of the wrong type is reported as such, not also as lacking a point
            has_x, has_y = has_x | np.isfinite(x) | wrong, has_y | np.isfinite(y) | wrong
        values.where = where
        half = has_x ^ has_y
        if self.geometry == "required":
            none = ~has_x & ~has_y
            values.add(none, where, "no coordinates", value=[""] * int(none.sum()))
        values.add(half, where, "only one of lon/lat given", value=_pairs(x[half], y[half]))
        if geometry is None or crs != coords.CoordSystem.WGS84:
            converted = coords.to_wgs84(x, y, crs)
            report.coordinates = converted.read_as
            lon, lat = converted.lon, converted.lat
        else:
            lon, lat = x, y
            report.coordinates = report.coordinates or coords.LABELS[crs][0]
        bad = coords.lonlat_problems(lon, lat)
        if crs in (coords.CoordSystem.GCJ02, coords.CoordSystem.BD09):
            bad = np.where(bad == None, coords.lonlat_problems(x, y), bad)  # noqa: E711
        has = bad != None  # noqa: E711
        values.add(has, where, bad, value=_pairs(x[has], y[has]))
        keep = ~has & ~half & np.isfinite(lon) & np.isfinite(lat)
        return np.where(keep, lon, np.nan), np.where(keep, lat, np.nan)

    def _from_geometry(self, values, geometry, x, y, options, report):
        geoms = np.asarray(geometry, dtype=object)
        present = ~shapely.is_missing(geoms)
        present[present] &= ~shapely.is_empty(geoms[present])
        kinds = np.full(len(geoms), None, dtype=object)
        kinds[present] = shapely.get_type_id(geoms[present])
        multi_one = present & (kinds == 4)
        if multi_one.any():
            parts = shapely.get_num_geometries(geoms[multi_one])
            single = np.zeros(len(geoms), dtype=bool)
            single[np.flatnonzero(multi_one)[parts == 1]] = True
            geoms = geoms.copy()
            geoms[single] = shapely.get_geometry(geoms[single], 0)
            kinds[single] = 0
        point = present & (kinds == 0)
        wrong = present & ~point
        if wrong.any():
            names = shapely.get_type_id(geoms[wrong])
            reasons = np.array(
                [
                    f"geometry is {_TYPE_NAMES.get(k, 'not a point')}; import point features"
                    for k in names
                ],
                dtype=object,
            )
            full = np.full(len(geoms), None, dtype=object)
            full[wrong] = reasons
            values.add(wrong, "geometry", full, value=[""] * int(wrong.sum()))
        gx, gy = np.full(len(geoms), np.nan), np.full(len(geoms), np.nan)
        gx[point], gy[point] = shapely.get_x(geoms[point]), shapely.get_y(geoms[point])
        epsg = values.table.declared_epsg
        crs = coords.parse_crs(options.crs)
        if epsg is not None and epsg not in GEOGRAPHIC:
            if crs in (coords.CoordSystem.GCJ02, coords.CoordSystem.BD09):
                raise InvalidInput(
                    f"the file declares EPSG:{epsg}, a projected system; --crs {crs.value} "
                    "applies to lon/lat only. Leave --crs out to use the file's own system",
                    field="crs",
                )
            lon, lat = Transformer.from_crs(epsg, SRID, always_xy=True).transform(gx, gy)
            gx, gy = np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)
            report.coordinates = f"EPSG:{epsg}, as the file declares"
        # rows without a geometry may still carry lon/lat columns
        gx = np.where(np.isfinite(gx), gx, x)
        gy = np.where(np.isfinite(gy), gy, y)
        return gx, gy, wrong

    def _stage(self, conn, staged: dict[str, pd.Series], lon, lat, fields) -> None:
        types = {f.name: SQL_TYPES[f.kind] for f in fields}
        types.update(self.derived_types())
        columns = ", ".join(f'"{name}" {types[name]}' for name in staged)
        conn.execute(text("DROP TABLE IF EXISTS import_rows, import_points, import_codes"))
        conn.execute(
            text(
                f"CREATE TEMP TABLE import_rows (row_no int, lon float8, lat float8"
                f"{', ' + columns if columns else ''}) ON COMMIT DROP"
            )
        )
        frame = pd.DataFrame({"row_no": np.arange(len(lon)), "lon": lon, "lat": lat})
        for name, series in staged.items():
            frame[name] = series.reset_index(drop=True)
        copy_columns(conn, "import_rows", frame)

    def derived_types(self) -> dict[str, str]:
        return {}

    def _attach(self, conn: Connection) -> None:
        without_jit(conn)
        conn.execute(
            text(
                f"CREATE TEMP TABLE import_points ON COMMIT DROP AS SELECT row_no AS id, "
                f"ST_SetSRID(ST_MakePoint(lon, lat), {SRID}) AS geom FROM import_rows "
                "WHERE lon IS NOT NULL AND lat IS NOT NULL"
            )
        )
        conn.execute(text("CREATE INDEX ON import_points USING gist (geom)"))
        conn.execute(text("ANALYZE import_points"))
        hold_boundaries(conn)
        # the rows belong to the sub-district the import works for: its units only
        coded = codes_sql("import_points", own=WORKING_SUBDISTRICT)
        conn.execute(text(f"CREATE TEMP TABLE import_codes ON COMMIT DROP AS {coded}"))

    def _outside(self, conn: Connection, values: Values) -> None:
        rows = conn.execute(
            text(
                """
                SELECT c.id, r.lon, r.lat, c.outside_m,
                       (SELECT ST_Covers(d.geom, ST_SetSRID(ST_MakePoint(r.lat, r.lon), 4326))
                        FROM units d WHERE d.valid_to IS NULL AND d.level = 'district') AS swapped
                FROM import_codes c JOIN import_rows r ON r.row_no = c.id
                WHERE c.sector_code IS NULL ORDER BY c.id
                """
            )
        ).all()
        if not rows:
            return
        mask = np.zeros(len(values.table.frame), dtype=bool)
        reasons = np.full(len(mask), None, dtype=object)
        for row_no, _, _, metres, swapped in rows:
            mask[row_no] = True
            if metres is None:
                reasons[row_no] = "inside the sub-district but in no grid sector (a gap)"
            else:
                reasons[row_no] = f"outside the sub-district, {metres:,.0f} m from its boundary" + (
                    "; did you swap lon/lat?" if swapped else "; check the coordinates and --crs"
                )
        shown = [f"{r[1]:.6f},{r[2]:.6f}" for r in rows]
        values.add(mask, values.where, reasons, value=shown)

    # -- writing -------------------------------------------------------------------------

    def insert_columns(self, staged: list[str]) -> list[tuple[str, str]]:
        """(table column, SQL over `r` (import_rows), `p` (import_points), `c` (codes))."""
        cols = [(name, f'r."{name}"') for name in staged]
        if self.id_default_sql and "id" in staged:
            cols[staged.index("id")] = ("id", f'coalesce(r."id", {self.id_default_sql})')
        if self.geometry != "none":
            cols += [
                ("geom", "p.geom"),
                ("courtyard_code", "c.courtyard_code"),
                ("sector_code", "c.sector_code"),
                ("grid2_code", "c.grid2_code"),
                ("community_code", "c.community_code"),
            ]
        return cols

    def write_sql(
        self,
        staged: list[str],
        insert_only: dict[str, str] | None = None,
        update_also: dict[str, tuple[str, str]] | None = None,
        joins: str = "",
    ) -> tuple[str, str]:
        """(update, insert) of the staged rows but those in `:bad`: an UPDATE of the stored
        rows whose values differ, then a plain INSERT of the ids not stored yet (no
        `ON CONFLICT`: its speculative insertion cost a third of the incidents' insert).
        `insert_only` columns are set on insert and kept on update; `update_also` columns
        are (insert expression, update expression over `t`, the stored row, and `n`, the
        staged one) and do not count as a change by themselves. An id inserted by someone
        else between the two fails the import (unique key), which then changes nothing."""
        cols = self.insert_columns(staged)
        if self.geometry != "none":
            joins = (
                "LEFT JOIN import_points p ON p.id = r.row_no "
                "LEFT JOIN import_codes c ON c.id = r.row_no " + joins
            )
        rows = f"FROM import_rows r {joins} WHERE r.row_no <> ALL(CAST(:bad AS int[]))"
        extra = list((insert_only or {}).items()) + [
            (c, e) for c, (e, _) in (update_also or {}).items()
        ]
        names = ", ".join(f'"{c}"' for c, _ in cols + extra)
        exprs = ", ".join(e for _, e in cols + extra)
        insert = f"""
            INSERT INTO {self.table} AS t ({names})
            SELECT {exprs} {rows}
              AND NOT EXISTS (SELECT 1 FROM {self.table} s WHERE s.id = r."id")
        """
        # the stored rows: matched by the file's id (a row without one is always new)
        new = [(c, 'r."id"' if c == "id" else e) for c, e in cols]
        new += [(c, e) for c, (e, _) in (update_also or {}).items()]
        updatable = [c for c, _ in cols if c != "id"]
        sets = [f'"{c}" = n."{c}"' for c in updatable]
        sets += [f'"{c}" = {u}' for c, (_, u) in (update_also or {}).items()]
        update = f"""
            UPDATE {self.table} AS t SET {", ".join(sets)}, updated_at = now()
            FROM (SELECT {", ".join(f'{e} AS "{c}"' for c, e in new)} {rows}
                  AND EXISTS (SELECT 1 FROM {self.table} s WHERE s.id = r."id")) n
            WHERE t.id = n.id
              AND ({", ".join(f't."{c}"' for c in updatable)})
                  IS DISTINCT FROM ({", ".join(f'n."{c}"' for c in updatable)})
        """
        return update, insert

    def write(
        self,
        conn: Connection,
        staged: list[str],
        bad: list[int],
        options: ImportOptions,
        source: str,
        values: Values,
    ) -> tuple[int, int]:
        """Write the staged rows but `bad`; returns (inserted, updated)."""
        update, insert = self.write_sql(staged, insert_only=values.defaults)
        updated = conn.execute(text(update), {"bad": bad}).rowcount
        inserted = conn.execute(text(insert), {"bad": bad}).rowcount
        return inserted, updated


_TYPE_NAMES = {
    1: "a line",
    2: "a linear ring",
    3: "a polygon",
    4: "a multipoint of several points",
    5: "a multiline",
    6: "a multipolygon",
    7: "a geometry collection",
}


def _pairs(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """The coordinates as a person would read them, for the report."""
    return np.array(
        [
            f"{'' if np.isnan(a) else f'{a:g}'},{'' if np.isnan(b) else f'{b:g}'}"
            for a, b in zip(x, y, strict=True)
        ],
        dtype=object,
    )


def _sorted(parts: list[pd.DataFrame]) -> pd.DataFrame:
    if not parts:
        return problems_frame([], [], [], [])
    frame = pd.concat(parts, ignore_index=True)
    return frame.sort_values("row", kind="stable").reset_index(drop=True)

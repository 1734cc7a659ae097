"""Bulk import of households, residents, businesses, resources and incidents from CSV, XLSX,
GeoJSON, GeoPackage or zipped Shapefile — the same for `gridmap import` and
`POST /api/imports/{kind}`.

One import is one transaction: a file with bad rows changes nothing and the report names
each bad row, column and reason; with `skip_invalid` the good rows are written and the rest
reported. Rows are upserted by id, so importing the same file again updates. Points are
converted to WGS 84 (`geo.core.coords`) and attached by the one edge rule (`geo.grid.attach`);
points outside the sub-district are refused with their distance in metres.

    >>> with engine.begin() as conn:                                        # doctest: +SKIP
    ...     report = import_file(conn, "businesses", Path("shops.xlsx").read_bytes(),
    ...                          "shops.xlsx", ImportOptions(crs="gcj02"))
    >>> report.inserted
    120

Kinds are registered in `geo.imports.base.KINDS` (see there to add one).
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.engine import Connection

from geo.core.errors import InvalidInput, TooLarge
from geo.core.settings import get_settings
from geo.imports import kinds as _kinds  # noqa: F401  (registers the five point kinds)
from geo.imports.base import (
    KINDS,
    Importer,
    ImportOptions,
    Progress,
    check_params,
    importer_for,
    register,
)
from geo.imports.report import ImportRejected, ImportReport
from geo.imports.source import Table, read_source

__all__ = [
    "KINDS",
    "ImportOptions",
    "ImportRejected",
    "ImportReport",
    "Importer",
    "Table",
    "import_file",
    "read_file",
    "register",
    "steps_of",
]

READING = "reading the file"


def steps_of(kind: str) -> tuple[str, ...]:
    """Every step an import of `kind` reports, in order (for progress bars)."""
    return (READING, *importer_for(kind).steps)


def check_size(size: int, filename: str) -> None:
    """TooLarge when a file is above GRIDMAP_IMPORT_MAX_BYTES."""
    limit = get_settings().import_max_bytes
    if size > limit:
        raise TooLarge(
            f"{filename} is {size:,} bytes, over the import limit of {limit:,} bytes "
            "(GRIDMAP_IMPORT_MAX_BYTES); split the file or raise the limit",
            where="file",
        )


def read_file(path: str | Path) -> bytes:
    """A file's bytes, after checking it exists and is within the size limit."""
    path = Path(path)
    if not path.is_file():
        raise InvalidInput(f"no file {str(path)!r}", where="file")
    check_size(path.stat().st_size, path.name)
    return path.read_bytes()


def import_file(
    conn: Connection,
    kind: str,
    data: bytes,
    filename: str,
    options: ImportOptions | None = None,
    progress: Progress = lambda step: None,
) -> ImportReport:
    """Import `data` (the bytes of `filename`, whose suffix says the format) as `kind`, in
    the caller's transaction. Returns the report; raises ImportRejected (bad rows, nothing
    written) or InvalidInput (a file-level problem: format, columns, sheet, CRS)."""
    options = options or ImportOptions()
    importer = importer_for(kind)
    check_params(importer, options)
    check_size(len(data), filename)
    progress(READING)
    check = getattr(importer, "check_header", None)
    header_check = (
        (lambda headers, geometry: check(conn, headers, geometry, options)) if check else None
    )
    table = read_source(data, filename, options.sheet, header_check)
    return importer.load(conn, table, filename, options, progress)

"""Reading an import file: CSV (any common encoding), XLSX, GeoJSON, GeoPackage or zipped
Shapefile, into a table of cells with the row numbers a person sees.

    >>> table = read_source(Path("shops.xlsx").read_bytes(), "shops.xlsx")   # doctest: +SKIP
    >>> table.frame.columns.tolist(), table.row_numbers[:2]
    (['名称', '经度', '纬度'], array([2, 3]))
"""

from __future__ import annotations

import io
import json
import re
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from geo.core.errors import InvalidInput, TooLarge
from geo.core.settings import get_settings

TABULAR = {".csv", ".txt", ".tsv"}
WORKBOOK = {".xlsx", ".xlsm"}
VECTOR = {".geojson", ".json", ".gpkg", ".zip"}
SUPPORTED = "CSV, XLSX, GeoJSON, GeoPackage (.gpkg) or a zipped Shapefile (.zip)"
_DELIMITERS = (",", "\t", ";", "|")

#: called with a file's column names (and whether it has geometries) before its rows are
#: read; raises InvalidInput when the columns cannot make the kind being imported
HeaderCheck = Callable[[list[str], bool], None]


@dataclass
class Table:
    """A file's rows: cells as read (text, numbers, datetimes or None) under the file's own
    headers, the row number a person sees for each (header = row 1 in CSV/XLSX; feature
    number in vector files), and a vector file's geometries and declared CRS."""

    frame: pd.DataFrame
    row_numbers: np.ndarray
    row_label: str = "row"
    read_as: str = ""
    geometry: np.ndarray | None = None  # shapely geometries (None where missing)
    declared_epsg: int | None = None
    notes: list[str] = field(default_factory=list)


def read_source(
    data: bytes,
    filename: str,
    sheet: str | None = None,
    check_header: HeaderCheck | None = None,
) -> Table:
    """The rows of an import file given as bytes; `sheet` picks an XLSX sheet or a layer of
    a GeoPackage or zip. Raises InvalidInput saying what is wrong with the file, TooLarge
    when it unpacks to more than GRIDMAP_IMPORT_MAX_UNCOMPRESSED_BYTES or holds more than
    GRIDMAP_IMPORT_MAX_ROWS rows; workbooks and vector files are checked by their header
    and declared size (and `check_header`) before their rows are read."""
    check_header = check_header or (lambda headers, geometry: None)
    if not data.strip():
        raise InvalidInput(f"{filename} is empty: nothing to import", where="file")
    suffix = Path(filename).suffix.lower()
    if suffix in TABULAR:
        table = _read_csv(data, filename)
        check_rows(len(table.frame), filename)
    elif suffix in WORKBOOK:
        table = _read_xlsx(data, filename, sheet, check_header)
    elif suffix == ".xls":
        raise InvalidInput(
            f"{filename} is an old Excel 97-2003 workbook (.xls); save it as .xlsx and import that",
            where="file",
        )
    elif suffix in VECTOR:
        table = _read_vector(data, filename, sheet, check_header)
    elif suffix in {".shp", ".dbf", ".shx"}:
        raise InvalidInput(
            f"{filename}: a Shapefile is several files; zip the .shp, .shx, .dbf, .prj "
            "(and .cpg) together and import the .zip",
            where="file",
        )
    else:
        raise InvalidInput(
            f"cannot read {filename!r}: the file name should end in .csv, .xlsx, .geojson, "
            f".gpkg or .zip ({SUPPORTED})",
            where="file",
        )
    frame = table.frame
    if frame.shape[1] == 0 or len(frame) == 0:
        raise InvalidInput(f"{filename} has no data rows: nothing to import", where="file")
    return table


def check_rows(rows: int, filename: str, label: str = "rows") -> None:
    """TooLarge when a file holds more rows than GRIDMAP_IMPORT_MAX_ROWS."""
    limit = get_settings().import_max_rows
    if rows > limit:
        raise TooLarge(
            f"{filename} holds {rows:,} {label}, over the limit of {limit:,} "
            "(GRIDMAP_IMPORT_MAX_ROWS); split the file or raise the limit",
            where="file",
        )


def check_unpacked(archive: zipfile.ZipFile, filename: str) -> None:
    """TooLarge when a zip (an XLSX is one) declares more unpacked bytes than
    GRIDMAP_IMPORT_MAX_UNCOMPRESSED_BYTES, before anything is unpacked. A member that unpacks
    to more than it declares fails its own read (zipfile stops at the declared size)."""
    limit = get_settings().import_max_uncompressed_bytes
    total = sum(info.file_size for info in archive.infolist())
    if total > limit:
        raise TooLarge(
            f"{filename} unpacks to {total:,} bytes, over the limit of {limit:,} "
            "(GRIDMAP_IMPORT_MAX_UNCOMPRESSED_BYTES); split the file or raise the limit",
            where="file",
        )


# -- CSV ------------------------------------------------------------------------------


def decode_text(data: bytes) -> tuple[str, str]:
    """The text of a file and the encoding it was read in: UTF-8 (with or without BOM),
    UTF-16 with a BOM, GB18030 (which reads GBK and GB2312 too), else the best guess of
    charset-normalizer."""
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8", errors="strict"), "UTF-8"
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16"), "UTF-16"
    try:
        return data.decode("utf-8"), "UTF-8"
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("gb18030"), "GB18030"
    except UnicodeDecodeError:
        pass
    from charset_normalizer import from_bytes

    best = from_bytes(data).best()
    if best is None:
        raise InvalidInput(
            "cannot tell the file's text encoding; save it as UTF-8 (Excel: CSV UTF-8)",
            where="file",
        )
    return str(best), best.encoding.upper()


def _delimiter(header_line: str) -> str:
    counts = [header_line.count(d) for d in _DELIMITERS]
    return _DELIMITERS[int(np.argmax(counts))] if max(counts) else ","


def _read_csv(data: bytes, filename: str) -> Table:
    import pyarrow as pa
    import pyarrow.csv as pacsv

    text, encoding = decode_text(data)
    if encoding != "UTF-8" or data.startswith(b"\xef\xbb\xbf"):
        data = text.encode("utf-8")
    first = text.lstrip("\ufeff").split("\n", 1)[0]
    if not first.strip():
        raise InvalidInput(f"{filename}: the first line should hold the column names", where="file")
    delimiter = _delimiter(first)
    try:
        raw = pacsv.read_csv(
            io.BytesIO(data),
            read_options=pacsv.ReadOptions(block_size=1 << 24),
            parse_options=pacsv.ParseOptions(
                delimiter=delimiter, newlines_in_values=True, ignore_empty_lines=True
            ),
            convert_options=pacsv.ConvertOptions(
                column_types=_all_text(first, delimiter), strings_can_be_null=False
            ),
        )
    except pa.ArrowInvalid as exc:
        reason = _first_bad_row(text, delimiter) or str(exc).strip().splitlines()[0]
        raise InvalidInput(f"malformed CSV in {filename}: {reason}", where="file") from None
    names = _unique_names(raw.column_names)
    frame = raw.rename_columns(names).to_pandas(types_mapper=pd.ArrowDtype)
    frame = frame.astype({c: "string[pyarrow]" for c in frame.columns})
    row_numbers = np.arange(2, len(frame) + 2)
    keep = _not_blank(frame)
    name = {",": "comma", "\t": "tab", ";": "semicolon", "|": "bar"}[delimiter]
    return Table(
        frame[keep].reset_index(drop=True),
        row_numbers[keep],
        read_as=f"CSV ({encoding}, {name}-separated)",
    )


def _all_text(header: str, delimiter: str) -> dict:
    """Every column as text: values are checked field by field later, with row numbers."""
    import csv

    import pyarrow as pa

    names = next(csv.reader([header], delimiter=delimiter))
    return {n: pa.string() for n in names}


def _first_bad_row(text: str, delimiter: str) -> str | None:
    """Where a CSV stops being well formed, said for people (Arrow does not say where)."""
    import csv

    reader = csv.reader(io.StringIO(text.lstrip("\ufeff")), delimiter=delimiter, strict=True)
    try:
        width = len(next(reader))
        for row, record in enumerate(reader, start=2):
            if record and len(record) != width:
                return (
                    f"row {row} (line {reader.line_num}) has {len(record)} fields where the "
                    f"header has {width}; check its quotes and separators"
                )
    except csv.Error as exc:
        return f"line {reader.line_num}: {exc}; check the quotes"
    return None


def _unique_names(names: list) -> list[str]:
    out, seen = [], {}
    for k, raw in enumerate(names):
        name = "" if raw is None else str(raw).strip().lstrip("\ufeff")
        name = name or f"(column {k + 1}, no header)"
        if name in seen:
            seen[name] += 1
            name = f"{name} ({seen[name]})"
        else:
            seen[name] = 1
        out.append(name)
    return out


def _not_blank(frame: pd.DataFrame) -> np.ndarray:
    """Rows with at least one non-empty cell (blank lines and trailing empty rows go)."""
    filled = np.zeros(len(frame), dtype=bool)
    for column in frame.columns:
        values = frame[column]
        if values.dtype == object:
            text = values.map(lambda v: "" if v is None else str(v))
        else:
            text = values.astype("string").fillna("")
        filled |= text.str.strip().ne("").to_numpy(dtype=bool)
    return filled


# -- XLSX -----------------------------------------------------------------------------


def _read_xlsx(data: bytes, filename: str, sheet: str | None, check_header: HeaderCheck) -> Table:
    from openpyxl import load_workbook

    _patch_openpyxl()
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            check_unpacked(archive, filename)
    except zipfile.BadZipFile:
        pass  # load_workbook says it is not a workbook
    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # zipfile.BadZipFile, KeyError, InvalidFileException
        raise InvalidInput(
            f"{filename} is not a readable XLSX workbook ({exc.__class__.__name__}); "
            "open it in Excel or WPS and save it again as .xlsx",
            where="file",
        ) from None
    try:
        with_data = [ws.title for ws in book.worksheets if _has_cells(ws)]
        if sheet is None:
            if len(with_data) > 1:
                names = ", ".join(repr(n) for n in with_data)
                raise InvalidInput(
                    f"{filename} has {len(with_data)} sheets with data ({names}); say which "
                    "to import with --sheet NAME (API: form field `sheet`)",
                    where="sheet",
                    sheets=with_data,
                )
            if not with_data:
                raise InvalidInput(f"{filename}: every sheet is empty", where="file")
            sheet = with_data[0]
        if sheet not in book.sheetnames:
            names = ", ".join(repr(n) for n in book.sheetnames)
            raise InvalidInput(
                f"{filename} has no sheet {sheet!r}; its sheets: {names}", where="sheet"
            )
        rows, skipped = _sheet_rows(book[sheet], filename, sheet, check_header)
    finally:
        book.close()
    header, body = rows[0], rows[1:]
    width = len(header)
    while width and (header[width - 1] is None or str(header[width - 1]).strip() == ""):
        if any(len(r) >= width and r[width - 1] not in (None, "") for r in body):
            break
        width -= 1  # trailing columns with neither header nor values
    frame = pd.DataFrame(
        [tuple(r[:width]) + (None,) * (width - len(r)) for r in body],
        columns=_unique_names(list(header[:width])),
        dtype=object,
    )
    first_row = 2 + skipped
    row_numbers = np.arange(first_row, first_row + len(frame))
    keep = _not_blank(frame) if len(frame) else np.zeros(0, dtype=bool)
    return Table(
        frame[keep].reset_index(drop=True), row_numbers[keep], read_as=f"XLSX sheet {sheet!r}"
    )


def _sheet_rows(ws, filename: str, sheet: str, check_header: HeaderCheck) -> tuple[list, int]:
    """The rows of a sheet from its header on, and how many blank rows were above it. The
    declared size and the header are checked before the rows are read, and the count as
    they are read (a sheet may declare no size, or a false one)."""
    limit = get_settings().import_max_rows
    declared = ws.max_row  # from the sheet's <dimension>, when it has one
    if declared is None:  # count the rows' tags in the raw XML: C speed, no cells parsed
        declared = _count_row_tags(ws)
    if declared - 1 > limit:
        check_rows(declared - 1, filename)
    cells = ws.iter_rows(values_only=True)
    skipped = 0
    for row in cells:
        if any(v is not None and str(v).strip() != "" for v in row):
            break
        skipped += 1  # blank rows above the header
    else:
        raise InvalidInput(f"{filename}: sheet {sheet!r} is empty", where="file")
    header = row
    check_header([n for n in _unique_names(list(header)) if "no header" not in n], False)
    rows = [header]
    for row in cells:
        rows.append(row)
        if len(rows) - 1 > limit:
            check_rows(len(rows) - 1, filename, label="rows or more")
    return rows, skipped


_ROW_TAG = re.compile(rb"<(?:\w+:)?row[\s>/]")


def _count_row_tags(ws) -> int:
    """How many <row> elements a read-only worksheet's XML holds, read in blocks."""
    count, tail = 0, b""
    with ws._get_source() as source:  # the member of the workbook's zip
        while block := source.read(1 << 20):
            chunk = tail + block
            count += len(_ROW_TAG.findall(chunk))
            cut = max(chunk.rfind(b"<"), len(chunk) - 16)
            tail = chunk[cut:]  # a tag split between blocks is counted in the next one
            count -= len(_ROW_TAG.findall(tail))
    return count


def _find_dimension_early(self):
    """openpyxl's WorkSheetParser.parse_dimensions, but stopping at the *start* of
    <sheetData>: openpyxl waits for its end, so opening a workbook whose sheets declare no
    size parsed every row of every sheet (27 s for a 341 kB file of a million rows) before
    a single check could run."""
    from openpyxl.worksheet._reader import DATA_TAG, DIMENSION_TAG, iterparse
    from openpyxl.worksheet.dimensions import SheetDimension

    for event, element in iterparse(self.source, events=("start", "end")):
        if event == "start" and element.tag == DATA_TAG:
            return None
        if event == "end" and element.tag == DIMENSION_TAG:
            return SheetDimension.from_tree(element).boundaries
    return None


def _patch_openpyxl() -> None:
    from openpyxl.worksheet._reader import WorkSheetParser

    WorkSheetParser.parse_dimensions = _find_dimension_early


def _has_cells(ws) -> bool:
    for row in ws.iter_rows(max_row=50, values_only=True):
        if any(v is not None and str(v).strip() != "" for v in row):
            return True
    return False


# -- GeoJSON, GeoPackage, zipped Shapefile --------------------------------------------


def _read_vector(data: bytes, filename: str, layer: str | None, check_header: HeaderCheck) -> Table:
    import pyogrio

    suffix = Path(filename).suffix.lower()
    with tempfile.TemporaryDirectory(prefix="gridmap-import-") as tmp:
        path = Path(tmp) / f"upload{suffix}"
        path.write_bytes(data)
        encoding = None
        if suffix in {".geojson", ".json"}:
            _check_json(data, filename)
            target, kind = str(path), "GeoJSON"
        elif suffix == ".gpkg":
            target, kind = str(path), "GeoPackage"
        else:
            target, layer, encoding = _shapefile_in_zip(path, filename, layer)
            kind = "zipped Shapefile"
        if suffix == ".gpkg":
            layers = [str(n) for n, _ in pyogrio.list_layers(target)]
            if layer is None and len(layers) > 1:
                names = ", ".join(repr(n) for n in layers)
                raise InvalidInput(
                    f"{filename} has {len(layers)} layers ({names}); say which to import with "
                    "--sheet NAME (API: form field `sheet`)",
                    where="sheet",
                    sheets=layers,
                )
            if layer is not None and layer not in layers:
                names = ", ".join(repr(n) for n in layers)
                raise InvalidInput(f"{filename} has no layer {layer!r}; its layers: {names}")
        # a .dbf of unknown code page: its field names are checked once it is read
        guessed = encoding == "GB18030?"
        _check_vector(
            target,
            layer if suffix == ".gpkg" else None,
            filename,
            None if guessed else check_header,
        )
        try:
            frame, encoding = _read_dataframe(
                target, layer if suffix == ".gpkg" else None, encoding
            )
        except Exception as exc:  # pyogrio.errors.DataSourceError and friends
            raise InvalidInput(
                f"cannot read {filename} as {kind}: {str(exc).splitlines()[0]}", where="file"
            ) from None
    declared = None
    if frame.crs is not None:
        declared = frame.crs.to_epsg() or None
        if declared is None:
            raise InvalidInput(
                f"{filename} declares a coordinate system without an EPSG code "
                f"({frame.crs.name}); save it in WGS 84 (EPSG:4326) or CGCS2000",
                where="file",
            )
    geometry = np.asarray(frame.geometry.values, dtype=object)
    attributes = pd.DataFrame(frame.drop(columns=frame.geometry.name)).astype(object)
    attributes = attributes.where(attributes.notna(), None)
    attributes.columns = _unique_names(list(attributes.columns))
    where = f" layer {layer!r}" if layer else ""
    return Table(
        attributes,
        np.arange(1, len(attributes) + 1),
        row_label="feature",
        read_as=f"{kind}{where}" + (f" ({encoding})" if encoding else ""),
        geometry=geometry,
        declared_epsg=declared,
    )


def _check_vector(target: str, layer: str | None, filename: str, check_header: HeaderCheck | None):
    """Count the features and check the fields before reading any feature."""
    import pyogrio

    try:
        info = pyogrio.read_info(target, layer=layer)
    except Exception:
        return  # unreadable: reading it says why
    if info.get("features", -1) >= 0:
        check_rows(int(info["features"]), filename, label="features")
    if check_header is not None:
        check_header([str(f) for f in info.get("fields", [])], True)


def _read_dataframe(target: str, layer: str | None, encoding: str | None):
    """The GeoDataFrame and the .dbf encoding used when it had to be guessed."""
    import pyogrio

    if encoding != "GB18030?":
        return pyogrio.read_dataframe(target, layer=layer, encoding=encoding), encoding
    try:  # a .dbf without a code page: UTF-8, or else the GB18030 most Chinese tools write
        return pyogrio.read_dataframe(target, layer=layer, encoding="UTF-8"), "UTF-8"
    except UnicodeDecodeError:
        return pyogrio.read_dataframe(target, layer=layer, encoding="GB18030"), "GB18030"


def _check_json(data: bytes, filename: str) -> None:
    try:
        text, _ = decode_text(data)
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidInput(
            f"malformed JSON in {filename} at line {exc.lineno}, column {exc.colno}: {exc.msg}",
            where="file",
        ) from None
    if not isinstance(document, dict) or document.get("type") not in {
        "FeatureCollection",
        "Feature",
    }:
        raise InvalidInput(
            f"{filename} is JSON but not GeoJSON: expected a FeatureCollection of point "
            "features with properties",
            where="file",
        )


def _shapefile_in_zip(path: Path, filename: str, layer: str | None) -> tuple[str, str, str | None]:
    """The /vsizip/ path of the Shapefile in a zip, its layer name, and the encoding to
    read its .dbf in (None: the file says; 'GB18030?': try UTF-8, then GB18030)."""
    try:
        with zipfile.ZipFile(path) as archive:
            check_unpacked(archive, filename)
            members = archive.namelist()
            shapes = [m for m in members if m.lower().endswith(".shp")]
            stems = {Path(m).stem: m for m in shapes}
            if not shapes:
                raise InvalidInput(
                    f"{filename} holds no .shp file; zip the Shapefile's .shp, .shx, .dbf "
                    "and .prj together",
                    where="file",
                )
            if layer is None and len(shapes) > 1:
                names = ", ".join(repr(s) for s in stems)
                raise InvalidInput(
                    f"{filename} holds {len(shapes)} Shapefiles ({names}); say which with "
                    "--sheet NAME (API: form field `sheet`)",
                    where="sheet",
                    sheets=list(stems),
                )
            if layer is not None and layer not in stems:
                names = ", ".join(repr(s) for s in stems)
                raise InvalidInput(f"{filename} has no Shapefile {layer!r}; it holds: {names}")
            member = stems[layer] if layer else shapes[0]
            base = member[:-4]
            lower = {m.lower(): m for m in members}
            if f"{base}.dbf".lower() not in lower:
                raise InvalidInput(f"{filename}: {member} comes without its .dbf", where="file")
            encoding = None
            if f"{base}.cpg".lower() not in lower:
                header = archive.read(lower[f"{base}.dbf".lower()])[:32]
                if len(header) < 30 or header[29] == 0:  # no language driver id either
                    encoding = "GB18030?"
    except zipfile.BadZipFile:
        raise InvalidInput(f"{filename} is not a readable zip file", where="file") from None
    return f"/vsizip/{path}/{member}", Path(member).stem, encoding

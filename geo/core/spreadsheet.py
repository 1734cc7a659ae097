"""Every CSV and XLSX the service writes, safe to open in a spreadsheet.

A cell whose text begins with `=`, `+`, `-`, `@`, a tab or a carriage return is a formula to
Excel, LibreOffice and WPS (a sector renamed `=HYPERLINK(...)` by an import would become a
live link in an official's workbook). Following OWASP's CSV-injection guidance, such text
is prefixed with a single quote, so it shows as the text it is; numbers stay numbers. XLSX
cells are written as strings, never as formulas. Every spreadsheet writer goes through
`safe_cell` (CSV: `to_csv`, `csv_rows`; XLSX: `to_xlsx`).

    >>> safe_cell("=HYPERLINK(\\"http://x\\",\\"点我\\")")
    '\\'=HYPERLINK("http://x","点我")'
    >>> safe_cell("-3"), safe_cell(-3), safe_cell("官北沟")
    ("'-3", -3, '官北沟')
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from typing import Any

import pandas as pd

#: the first characters that make a spreadsheet read a cell as a formula (OWASP)
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: Any) -> Any:
    """`value` as a spreadsheet may show it: text that would start a formula gets a leading
    `'`; everything else (numbers, dates, empty cells) as it is."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def safe_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of `frame` with every text cell and header made safe by `safe_cell`."""
    out = frame.copy()
    out.columns = [safe_cell(str(c)) for c in out.columns]
    for column in out.columns:
        if out[column].dtype == object or pd.api.types.is_string_dtype(out[column]):
            out[column] = out[column].map(safe_cell)
    return out


def csv_rows(rows: Iterable[Sequence[Any]]) -> list[list[Any]]:
    """Rows for `csv.writer`, each cell made safe by `safe_cell`."""
    return [[safe_cell(v) for v in row] for row in rows]


def write_csv(target: io.TextIOBase, rows: Iterable[Sequence[Any]]) -> None:
    """Rows (the header first) to an open text file as CSV, every cell made safe."""
    csv.writer(target).writerows(csv_rows(rows))


def to_csv(frame: pd.DataFrame, target=None, **options) -> str | None:
    """`frame.to_csv(target, index=False, **options)` with every cell made safe."""
    return safe_frame(frame).to_csv(target, index=False, **options)


def to_xlsx(frame: pd.DataFrame, sheet: str) -> bytes:
    """`frame` as one XLSX sheet (header first): text cells written as strings (never
    formulas) and made safe by `safe_cell`, numbers and dates as their own types."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell

    book = Workbook(write_only=True)
    sheet_ = book.create_sheet(safe_cell(sheet)[:31])

    def cell(value: Any) -> WriteOnlyCell:
        if value is None or (not isinstance(value, str) and pd.isna(value)):
            return WriteOnlyCell(sheet_, value=None)
        if hasattr(value, "item") and not isinstance(value, str):  # numpy scalars
            value = value.item()
        if isinstance(value, pd.Timestamp):
            value = value.to_pydatetime()
        if isinstance(value, str):
            out = WriteOnlyCell(sheet_, value=None)
            out.value = safe_cell(value)
            out.data_type = "s"  # a string, even if it looked like a formula
            return out
        return WriteOnlyCell(sheet_, value=value)

    sheet_.append([cell(str(c)) for c in frame.columns])
    for row in frame.itertuples(index=False, name=None):
        sheet_.append([cell(v) for v in row])
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def workbook():
    """An empty openpyxl workbook for a formatted report (headings, widths, a frozen header);
    fill it only with `append_safe`, which keeps every text cell a string."""
    from openpyxl import Workbook

    return Workbook()


def append_safe(sheet, values: Sequence[Any]) -> None:
    """Append one row to an openpyxl `sheet`, each text cell made safe by `safe_cell` and
    stored as a string (never a formula); numbers and empty cells as they are."""
    sheet.append([None if _missing(v) else safe_cell(v) for v in values])
    for cell in sheet[sheet.max_row]:
        if isinstance(cell.value, str):
            cell.data_type = "s"


def _missing(value: Any) -> bool:
    return value is None or (not isinstance(value, str) and bool(pd.isna(value)))

"""The report of an import: what was read, written and refused, row by row.

The same report comes out of the CLI (a table, and `--report PATH` as CSV) and the API
(JSON, or CSV with `?format=csv`).
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from geo.core import spreadsheet
from geo.core.errors import InvalidInput
from geo.core.settings import get_settings

#: the columns of a report's problems, and of its CSV
PROBLEM_COLUMNS = ("row", "column", "value", "reason")
#: longest cell value a report repeats (a problem cell of 10 MB is named, not copied)
SHOWN_VALUE_CHARS = 200


def shown_problems() -> int:
    """How many problems a report lists (GRIDMAP_IMPORT_MAX_PROBLEMS); totals count all."""
    return get_settings().import_max_problems


def _shown(frame: pd.DataFrame, limit: int) -> pd.DataFrame:
    """The first `limit` problems, long values cut to SHOWN_VALUE_CHARS characters."""
    head = frame.head(limit).copy()
    head["value"] = head["value"].map(
        lambda v: (
            v[:SHOWN_VALUE_CHARS] + "…" if isinstance(v, str) and len(v) > SHOWN_VALUE_CHARS else v
        )
    )
    return head


@dataclass
class ImportReport:
    kind: str
    source: str
    read_as: str = ""
    coordinates: str = ""
    row_label: str = "row"
    rows: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    committed: bool = False
    skip_invalid: bool = False
    notes: list[str] = field(default_factory=list)
    problems: pd.DataFrame = field(
        default_factory=lambda: pd.DataFrame(columns=list(PROBLEM_COLUMNS))
    )

    @property
    def rejected(self) -> int:
        """How many rows have at least one problem."""
        return int(self.problems["row"].nunique()) if len(self.problems) else 0

    def summary(self) -> str:
        verb = "imported" if self.committed else "nothing imported"
        parts = [
            f"{self.inserted:,} new",
            f"{self.updated:,} updated",
            f"{self.unchanged:,} unchanged",
        ]
        if self.rejected:
            parts.append(
                f"{self.rejected:,} {self.row_label}s rejected"
                + (" (skipped)" if self.committed else "")
            )
        return f"{self.kind} from {self.source}: {verb}; " + ", ".join(parts)

    def as_dict(self, limit: int | None = None) -> dict:
        """JSON-ready: counts, notes and the first `limit` problems (default: the setting)."""
        shown = _shown(self.problems, shown_problems() if limit is None else limit)
        return {
            "kind": self.kind,
            "source": self.source,
            "read_as": self.read_as,
            "coordinates": self.coordinates,
            "committed": self.committed,
            "skip_invalid": self.skip_invalid,
            "rows": self.rows,
            "inserted": self.inserted,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "rejected": self.rejected,
            "row_label": self.row_label,
            "notes": list(self.notes),
            "problems_total": len(self.problems),
            "problems": [
                {k: (None if pd.isna(v) else v) for k, v in rec.items()}
                for rec in shown.astype(object).to_dict("records")
            ],
        }

    def to_csv(self, target: str | Path | io.TextIOBase | None = None) -> str | None:
        """The problems as CSV (row, column, value, reason), UTF-8 with a BOM so Excel shows
        the Chinese; written to `target`, or returned as text when no target is given. At
        most GRIDMAP_IMPORT_MAX_PROBLEMS lines, then one line counting the rest. Cells that a
        spreadsheet would run as formulas are neutralised (`geo.core.spreadsheet`)."""
        limit = shown_problems()
        frame = _shown(self.problems, limit)
        more = len(self.problems) - len(frame)
        if more > 0:
            tail = problems_frame(
                [None],
                [""],
                [""],
                [
                    f"… and {more:,} more problems not listed (GRIDMAP_IMPORT_MAX_PROBLEMS = "
                    f"{limit:,}; {len(self.problems):,} in all)"
                ],
            )
            frame = pd.concat([frame.astype(object), tail.astype(object)], ignore_index=True)
        frame = frame.rename(columns={"row": self.row_label})
        if target is None:
            return spreadsheet.to_csv(frame)
        if isinstance(target, str | Path):
            spreadsheet.to_csv(frame, target, encoding="utf-8-sig")
            return None
        spreadsheet.to_csv(frame, target)
        return None


class ImportRejected(InvalidInput):
    """The file has bad rows and `skip_invalid` is off: nothing was written."""

    title = "Import rejected"

    def __init__(self, report: ImportReport) -> None:
        first = report.problems.head(3)
        examples = "; ".join(
            f"{report.row_label} {r.row} {r.column}: {r.reason}" for r in first.itertuples()
        )
        more = len(report.problems) - len(first)
        valid = report.rows - report.rejected
        super().__init__(
            f"nothing imported: {report.rejected:,} of {report.rows:,} {report.row_label}s have "
            f"problems ({examples}{f'; and {more:,} more' if more > 0 else ''}). Fix them, or "
            f"use --skip-invalid (API: skip_invalid=true) to load the other {valid:,}",
            rows=report.as_dict()["problems"],
            report=report.as_dict(limit=0),
        )
        self.report = report


def problems_frame(rows, columns, values, reasons) -> pd.DataFrame:
    """A problems table from parallel sequences, in row order."""
    frame = pd.DataFrame(
        {"row": rows, "column": columns, "value": values, "reason": reasons},
        columns=list(PROBLEM_COLUMNS),
    )
    return frame

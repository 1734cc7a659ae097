"""Columns of an import: each kind's fields, the headers they are known by (English and
Chinese), the user's mapping override, and vectorised parsing of cells into values with a
reason for every cell that cannot be read.

    >>> mapping = match_columns(["经度", "纬度", "名称"], FIELDS, override={})   # doctest: +SKIP
    {'经度': 'lon', '纬度': 'lat', '名称': 'name_zh'}
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time

import numpy as np
import pandas as pd

from geo.core.errors import InvalidInput
from geo.core.terms import BEIJING_ISO

#: a header mapped to this is ignored
IGNORE = "-"


@dataclass(frozen=True)
class Field:
    """One field of an import kind: its name, what it holds and the headers it is known by.

    kind: text, number, date, datetime (naive times are Beijing time), bool or choice
    (`choices` maps what people write, lower-cased, to the stored value)."""

    name: str
    kind: str = "text"
    required: bool = False
    aliases: tuple[str, ...] = ()
    max_length: int | None = None
    choices: Mapping[str, str] | None = None
    label: str = ""
    default: str | None = None  # stored when the cell is empty (choice and text fields)

    def shown(self) -> str:
        return f"{self.name} ({self.label})" if self.label else self.name


LON = Field(
    "lon",
    "number",
    aliases=(
        "lng",
        "long",
        "longitude",
        "x",
        "经度",
        "东经",
        "x坐标",
        "坐标x",
        "gcj经度",
        "bd经度",
    ),
    label="经度",
)
LAT = Field(
    "lat",
    "number",
    aliases=("latitude", "y", "纬度", "北纬", "y坐标", "坐标y", "gcj纬度", "bd纬度"),
    label="纬度",
)
#: headers that are never data (a row counter), ignored unless mapped
ALWAYS_IGNORED = ("序号", "no", "#", "index", "fid", "ogc_fid", "objectid")


def normalise(header: str) -> str:
    """A header as compared: lower case, a parenthesised note dropped, no spaces or
    punctuation (`经度（GCJ-02）` → `经度`, `Household ID` → `householdid`)."""
    text = str(header).strip().lower()
    text = re.sub(r"[（(【\[].*?[）)】\]]", "", text)
    return re.sub(r"[\s_\-./:：、·*]+", "", text)


def parse_mapping(value: str | Sequence[str] | Mapping[str, str] | None) -> dict[str, str]:
    """The user's column mapping from `HEADER=field,HEADER=field`, a JSON object, or a
    list of `HEADER=field` items; `HEADER=-` ignores a column."""
    if not value:
        return {}
    if isinstance(value, Mapping):
        return {str(k): str(v) for k, v in value.items()}
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("{"):
            try:
                loaded = json.loads(text)
            except json.JSONDecodeError as exc:
                raise InvalidInput(
                    f"the column mapping is malformed JSON ({exc.msg} at column {exc.colno})",
                    where="columns",
                ) from None
            if not isinstance(loaded, dict):
                raise InvalidInput("the column mapping must be a JSON object", where="columns")
            return {str(k): str(v) for k, v in loaded.items()}
        items = [part for part in re.split(r"[,，;\n]", text) if part.strip()]
    else:
        items = [part for v in value for part in re.split(r"[,，;\n]", v) if part.strip()]
    mapping = {}
    for item in items:
        header, sep, target = item.partition("=")
        if not sep or not header.strip():
            raise InvalidInput(
                f"column mapping item {item.strip()!r} should read HEADER=field "
                "(or HEADER=- to ignore the column)",
                where="columns",
            )
        mapping[header.strip()] = target.strip() or IGNORE
    return mapping


def match_columns(
    headers: Sequence[str], fields: Sequence[Field], override: Mapping[str, str], kind: str
) -> dict[str, str]:
    """header → field name for every header of the file, by the user's override first, then
    by name and known aliases. Raises InvalidInput for unknown, doubled or missing columns."""
    by_name = {f.name: f for f in fields}
    known: dict[str, str] = {}
    for f in fields:
        for alias in (f.name, *f.aliases):
            known.setdefault(normalise(alias), f.name)
    present = {normalise(h): h for h in headers}
    mapping: dict[str, str] = {}
    for header, target in override.items():
        actual = header if header in headers else present.get(normalise(header))
        if actual is None:
            raise InvalidInput(
                f"the column mapping names {header!r}, which the file does not have; its "
                f"columns: {', '.join(headers)}",
                where="columns",
            )
        if target != IGNORE and target not in by_name:
            raise InvalidInput(
                f"the column mapping sends {header!r} to {target!r}, which is not a field of "
                f"{kind}; fields: {', '.join(by_name)}",
                where="columns",
            )
        mapping[actual] = target
    unknown = []
    for header in headers:
        if header in mapping:
            continue
        key = normalise(header)
        if key in known:
            mapping[header] = known[key]
        elif key in ALWAYS_IGNORED:
            mapping[header] = IGNORE
        else:
            unknown.append(header)
    if unknown:
        names = ", ".join(repr(h) for h in unknown)
        first = unknown[0]
        raise InvalidInput(
            f"unknown column(s) for {kind}: {names}. Map each to a field with --columns "
            f"'{first}=FIELD' or ignore it with --columns '{first}=-'; fields of {kind}: "
            + ", ".join(f.shown() for f in fields),
            where="columns",
            unknown=unknown,
        )
    targets: dict[str, list[str]] = {}
    for header, target in mapping.items():
        if target != IGNORE:
            targets.setdefault(target, []).append(header)
    doubled = {t: hs for t, hs in targets.items() if len(hs) > 1}
    if doubled:
        t, hs = next(iter(doubled.items()))
        raise InvalidInput(
            f"columns {', '.join(repr(h) for h in hs)} all mean {t}; keep one, or map the "
            f"others elsewhere with --columns '{hs[1]}=-'",
            where="columns",
        )
    return mapping


def missing_fields(fields: Sequence[Field], mapped: set[str]) -> list[Field]:
    return [f for f in fields if f.required and f.name not in mapped]


# -- cells to values ------------------------------------------------------------------


@dataclass
class Parsed:
    """A column's values (NaN/NaT/None where empty) and a reason per unreadable cell."""

    values: pd.Series
    problems: pd.Series  # object: None or a sentence
    empty: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))


def as_text(column: pd.Series) -> pd.Series:
    """Cells as stripped text ("" where empty): numbers from a spreadsheet without a
    spurious `.0`, dates as ISO strings."""
    if isinstance(column.dtype, pd.StringDtype) or str(column.dtype).startswith("string"):
        return column.fillna("").str.strip()
    return column.map(_cell_text).astype("string").str.strip()


def _cell_text(value) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, date | time):
        return value.isoformat()
    return str(value)


_DATE_PARTS = [
    (r"\s*年\s*", "-"),
    (r"\s*月\s*", "-"),
    (r"\s*[日号]\s*", " "),
    (r"\s*[时點点]\s*", ":"),
    (r"\s*分\s*", ":"),
    (r"\s*秒\s*", ""),
    (r"^(\d{4})[/.](\d{1,2})[/.](\d{1,2})", r"\1-\2-\3"),
]
_HAS_OFFSET = r"(?:[zZ]|[+-]\d{2}:?\d{2})$"
#: imports read naive times as Beijing time (China has one time zone, no DST)
LOCAL_TZ = BEIJING_ISO


#: ISO 8601 as spreadsheets and systems export it: such cells need no rewriting
_ISO = r"\d{4}-\d{2}-\d{2}(?:[ T]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:[zZ]|[+-]\d{2}:?\d{2})?)?"


def _date_text(text: pd.Series) -> pd.Series:
    """Dates and times as people write them, rewritten to ISO 8601 (cells already in ISO
    form are left as they are, which keeps a million-row file fast)."""
    iso = text.str.fullmatch(_ISO).fillna(False).to_numpy(dtype=bool)
    if iso.all():
        return text
    rest = _rewrite_dates(text[~iso])
    out = text.astype(object)
    out[~iso] = rest.astype(object)
    return out.astype(text.dtype)


def _rewrite_dates(text: pd.Series) -> pd.Series:
    for pattern, replacement in _DATE_PARTS:
        text = text.str.replace(pattern, replacement, regex=True)
    text = text.str.strip().str.replace(r":$", "", regex=True)
    # 2024-3-5 → 2024-03-05, 8:05 → 08:05
    text = text.str.replace(r"^(\d{4})-(\d)(?=\D|$)", r"\1-0\2", regex=True)
    text = text.str.replace(r"^(\d{4}-\d{2})-(\d)(?=\D|$)", r"\1-0\2", regex=True)
    text = text.str.replace(r"([ T]\d{1,2})$", r"\1:00", regex=True)  # 9时 → 9:00
    return text.str.replace(r"(?<=[ T])(\d):", r"0\1:", regex=True)


def parse(f: Field, column: pd.Series) -> Parsed:
    """Parse one column by its field's kind; empty cells are values missing, not problems
    (except for required fields)."""
    text = as_text(column)
    empty = (text == "").to_numpy(dtype=bool)
    problems = pd.Series(None, index=column.index, dtype=object)
    if f.kind == "text":
        values = text.where(~empty, None)
        if f.max_length:
            long = (text.str.len() > f.max_length).to_numpy(dtype=bool)
            problems[long] = f"longer than {f.max_length} characters"
    elif f.kind == "number":
        values = pd.to_numeric(text.where(~empty, None), errors="coerce").astype(float)
        problems[~empty & values.isna().to_numpy()] = "not a number"
    elif f.kind == "datetime":
        raw = _date_text(text.where(~empty, ""))
        raw = raw.where(~raw.str.fullmatch(r"\d{4}-\d{2}-\d{2}"), raw + " 00:00")
        has_offset = raw.str.contains(_HAS_OFFSET, regex=True)
        raw = raw.where(has_offset | (raw == ""), raw + LOCAL_TZ)
        values = pd.to_datetime(
            raw.where(~empty, None), format="ISO8601", errors="coerce", utc=True
        )
        problems[~empty & values.isna().to_numpy()] = (
            "not a date and time (write e.g. 2026-03-05 14:30)"
        )
    elif f.kind == "date":
        raw = _date_text(text.where(~empty, "")).str.replace(r"[ T]00:00(?::00)?$", "", regex=True)
        values = pd.to_datetime(raw.where(~empty, None), format="%Y-%m-%d", errors="coerce")
        problems[~empty & values.isna().to_numpy()] = "not a date (write e.g. 2026-03-05)"
        values = values.dt.date.where(values.notna(), None).astype(object)
    elif f.kind == "bool":
        lowered = text.str.lower()
        values = lowered.map(_BOOL).astype(object)
        problems[~empty & values.isna().to_numpy()] = "not yes/no (是/否, true/false, 1/0)"
        values = values.where(~empty, None)
    elif f.kind == "choice":
        lowered = text.str.lower().str.replace(r"\s+", " ", regex=True)
        codes, uniques = pd.factorize(lowered)  # map each distinct spelling once
        known = dict(f.choices or {})
        mapped = np.array([known.get(u) for u in uniques] + [None], dtype=object)
        values = pd.Series(mapped[codes], index=column.index, dtype=object)
        shown = sorted(set((f.choices or {}).values()))
        problems[~empty & values.isna().to_numpy()] = "not one of: " + ", ".join(shown)
        values = values.where(~empty, None)
    else:  # pragma: no cover - a programming error
        raise ValueError(f"unknown field kind {f.kind}")
    if f.default is not None:
        values = values.where(~empty, f.default)
    elif f.required:
        problems[empty] = "required, but empty"
    nul = text.str.contains("\x00", regex=False).to_numpy(dtype=bool)
    if nul.any():  # PostgreSQL text cannot hold it; usually a binary file saved as text
        problems[nul] = "contains a NUL character (\\x00); remove it"
        values = values.where(~nul, None)
    return Parsed(values, problems, empty)


_BOOL = {
    "是": True,
    "有": True,
    "已建": True,
    "true": True,
    "yes": True,
    "y": True,
    "1": True,
    "√": True,
    "否": False,
    "无": False,
    "没有": False,
    "未建": False,
    "false": False,
    "no": False,
    "n": False,
    "0": False,
    "×": False,
}


def choices_of(values: Mapping[str, Sequence[str]]) -> dict[str, str]:
    """What people may write for each stored value (the code and its names), lower-cased:
    `choices_of({"shop": ["商业门店", "shop"]})`."""
    out: dict[str, str] = {}
    for stored, names in values.items():
        for name in (stored, *names):
            out[str(name).strip().lower()] = stored
    return out

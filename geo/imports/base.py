"""The import registry: every KIND of `gridmap import KIND FILE` and `POST /api/imports/{kind}`
is an `Importer` registered here, so the CLI and the API offer exactly the same kinds.

A kind gets the file already read into a `Table` (cells, row numbers, geometries) and the
user's options; it checks, writes in the caller's transaction and returns an
`ImportReport`, or raises `ImportRejected` (nothing written). A new kind — boundaries, say —
is a class with `kind`, `label`, `steps` and `load(...)`, registered with `register(...)`;
kind-specific options (`--level`) arrive in `options.params`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from sqlalchemy.engine import Connection

from geo.core.errors import InvalidInput
from geo.imports.columns import parse_mapping
from geo.imports.report import ImportReport
from geo.imports.source import Table

#: called with the name of each step as an import reaches it
Progress = Callable[[str], None]


@dataclass
class ImportOptions:
    """What the user chose: coordinate system, skip bad rows, column mapping, sheet/layer,
    kind-specific parameters (e.g. `{"level": "sector"}` for boundaries) and who imports."""

    crs: str | None = None
    skip_invalid: bool = False
    columns: dict[str, str] = field(default_factory=dict)
    sheet: str | None = None
    params: dict[str, str] = field(default_factory=dict)
    actor: str = "import"

    @classmethod
    def chosen(
        cls,
        actor: str,
        crs: str | None = None,
        skip_invalid: bool = False,
        columns: str | list[str] | None = None,
        sheet: str | None = None,
        level: str | None = None,
    ) -> ImportOptions:
        """The options as `gridmap import` and `POST /api/imports/{kind}` take them: the
        column mapping as text (`HEADER=field,...` or JSON), the boundary `level` if any."""
        return cls(
            crs=crs,
            skip_invalid=skip_invalid,
            columns=parse_mapping(columns),
            sheet=sheet,
            params={"level": level} if level else {},
            actor=actor,
        )


class Importer(Protocol):
    kind: str
    #: (Chinese, English) name of what is imported
    label: tuple[str, str]
    #: the steps `load` reports through `progress`, in order
    steps: tuple[str, ...]
    #: kind-specific parameters it accepts in `options.params`
    params: tuple[str, ...]

    def load(
        self,
        conn: Connection,
        table: Table,
        source: str,
        options: ImportOptions,
        progress: Progress,
    ) -> ImportReport: ...


KINDS: dict[str, Importer] = {}


def register(importer: Importer) -> Importer:
    """Make `importer.kind` importable from the CLI and the API."""
    KINDS[importer.kind] = importer
    return importer


def importer_for(kind: str) -> Importer:
    """The importer of `kind`, or InvalidInput naming the kinds there are."""
    if kind not in KINDS:
        raise InvalidInput(f"cannot import {kind!r}; kinds: {', '.join(KINDS)}", field="kind")
    return KINDS[kind]


def check_params(importer: Importer, options: ImportOptions) -> None:
    extra = sorted(set(options.params) - set(importer.params))
    if extra:
        raise InvalidInput(
            f"--{extra[0]} does not apply to {importer.kind} imports", where=extra[0]
        )

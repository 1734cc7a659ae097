"""The README is the user's reference: every setting the service reads and every
command the CLI offers is in its tables, with the default the code actually uses."""

from __future__ import annotations

import re
from pathlib import Path

import typer.main

from geo.core.settings import Settings
from geo.ops.cli import app

README = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")


def table_rows(heading: str) -> dict[str, list[str]]:
    """The first Markdown table under `heading`: first cell (backticks stripped) → cells."""
    section = README.split(f"\n{heading}\n", 1)[1]
    rows: dict[str, list[str]] = {}
    for line in section.splitlines():
        if line.startswith("## "):
            break
        if line.startswith("| `"):
            cells = [c.strip() for c in line.strip("|").split("|")]
            rows[cells[0].strip("`")] = cells
    return rows


def test_every_setting_is_in_the_environment_table_with_its_default():
    rows = table_rows("## Environment")
    for name, field in Settings.model_fields.items():
        variable = f"GRIDMAP_{name.upper()}"
        assert variable in rows, f"{variable} is missing from the README's Environment table"
        default = field.get_default(call_default_factory=True)
        if isinstance(default, int | float) and not isinstance(default, bool):
            numbers = re.findall(r"[\d.]+", rows[variable][1].replace(",", ""))
            assert float(numbers[0]) == float(default), (variable, rows[variable][1], default)


def test_every_cli_command_is_in_the_command_table():
    commands = list(table_rows("## Command line"))
    group = typer.main.get_command(app)
    for name, command in group.commands.items():
        rows = [c for c in commands if c.startswith(f"gridmap {name}")]
        assert rows, f"`gridmap {name}` is missing from the README's Command line table"
        for sub in getattr(command, "commands", {}):
            assert any(re.search(rf"\b{sub}\b", row) for row in rows), (
                f"`gridmap {name} {sub}` is missing from the README's Command line table"
            )

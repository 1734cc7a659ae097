"""Every package `geo/` and `api/` import is declared in pyproject.toml (not merely pulled
in by another one), so a fresh install has it."""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FIRST_PARTY = {"geo", "api", "tests", "bench"}


def imported_top_level(*packages: str) -> dict[str, str]:
    """Top-level module → one file importing it, over every .py file of `packages`."""
    found: dict[str, str] = {}
    for package in packages:
        for path in sorted((ROOT / package).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names = [node.module]
                else:
                    continue
                for name in names:
                    found.setdefault(name.split(".")[0], str(path.relative_to(ROOT)))
    return found


def declared(group: str | None = None) -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    specs = project["dependencies"] if group is None else project["optional-dependencies"][group]
    return {
        re.split(r"[<>=!~\[; ]", spec, maxsplit=1)[0].lower().replace("_", "-") for spec in specs
    }


def undeclared(modules: dict[str, str], allowed: set[str]) -> list[str]:
    distributions = packages_distributions()
    missing = []
    for module, where in sorted(modules.items()):
        if module in sys.stdlib_module_names or module in FIRST_PARTY or module == "__future__":
            continue
        names = {d.lower().replace("_", "-") for d in distributions.get(module, [module])}
        if not names & allowed:
            missing.append(f"{module} ({'/'.join(sorted(names))}, imported in {where})")
    return missing


def test_every_package_the_service_imports_is_a_declared_dependency():
    assert undeclared(imported_top_level("geo", "api"), declared()) == []


def test_every_package_the_tests_import_is_declared_for_tests():
    allowed = declared() | declared("test")
    assert undeclared(imported_top_level("tests", "bench"), allowed) == []

"""The shape of `geo/`: capability packages whose dependencies point one way, no web
framework below `api/`, and functions short enough to read in one sitting. Read from the
source with `ast`, imports inside functions included."""

from __future__ import annotations

import ast
from pathlib import Path

GEO = Path(__file__).resolve().parents[1] / "geo"
PACKAGES = (
    "core",
    "grid",
    "access",
    "cases",
    "people",
    "insight",
    "publish",
    "ops",
    "imports",
    "planning",
    "maps",
    "synth",
    "notify",
)
#: the longest a function of geo/ may be, in lines (decorators and docstring included)
MAX_FUNCTION_LINES = 80


def _sources():
    for path in sorted(GEO.rglob("*.py")):
        yield path, ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def _imported(tree: ast.AST) -> set[str]:
    """Every module name an import anywhere in the tree (functions included) names."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def _package_of(path: Path) -> str | None:
    parts = path.relative_to(GEO).parts
    return parts[0] if len(parts) > 1 else None


def _package_graph() -> dict[str, set[str]]:
    """package → the other packages of geo it imports."""
    graph: dict[str, set[str]] = {p: set() for p in PACKAGES}
    for path, tree in _sources():
        package = _package_of(path)
        if package not in graph:
            continue
        for name in _imported(tree):
            parts = name.split(".")
            if parts[0] == "geo" and len(parts) > 1 and parts[1] in graph and parts[1] != package:
                graph[package].add(parts[1])
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every package that can reach itself, with one path back to it."""
    found = []
    for start in graph:
        stack, seen = [(start, [start])], set()
        while stack:
            node, path = stack.pop()
            for nxt in sorted(graph[node]):
                if nxt == start:
                    found.append([*path, start])
                    stack = []
                    break
                if nxt not in seen:
                    seen.add(nxt)
                    stack.append((nxt, [*path, nxt]))
    return found


def test_geo_never_imports_a_web_framework():
    offenders = [
        f"{path.relative_to(GEO.parent)}: {name}"
        for path, tree in _sources()
        for name in sorted(_imported(tree))
        if name.split(".")[0] in {"fastapi", "starlette"}
    ]
    assert offenders == []


def test_every_module_of_geo_lies_in_a_known_package():
    loose = [
        str(path.relative_to(GEO))
        for path, _ in _sources()
        if _package_of(path) not in (*PACKAGES, "migrations") and path.name != "__init__.py"
    ]
    assert loose == []


def test_core_imports_nothing_else_of_geo():
    assert _package_graph()["core"] == set()


def test_no_package_of_geo_imports_one_that_depends_on_it():
    graph = _package_graph()
    assert _cycles(graph) == [], graph


def test_the_cycle_finder_finds_a_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [
        ["a", "b", "c", "a"],
        ["b", "c", "a", "b"],
        ["c", "a", "b", "c"],
    ]


def test_no_function_of_geo_is_longer_than_80_lines():
    offenders = [
        f"{path.relative_to(GEO.parent)}:{node.lineno} {node.name} "
        f"({node.end_lineno - node.lineno + 1} lines)"
        for path, tree in _sources()
        if _package_of(path) != "migrations"
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and node.end_lineno - node.lineno + 1 > MAX_FUNCTION_LINES
    ]
    assert offenders == []

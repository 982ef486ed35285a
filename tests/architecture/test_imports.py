"""The shape of the code, read from its imports: no import circles, deck -> sandbox only one way, small modules.

Run on its own with `.venv/bin/pytest tests/architecture`. Imports inside
functions count too: a lazy import is still a circle a reader has to follow.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("config", "deck", "sandbox", "rooms", "workshop", "provision", "ops")
LINES_MAX = 400


def _modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            if "migrations" in path.parts:
                continue
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


MODULES = _modules()


def _imports(name: str, path: Path) -> set[str]:
    """The project modules `name` imports (anywhere in it), each resolved to the module file it names."""
    edges = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            targets = [f"{node.module}.{alias.name}" for alias in node.names] + [node.module]
        else:
            continue
        for target in targets:
            while target and target not in MODULES:
                target = target.rpartition(".")[0]
            if target and target != name:
                edges.add(target)
    return edges


GRAPH = {name: _imports(name, path) for name, path in MODULES.items()}


def _cycles() -> list[list[str]]:
    """Every strongly connected group of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in GRAPH[node]:
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for node in sorted(GRAPH):
        if node not in index:
            visit(node)
    return groups


def test_the_project_has_python_packages_to_check():
    assert "deck.parser" in MODULES and "sandbox.backends.base" in MODULES


def test_no_module_imports_itself_back_through_others():
    assert _cycles() == []


def test_the_cycle_finder_sees_a_circle():
    GRAPH["deck.parser"].add("sandbox.backends.base")
    GRAPH["sandbox.backends.base"].add("deck.parser")
    try:
        assert ["deck.parser", "sandbox.backends.base"] in _cycles()
    finally:
        GRAPH["deck.parser"].discard("sandbox.backends.base")
        GRAPH["sandbox.backends.base"].discard("deck.parser")


@pytest.mark.parametrize("name", sorted(name for name in MODULES if name.split(".")[0] == "deck"))
def test_the_deck_imports_nothing_from_the_sandbox(name):
    assert not {target for target in GRAPH[name] if target.split(".")[0] == "sandbox"}


def _python_files() -> list[Path]:
    skip = {".venv", "node_modules", ".git", "migrations"}
    return sorted(p for p in ROOT.rglob("*.py") if not skip & set(p.relative_to(ROOT).parts))


@pytest.mark.parametrize("path", _python_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_a_module_stays_readable_in_one_sitting(path):
    lines = len(path.read_text().splitlines())
    assert lines <= LINES_MAX, f"{path.relative_to(ROOT)} has {lines} lines; split it by responsibility"

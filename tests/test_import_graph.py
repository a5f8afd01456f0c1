"""No import cycle anywhere in ircmd/: the layers point one way (DESIGN: Layout).

The graph is read from the source with `ast`, not by importing: every `import`
and `from ... import` of an ircmd module, relative ones resolved, at module level
and inside functions alike (a function-level import is still an arrow: it only
moves the cycle to run time). Imports under `if TYPE_CHECKING:` are left out:
they never run, and naming a type is no dependency of behaviour.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent / "ircmd"


def module_name(path: Path) -> str:
    parts = ["ircmd", *path.relative_to(ROOT).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(tree: ast.AST) -> list[ast.Import | ast.ImportFrom]:
    """Every import statement, at any depth, except under `if TYPE_CHECKING:`."""
    found: list[ast.Import | ast.ImportFrom] = []

    def walk(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _is_type_checking(child):
                for alt in child.orelse:
                    walk(alt)
                continue
            if isinstance(child, ast.Import | ast.ImportFrom):
                found.append(child)
            walk(child)

    walk(tree)
    return found


def imports_of(path: Path, modules: set[str]) -> set[str]:
    """The ircmd modules that `path` imports (a package counts for `from pkg import mod`
    only when `mod` is a module of its own, else the package itself)."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    targets: set[str] = set()
    for node in _imports(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets.update(alias.name for alias in node.names)
            continue
        if node.level:
            base = package.split(".")
            base = base[: len(base) - (node.level - 1)]
            origin = ".".join([*base, node.module] if node.module else base)
        else:
            origin = node.module or ""
        for alias in node.names:
            sub = f"{origin}.{alias.name}"
            targets.add(sub if sub in modules else origin)
    return {t for t in targets if t in modules and t != name}


def import_graph() -> dict[str, set[str]]:
    paths = sorted(ROOT.rglob("*.py"))
    modules = {module_name(p) for p in paths}
    return {module_name(p): imports_of(p, modules) for p in paths}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle as a path that ends where it starts, or None (depth-first search)."""
    done: set[str] = set()
    path: list[str] = []
    on_path: set[str] = set()

    def visit(node: str) -> list[str] | None:
        path.append(node)
        on_path.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt in on_path:
                return [*path[path.index(nxt) :], nxt]
            if nxt not in done:
                cycle = visit(nxt)
                if cycle:
                    return cycle
        path.pop()
        on_path.discard(node)
        done.add(node)
        return None

    for start in sorted(graph):
        if start not in done:
            cycle = visit(start)
            if cycle:
                return cycle
    return None


def test_the_ircmd_import_graph_has_no_cycle() -> None:
    graph = import_graph()
    assert "ircmd.app" in graph and "ircmd.screens.command" in graph["ircmd.app"]
    assert find_cycle(graph) is None, " -> ".join(find_cycle(graph) or [])


TYPE_ONLY = "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .a import y\n"


@pytest.mark.parametrize(
    ("files", "cycle"),
    [
        ({"a": "import ircmd.b\n", "b": "from . import a\n"}, ["ircmd.a", "ircmd.b", "ircmd.a"]),
        (
            {"a": "from .b import x\n", "b": "def f():\n    from .a import y\n"},
            ["ircmd.a", "ircmd.b", "ircmd.a"],
        ),
        ({"a": "from .b import x\n", "b": TYPE_ONLY}, None),
        (
            {"a": "from .sub.c import x\n", "sub/__init__": "", "sub/c": "from ..a import y\n"},
            ["ircmd.a", "ircmd.sub.c", "ircmd.a"],
        ),
        ({"a": "from .sub import c\n", "sub/__init__": "", "sub/c": "import ircmd.b\n"}, None),
    ],
)
def test_the_graph_sees_every_kind_of_import(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, files: dict[str, str], cycle: list[str] | None
) -> None:
    """The detector itself can fail: module-level, relative, function-level and nested
    package imports make cycles; an import under TYPE_CHECKING does not."""
    root = tmp_path / "ircmd"
    for name, body in {"__init__": "", "b": "", **files}.items():
        file = root / f"{name}.py"
        file.parent.mkdir(parents=True, exist_ok=True)
        file.write_text(body)
    monkeypatch.setattr(sys.modules[__name__], "ROOT", root)
    assert find_cycle(import_graph()) == cycle

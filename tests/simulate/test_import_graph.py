"""The simulator's modules import each other without a cycle, function-level imports included.

A cycle hidden behind an import inside a function (engine -> jobs -> engine, before) works until
someone moves the import to the top; this test reads every ``import`` of ``infra/simulate`` with
``ast`` (imports under ``if TYPE_CHECKING:`` do not run, so they do not count) and fails on any cycle.
It proves the import graph of this package only, not of the whole code base.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = "infra.simulate"
ROOT = Path(__file__).resolve().parents[2] / "infra" / "simulate"


def _runtime_imports(tree: ast.Module) -> list[ast.Import | ast.ImportFrom]:
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skipped |= {id(n) for stmt in node.body for n in ast.walk(stmt)}
    return [n for n in ast.walk(tree) if isinstance(n, ast.Import | ast.ImportFrom) and id(n) not in skipped]


def import_graph(root: Path = ROOT, package: str = PACKAGE) -> dict[str, set[str]]:
    modules = {f"{package}.{p.stem}" for p in root.glob("*.py") if p.stem != "__init__"}
    graph: dict[str, set[str]] = {}
    for module in sorted(modules):
        tree = ast.parse((root / f"{module.rsplit('.', 1)[1]}.py").read_text(encoding="utf-8"))
        edges: set[str] = set()
        for node in _runtime_imports(tree):
            if isinstance(node, ast.Import):
                edges |= {a.name for a in node.names if a.name in modules}
            elif node.module == package:  # from infra.simulate import handlers_uc
                edges |= {f"{package}.{a.name}" for a in node.names} & modules
            elif node.module in modules:
                edges.add(node.module)
        graph[module] = edges - {module}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    found: list[list[str]] = []
    state: dict[str, int] = {}  # 1 on the current path, 2 done

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                found.append([*path[path.index(nxt) :], nxt])
            elif nxt not in state:
                visit(nxt, [*path, nxt])
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    return found


def test_the_simulator_has_no_import_cycle() -> None:
    graph = import_graph()
    assert f"{PACKAGE}.jobs" not in graph[f"{PACKAGE}.engine"]
    assert cycles(graph) == []


def test_the_scan_sees_a_cycle_behind_a_function_level_import(tmp_path: Path) -> None:
    (tmp_path / "a.py").write_text("from pkg.b import x\n")
    (tmp_path / "b.py").write_text("def f():\n    from pkg.a import y\n")
    (tmp_path / "c.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg.a import z\n"
    )
    graph = import_graph(tmp_path, "pkg")
    assert cycles(graph) == [["pkg.a", "pkg.b", "pkg.a"]]
    assert graph["pkg.c"] == set()

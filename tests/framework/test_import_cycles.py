"""No harness module imports itself through others, and imports between packages point one way.

A lazy import inside a function hides a cycle from the interpreter until the function runs; the
graph here reads every import statement, wherever it is. Between packages (a top-level module
counts as one of its own) no two import each other, no cycle goes through several, and each
imports only those below it in the order ``test_framework/__init__.py`` documents.
"""

from __future__ import annotations

import ast
import itertools
import re
from collections import deque
from pathlib import Path

import test_framework

ROOT = Path(__file__).resolve().parents[2]


def module_names(package: Path) -> dict[str, Path]:
    """Dotted name -> file, for every module under ``package`` (a package is its __init__)."""
    names = {}
    for path in sorted(package.rglob("*.py")):
        parts = path.relative_to(package.parent).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        names[".".join(parts)] = path
    return names


def imported_modules(name: str, path: Path, known: dict[str, Path]) -> set[str]:
    """The modules of ``known`` that ``name`` imports anywhere in its file."""
    is_package = path.name == "__init__.py"
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text("utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                anchor = name.split(".")
                anchor = anchor[: len(anchor) - node.level + (1 if is_package else 0)]
                base = ".".join([*anchor, *([node.module] if node.module else [])])
            else:
                base = node.module or ""
            for alias in node.names:
                # ``from package import module`` imports the module, not only the package.
                submodule = f"{base}.{alias.name}"
                found.add(submodule if submodule in known else base)
    return {m for m in found if m in known}


def import_graph(package: Path) -> dict[str, set[str]]:
    known = module_names(package)
    return {name: imported_modules(name, path, known) for name, path in known.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One shortest cycle through each strongly connected group of modules (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[set[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph[node]):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            group = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.add(member)
                if member == node:
                    break
            if len(group) > 1 or node in graph[node]:
                groups.append(group)

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return [shortest_cycle(graph, group) for group in groups]


def shortest_cycle(graph: dict[str, set[str]], group: set[str]) -> list[str]:
    start = min(group)
    came_from: dict[str, str] = {}
    queue = deque([start])
    while queue:
        node = queue.popleft()
        for target in sorted(graph[node] & group):
            if target == start:
                path = [node]
                while path[-1] != start:
                    path.append(came_from[path[-1]])
                return [*reversed(path), start]
            if target not in came_from:
                came_from[target] = node
                queue.append(target)
    raise AssertionError(f"no cycle through {start} in {sorted(group)}")


def test_no_harness_module_imports_itself_through_other_modules() -> None:
    found = cycles(import_graph(ROOT / "test_framework"))
    assert not found, "import cycles (move what both need to a module both can import):\n" + (
        "\n".join("  " + " -> ".join(cycle) for cycle in found)
    )


def test_a_cycle_through_an_import_inside_a_function_is_found(tmp_path: Path) -> None:
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "verdict.py").write_text("from pkg.report import render\n")
    (package / "report.py").write_text("def render():\n    from pkg import verdict\n")
    (package / "alone.py").write_text("from . import report\n")

    assert cycles(import_graph(package)) == [["pkg.report", "pkg.verdict", "pkg.report"]]


# Between packages --------------------------------------------------------------------------


def unit(module: str) -> str:
    """``pkg.sub.mod`` -> ``pkg.sub``: a module's package below the root, or a top-level module."""
    return ".".join(module.split(".")[:2])


def package_imports(graph: dict[str, set[str]]) -> dict[tuple[str, str], list[str]]:
    """(importer, imported) package -> the module imports that make the edge, as ``a -> b``."""
    edges: dict[tuple[str, str], list[str]] = {}
    for module, targets in sorted(graph.items()):
        for target in sorted(targets):
            if unit(module) != unit(target):
                edges.setdefault((unit(module), unit(target)), []).append(f"{module} -> {target}")
    return edges


def mutual_packages(graph: dict[str, set[str]]) -> list[str]:
    """Each pair of packages that import each other, with the module imports both ways."""
    edges = package_imports(graph)
    found = []
    for (one, other), imports in sorted(edges.items()):
        if one < other and (other, one) in edges:
            lines = [*imports, *edges[other, one]]
            found.append(f"{one} <-> {other}:\n" + "\n".join("    " + line for line in lines))
    return found


def package_cycles(graph: dict[str, set[str]]) -> list[str]:
    """One shortest cycle through each group of packages that import each other, with the
    module imports along it."""
    edges = package_imports(graph)
    units: dict[str, set[str]] = {unit(module): set() for module in graph}
    for one, other in edges:
        units[one].add(other)
    found = []
    for cycle in cycles(units):
        steps = itertools.pairwise(cycle)
        found.append(
            " -> ".join(cycle) + ":\n" + "\n".join("    " + edges[step][0] for step in steps)
        )
    return found


def documented_order(docstring: str, units: set[str], root: str) -> dict[str, int]:
    """Package -> its rank in the docstring's numbered list (``1. ``errors``, ...``)."""
    rank: dict[str, int] = {}
    for number, item in re.findall(r"^(\d+)\. (.*?)(?=^\d+\. |\Z)", docstring, re.M | re.S):
        for name in re.findall(r"``(\w+)``", item):
            if f"{root}.{name}" in units:
                rank.setdefault(f"{root}.{name}", int(number))
    return rank


def against_the_order(graph: dict[str, set[str]], rank: dict[str, int]) -> list[str]:
    """The module imports that point up the order, or between two packages of one rank."""
    return [
        line
        for (one, other), imports in sorted(package_imports(graph).items())
        if one in rank and other in rank and rank[other] >= rank[one] and rank[one] > 1
        for line in imports
    ]


def test_no_two_harness_packages_import_each_other() -> None:
    found = mutual_packages(import_graph(ROOT / "test_framework"))
    assert not found, (
        "packages that import each other (move what both need to a module below both):\n"
        + "\n".join("  " + pair for pair in found)
    )


def test_no_harness_package_imports_itself_through_other_packages() -> None:
    found = package_cycles(import_graph(ROOT / "test_framework"))
    assert not found, "package cycles:\n" + "\n".join("  " + cycle for cycle in found)


def test_each_harness_package_imports_only_those_below_it_in_the_documented_order() -> None:
    graph = import_graph(ROOT / "test_framework")
    units = {unit(module) for module in graph} - {"test_framework", "test_framework.__main__"}
    rank = documented_order(test_framework.__doc__ or "", units, "test_framework")
    assert sorted(units - set(rank)) == [], "not in test_framework/__init__.py's order"
    upward = against_the_order(graph, rank)
    assert not upward, (
        "imports up (or across) the order test_framework/__init__.py documents:\n"
        + "\n".join("  " + line for line in upward)
    )


def test_two_packages_importing_each_other_are_found_with_the_imports_that_do_it(
    tmp_path: Path,
) -> None:
    package = tmp_path / "pkg"
    for folder in ("client", "backends", "engine"):
        (package / folder).mkdir(parents=True)
        (package / folder / "__init__.py").write_text("")
    (package / "__init__.py").write_text("")
    (package / "client" / "agent.py").write_text(
        "def connect():\n    from pkg.backends import base\n"
    )
    (package / "backends" / "base.py").write_text("")
    (package / "backends" / "staging.py").write_text("from pkg.client.agent import connect\n")
    (package / "engine" / "compose.py").write_text("from pkg.client import agent\n")

    graph = import_graph(package)

    assert cycles(graph) == []  # no module cycle: only the packages import each other
    assert mutual_packages(graph) == [
        "pkg.backends <-> pkg.client:\n"
        "    pkg.backends.staging -> pkg.client.agent\n"
        "    pkg.client.agent -> pkg.backends.base"
    ]


def test_a_cycle_through_three_packages_is_found(tmp_path: Path) -> None:
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "probes.py").write_text("from pkg import ci\n")
    (package / "ci.py").write_text("from pkg import runners\n")
    (package / "runners.py").write_text("def decide():\n    from pkg.probes import x\n")

    graph = import_graph(package)

    assert mutual_packages(graph) == []
    assert package_cycles(graph) == [
        "pkg.ci -> pkg.runners -> pkg.probes -> pkg.ci:\n"
        "    pkg.ci -> pkg.runners\n"
        "    pkg.runners -> pkg.probes\n"
        "    pkg.probes -> pkg.ci"
    ]


def test_an_import_up_the_documented_order_is_found(tmp_path: Path) -> None:
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "errors.py").write_text("")
    (package / "client.py").write_text("from pkg import errors, settings\n")
    (package / "settings.py").write_text("from pkg import errors\n")
    order = "1. ``errors``;\n2. ``client``;\n3. ``settings``.\n"

    graph = import_graph(package)
    rank = documented_order(order, {unit(module) for module in graph}, "pkg")

    assert rank == {"pkg.errors": 1, "pkg.client": 2, "pkg.settings": 3}
    assert against_the_order(graph, rank) == ["pkg.client -> pkg.settings"]

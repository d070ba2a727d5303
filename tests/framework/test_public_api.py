"""The names a team is shown importing from the harness are its public API, declared in ``__all__``.

A team's imports are collected where the project shows them: the docs' code, the examples, the
shipped suite (tests/mission_critical) and the files ``init`` writes. Each name must be in its
module's ``__all__``, so removing one from ``__all__`` (or moving it) fails here first; and every
name in an ``__all__`` is defined in its module (a package may list its submodules), never
re-exported from another.
"""

from __future__ import annotations

import ast
import re
import textwrap
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

FROM_IMPORT = re.compile(
    r"^[ \t]*from[ \t]+(test_framework[\w.]*)[ \t]+import[ \t]+(\([^)]*\)|[^\n#]*)", re.M
)


def imports_in_text(text: str) -> Iterator[tuple[str, str]]:
    """(module, name) of each ``from test_framework... import`` statement in ``text``."""
    for module, names in FROM_IMPORT.findall(text):
        for name in names.strip("()").replace("\n", " ").split(","):
            if name.strip():
                yield module, name.split()[0]


def imports_in_python(source: str) -> Iterator[tuple[str, str]]:
    for node in ast.walk(ast.parse(source)):
        if (
            isinstance(node, ast.ImportFrom)
            and (node.module or "").split(".")[0] == "test_framework"
        ):
            yield from ((str(node.module), alias.name) for alias in node.names)


def imports_in_strings(source: str) -> Iterator[tuple[str, str]]:
    """The imports in a module's string constants: the files ``init`` writes."""
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            yield from imports_in_text(textwrap.dedent(node.value))


def documented_imports(root: Path) -> dict[tuple[str, str], list[str]]:
    """(module, name) -> the files that show a team importing it."""
    found: dict[tuple[str, str], list[str]] = {}

    def add(pairs: Iterator[tuple[str, str]], path: Path) -> None:
        for pair in pairs:
            found.setdefault(pair, []).append(str(path.relative_to(root)))

    pages = [*sorted(root.glob("docs/*.md")), root / "README.md"]
    for path in [*pages, *sorted(root.glob("examples/*/**/*.md"))]:
        if path.is_file() and "node_modules" not in path.parts:
            add(imports_in_text(path.read_text("utf-8")), path)
    for pattern in ("examples/**/*.py", "tests/mission_critical/**/*.py"):
        for path in sorted(root.glob(pattern)):
            if "node_modules" not in path.parts:
                add(imports_in_python(path.read_text("utf-8")), path)
    templates = root / "test_framework" / "scaffold" / "templates.py"
    add(imports_in_strings(templates.read_text("utf-8")), templates)
    return found


def module_file(root: Path, module: str) -> Path:
    path = root.joinpath(*module.split("."))
    return path / "__init__.py" if path.is_dir() else path.with_suffix(".py")


def declared(path: Path) -> list[str] | None:
    """The module's ``__all__``, or None when it has none."""
    for node in ast.parse(path.read_text("utf-8")).body:
        if isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if any(isinstance(t, ast.Name) and t.id == "__all__" for t in targets):
                assert node.value is not None, f"{path}: __all__ without a value"
                names = ast.literal_eval(node.value)
                assert isinstance(names, list), f"{path}: __all__ is not a list of names"
                return [str(name) for name in names]
    return None


def defined(path: Path) -> set[str]:
    """The names ``path`` binds at its top level itself (not by importing them), and, for a
    package, its submodules."""
    names: set[str] = set()
    for node in ast.parse(path.read_text("utf-8")).body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
    if path.name == "__init__.py":
        names.update(p.stem for p in path.parent.glob("*.py") if p.stem != "__init__")
        names.update(p.parent.name for p in path.parent.glob("*/__init__.py"))
    return names


def missing_from_all(root: Path, documented: dict[tuple[str, str], list[str]]) -> list[str]:
    problems = []
    for (module, name), where in sorted(documented.items()):
        path = module_file(root, module)
        names = declared(path) if path.is_file() else None
        if names is None or name not in names:
            shown = ", ".join(sorted(set(where)))
            reason = "no such module" if not path.is_file() else "not in its __all__"
            problems.append(f"{module}.{name} ({reason}), imported in {shown}")
    return problems


def undefined_in_all(package: Path) -> list[str]:
    problems = []
    for path in sorted(package.rglob("*.py")):
        names = declared(path)
        if names is None:
            continue
        where = path.relative_to(package.parent)
        problems += [f"{where}: {name}" for name in names if name not in defined(path)]
        problems += [f"{where}: {name} twice" for name in set(names) if names.count(name) > 1]
    return problems


def test_every_name_a_team_is_shown_importing_is_in_its_modules_all() -> None:
    documented = documented_imports(ROOT)
    # The collection itself works: the names the docs and templates are known to show.
    assert {
        ("test_framework.client.authenticator", "AuthRequest"),
        ("test_framework.endpoints", "Endpoints"),
        ("test_framework.client.credentials", "Credentials"),
        ("test_framework.runners.nox_sessions", "define_sessions"),
        ("test_framework.client.agent", "RunResult"),
    } <= set(documented)
    problems = missing_from_all(ROOT, documented)
    assert not problems, "documented imports missing from __all__:\n" + "\n".join(
        "  " + line for line in problems
    )


def test_every_name_in_an_all_is_defined_in_its_module() -> None:
    problems = undefined_in_all(ROOT / "test_framework")
    assert not problems, "names in __all__ the module does not define:\n" + "\n".join(
        "  " + line for line in problems
    )


def test_a_documented_name_left_out_of_all_is_found(tmp_path: Path) -> None:
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "guide.md").write_text(
        "```python\nfrom test_framework.client.agent import (\n"
        "    AgentClient,\n    RunResult as R,\n)\n```\n"
        "  ```python\n  from test_framework.endpoints import Endpoints  # where to connect\n  ```\n"
    )
    package = tmp_path / "test_framework"
    (package / "client").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "client" / "__init__.py").write_text("")
    (package / "client" / "agent.py").write_text(
        '__all__ = ["AgentClient"]\n\nclass AgentClient: ...\n\nclass RunResult: ...\n'
    )
    (package / "endpoints.py").write_text("class Endpoints: ...\n")
    (package / "scaffold").mkdir()
    (package / "scaffold" / "templates.py").write_text("")

    documented = documented_imports(tmp_path)

    assert sorted(documented) == [
        ("test_framework.client.agent", "AgentClient"),
        ("test_framework.client.agent", "RunResult"),
        ("test_framework.endpoints", "Endpoints"),
    ]
    assert missing_from_all(tmp_path, documented) == [
        "test_framework.client.agent.RunResult (not in its __all__), imported in docs/guide.md",
        "test_framework.endpoints.Endpoints (not in its __all__), imported in docs/guide.md",
    ]


def test_a_name_in_all_that_the_module_only_imports_is_found(tmp_path: Path) -> None:
    package = tmp_path / "pkg"
    (package / "sub").mkdir(parents=True)
    (package / "__init__.py").write_text('__all__ = ["sub", "tool"]\n')
    (package / "sub" / "__init__.py").write_text("")
    (package / "tool.py").write_text(
        'from pkg.sub import Thing\n\n__all__ = ["Thing", "make", "LIMIT", "make"]\n\n'
        "LIMIT: int = 3\n\ndef make() -> None: ...\n"
    )

    assert undefined_in_all(package) == ["pkg/tool.py: Thing", "pkg/tool.py: make twice"]

"""The modules used before anything is installed import nothing outside the standard library.

The noxfile imports the settings, the probes and the ledger in nox's own interpreter, and runs
the gate and the CI matrix there too; the probe command answers on a machine with nothing
installed. A third-party import in any of these modules, even inside a function, breaks that.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

from test_framework.cli import COMMANDS

ROOT = Path(__file__).resolve().parents[2]

STDLIB_ONLY = (
    "test_framework",
    "test_framework.backends",
    "test_framework.backends.base",
    "test_framework.backends.process_records",
    "test_framework.backends.watchdog",
    "test_framework.ci",
    "test_framework.ci.cell",
    "test_framework.ci.matrix",
    "test_framework.ci.renderers",
    "test_framework.cli",
    "test_framework.client",
    "test_framework.client.availability",
    "test_framework.client.credentials",
    "test_framework.client.http_client",
    "test_framework.client.redaction",
    "test_framework.client.transcript",
    "test_framework.endpoints",
    "test_framework.engine",
    "test_framework.engine.compose",
    "test_framework.engine.compose_command",
    "test_framework.engine.compose_file",
    "test_framework.engine.daemon_address",
    "test_framework.engine.docker_api",
    "test_framework.engine.docker_host",
    "test_framework.engine.image_inputs",
    "test_framework.engine.labels",
    "test_framework.engine.step_clock",
    "test_framework.engine.version_cache",
    "test_framework.errors",
    "test_framework.given",
    "test_framework.launch",
    "test_framework.mode_specs",
    "test_framework.modes",
    "test_framework.probes",
    "test_framework.probes.command",
    "test_framework.probes.docker",
    "test_framework.probes.factory",
    "test_framework.probes.minimal",
    "test_framework.probes.result",
    "test_framework.probes.runner",
    "test_framework.probes.selection",
    "test_framework.probes.staging",
    "test_framework.probes.staging_walk",
    "test_framework.probes.wire",
    "test_framework.profiles",
    "test_framework.results",
    "test_framework.results.code",
    "test_framework.results.baseline",
    "test_framework.results.baseline_command",
    "test_framework.results.gate",
    "test_framework.results.junit",
    "test_framework.results.ledger",
    "test_framework.results.leftovers",
    "test_framework.results.matrix",
    "test_framework.results.parity",
    "test_framework.results.report_html",
    "test_framework.results.verdict",
    "test_framework.runners",
    "test_framework.runners.decision",
    "test_framework.runners.working_tree",
    "test_framework.runners.pipeline",
    "test_framework.scaffold",
    "test_framework.scaffold.command",
    "test_framework.scaffold.templates",
    "test_framework.service",
    "test_framework.settings",
    "test_framework.settings_table",
    "test_framework.sharding",
    "test_framework.wording",
)
# The nox helper runs in nox's own interpreter too, which has nox and what nox depends on.
NOX_HELPER = ("test_framework.runners.nox_sessions", "test_framework.runners.extras")
NOX_BRINGS = ("nox", "packaging")
# The subcommands nox runs in its own interpreter, or that answer before anything is installed.
BEFORE_INSTALL_COMMANDS = ("probe", "gate")

# Imports one module in a fresh interpreter (-I: no PYTHONPATH, no user site; -S: no
# site-packages) that sees the repository and the standard library, and prints every module that
# importing it loaded.
LOADED = """
import importlib, json, sys
root, name = sys.argv[1:]
sys.path.insert(0, root)
before = set(sys.modules)
importlib.import_module(name)
print(json.dumps(sorted(set(sys.modules) - before)))
"""


def loaded_by_import(root: Path, name: str) -> list[str]:
    done = subprocess.run(
        [sys.executable, "-I", "-S", "-c", LOADED, str(root), name],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, f"importing {name} with only the standard library:\n{done.stderr}"
    loaded: list[str] = json.loads(done.stdout)
    return loaded


def outside_stdlib(modules: list[str], harness: str) -> list[str]:
    return [m for m in modules if m.split(".")[0] not in sys.stdlib_module_names | {harness}]


def module_file(name: str) -> Path:
    path = ROOT.joinpath(*name.split("."))
    return path / "__init__.py" if path.is_dir() else path.with_suffix(".py")


def harness_imports(path: Path) -> set[str]:
    """Every module ``path`` imports, wherever the import statement is."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text("utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            for alias in node.names:
                submodule = f"{node.module}.{alias.name}"
                found.add(submodule if module_file(submodule).is_file() else node.module)
    return found


@pytest.mark.parametrize("name", STDLIB_ONLY)
def test_a_stdlib_only_module_loads_nothing_outside_the_standard_library(name: str) -> None:
    loaded = loaded_by_import(ROOT, name)

    assert outside_stdlib(loaded, "test_framework") == []
    harness = [m for m in loaded if m.split(".")[0] == "test_framework"]
    assert sorted(set(harness) - set(STDLIB_ONLY)) == [], f"{name} loads these: add them"


def test_no_stdlib_only_module_imports_anything_else_even_inside_a_function() -> None:
    wrong = [
        f"{name} imports {target}"
        for name in STDLIB_ONLY
        for target in sorted(harness_imports(module_file(name)))
        if target.split(".")[0] not in sys.stdlib_module_names and target not in STDLIB_ONLY
    ]

    assert wrong == []


def dash_m_modules(path: Path) -> set[str]:
    """The harness modules ``path`` names as strings, as ``python -m`` runs them."""
    return {
        node.value
        for node in ast.walk(ast.parse(path.read_text("utf-8")))
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and node.value.startswith("test_framework.")
    }


def test_what_the_noxfile_and_the_early_commands_import_is_held_to_the_standard_library() -> None:
    noxfile = ROOT / "noxfile.py"
    imported = {m for m in harness_imports(noxfile) if m.startswith("test_framework")}
    helper_files = [module_file(name) for name in NOX_HELPER]
    helper_imports = {m for path in helper_files for m in harness_imports(path)}
    run_with_dash_m = dash_m_modules(noxfile).union(*map(dash_m_modules, helper_files))
    commands = {COMMANDS[c][0] for c in BEFORE_INSTALL_COMMANDS}

    assert imported == {"test_framework.runners.nox_sessions"}
    assert commands
    outside = {
        m
        for m in helper_imports
        if m.split(".")[0] not in sys.stdlib_module_names and m.split(".")[0] not in NOX_BRINGS
    }
    assert sorted(outside - set(STDLIB_ONLY) - set(NOX_HELPER)) == []
    assert sorted((run_with_dash_m | commands) - set(STDLIB_ONLY)) == []


def test_every_module_that_says_it_is_standard_library_only_is_held_to_it() -> None:
    claims = []
    for path in sorted((ROOT / "test_framework").rglob("*.py")):
        docstring = ast.get_docstring(ast.parse(path.read_text("utf-8"))) or ""
        if "standard library only" in " ".join(docstring.split()).lower():
            parts = path.relative_to(ROOT).with_suffix("").parts
            claims.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))

    assert claims
    assert sorted(set(claims) - set(STDLIB_ONLY)) == []


def test_a_module_that_loads_a_third_party_module_is_caught(tmp_path: Path) -> None:
    (tmp_path / "harness").mkdir()
    (tmp_path / "harness" / "__init__.py").write_text("")
    (tmp_path / "harness" / "gate.py").write_text("import json\nimport not_stdlib\n")
    (tmp_path / "not_stdlib.py").write_text("")

    loaded = loaded_by_import(tmp_path, "harness.gate")

    assert outside_stdlib(loaded, "harness") == ["not_stdlib"]

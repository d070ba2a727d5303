"""What the two distributions hold: the harness's wheel, and the reference service's of its own.

The wheels are built from a copy of the checkout with setuptools' PEP 517 hook, the call pip and
build make, so the test needs no network, no pip in the environment and leaves no build/ folder in
the repository.
"""

from __future__ import annotations

import ast
import configparser
import re
import sys
import zipfile
from email.parser import HeaderParser
from pathlib import Path

import pytest

from tests.support.checkout import clean_copy
from tests.support.environment import run_captured

ROOT = Path(__file__).resolve().parents[2]
_BUILD = "import sys; from setuptools import build_meta; print(build_meta.build_wheel(sys.argv[1]))"
SERVICE = ROOT / "services" / "agent-backend"


def _build_wheel(source: Path, scratch: Path) -> zipfile.ZipFile:
    """A wheel of the project at ``source``, built from a copy of it in ``scratch``."""
    copy = scratch / "src"
    clean_copy(source, copy)
    out = scratch / "dist"
    out.mkdir()
    built = run_captured([sys.executable, "-c", _BUILD, str(out)], cwd=copy, timeout=120)
    assert built.returncode == 0, built.stderr
    return zipfile.ZipFile(out / built.stdout.strip().splitlines()[-1])


def _dist_info(wheel: zipfile.ZipFile, name: str) -> str:
    (found,) = [n for n in wheel.namelist() if re.fullmatch(rf"[^/]+\.dist-info/{name}", n)]
    return wheel.read(found).decode("utf-8")


def _requires(wheel: zipfile.ZipFile) -> dict[str, str]:
    """Requires-Dist by normalized name, each with its extra marker ('' when unconditional)."""
    metadata = HeaderParser().parsestr(_dist_info(wheel, "METADATA"))
    requires = {}
    for line in metadata.get_all("Requires-Dist") or []:
        match = re.match(r"[A-Za-z0-9._-]+", line)
        assert match is not None, line
        extra = re.search(r"extra\s*==\s*['\"]([^'\"]+)['\"]", line)
        requires.setdefault(_normalized(match.group()), extra.group(1) if extra else "")
    return requires


def _normalized(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _top_level(wheel: zipfile.ZipFile) -> set[str]:
    return {name.split("/")[0] for name in wheel.namelist()}


@pytest.fixture(scope="module")
def harness_wheel(tmp_path_factory: pytest.TempPathFactory) -> zipfile.ZipFile:
    return _build_wheel(ROOT, tmp_path_factory.mktemp("harness"))


@pytest.fixture(scope="module")
def service_wheel(tmp_path_factory: pytest.TempPathFactory) -> zipfile.ZipFile:
    return _build_wheel(SERVICE, tmp_path_factory.mktemp("service"))


def test_the_harness_wheel_holds_test_framework_and_nothing_of_the_reference_service(
    harness_wheel: zipfile.ZipFile,
) -> None:
    packages = {name for name in _top_level(harness_wheel) if not name.endswith(".dist-info")}
    assert packages == {"test_framework"}
    assert "test_framework/__main__.py" in harness_wheel.namelist()
    assert not [name for name in harness_wheel.namelist() if "agent_backend" in name]


def test_the_harness_wheel_requires_neither_pyjwt_nor_orjson(
    harness_wheel: zipfile.ZipFile,
) -> None:
    requires = _requires(harness_wheel)
    unconditional = {name for name, extra in requires.items() if not extra}
    assert {"websockets", "pytest", "pytest-asyncio", "pytest-xdist"} <= unconditional
    assert "pyjwt" not in unconditional
    assert "orjson" not in requires
    assert "agent-backend" not in requires
    # Docker's client stays an extra: the other modes run without it.
    assert requires["docker"] != ""


def test_the_harness_wheel_holds_every_module_of_test_framework(
    harness_wheel: zipfile.ZipFile,
) -> None:
    """The package list in pyproject.toml is written out: a package left out of it is caught."""
    source = {path.relative_to(ROOT).as_posix() for path in (ROOT / "test_framework").rglob("*.py")}
    assert source - set(harness_wheel.namelist()) == set()


def test_the_harness_wheel_ships_the_contract_suite_as_test_framework_contract(
    harness_wheel: zipfile.ZipFile,
) -> None:
    suite = {path.name for path in (ROOT / "tests" / "mission_critical").glob("*.py")}
    shipped = {
        name.removeprefix("test_framework/contract/")
        for name in harness_wheel.namelist()
        if name.startswith("test_framework/contract/")
    }
    assert "mc_rules.py" in suite
    # As in the repository, no __init__.py: pytest imports the modules by their own names, so
    # `from mc_rules import ...` works installed too.
    assert shipped == suite
    # The rest of tests/ stays out.
    assert not [name for name in harness_wheel.namelist() if name.startswith("tests/")]


def test_pyjwt_which_the_contract_suite_imports_is_the_contract_extra(
    harness_wheel: zipfile.ZipFile,
) -> None:
    metadata = HeaderParser().parsestr(_dist_info(harness_wheel, "METADATA"))
    pyjwt = [
        line
        for line in metadata.get_all("Requires-Dist") or []
        if _normalized(line).startswith("pyjwt")
    ]
    assert any(re.search(r"extra\s*==\s*['\"]contract['\"]", line) for line in pyjwt), pyjwt
    assert "contract" in (metadata.get_all("Provides-Extra") or [])


def test_the_contract_command_finds_the_suite_in_an_installed_wheel(
    harness_wheel: zipfile.ZipFile, tmp_path: Path
) -> None:
    """A pure wheel installed is its files unpacked into site-packages."""
    site = tmp_path / "site-packages"
    harness_wheel.extractall(site)
    found = run_captured(
        [
            sys.executable,
            "-c",
            "import sys; sys.path.insert(0, sys.argv[1]);"
            " from test_framework.runners.contract import suite_folder; print(suite_folder())",
            str(site),
        ],
        cwd=tmp_path,
        timeout=60,
    )
    assert found.returncode == 0, found.stderr
    assert found.stdout.strip() == str(site / "test_framework" / "contract")


def test_the_harness_wheel_registers_its_pytest_plugin(harness_wheel: zipfile.ZipFile) -> None:
    entry_points = configparser.ConfigParser()
    entry_points.read_string(_dist_info(harness_wheel, "entry_points.txt"))
    assert dict(entry_points["pytest11"]) == {
        "test_framework": "test_framework.pytest_plugin.hooks"
    }


def test_the_service_wheel_holds_agent_backend_and_its_dependencies(
    service_wheel: zipfile.ZipFile,
) -> None:
    packages = {name for name in _top_level(service_wheel) if not name.endswith(".dist-info")}
    assert packages == {"agent_backend"}
    assert not [name for name in service_wheel.namelist() if "test_framework" in name]
    assert set(_requires(service_wheel)) == {"websockets", "pyjwt", "orjson"}


def test_the_image_wheelhouse_names_the_service_dependencies(
    service_wheel: zipfile.ZipFile,
) -> None:
    """docker/requirements.txt repeats them (the image installs the service offline from it)."""
    wanted = set()
    for line in (ROOT / "docker" / "requirements.txt").read_text("utf-8").splitlines():
        text = line.partition("#")[0].strip()
        if text:
            match = re.match(r"[A-Za-z0-9._-]+", text)
            assert match is not None, line
            wanted.add(_normalized(match.group()))
    assert set(_requires(service_wheel)) <= wanted


def test_the_harness_imports_nothing_its_wheel_does_not_require() -> None:
    """The reference service and its dependencies are absent where only the harness is installed."""
    foreign = {"agent_backend", "jwt", "orjson"}
    found = []
    for path in sorted((ROOT / "test_framework").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            found += [f"{path.relative_to(ROOT)}: {n}" for n in names if n.split(".")[0] in foreign]
    assert found == []

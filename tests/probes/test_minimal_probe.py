"""The minimal probe: no factory is absent; a factory that is not there, or not of the documented
signature, is broken; found by reading the module's source, never by importing it."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest

from test_framework.probes.minimal import probe_minimal
from test_framework.probes.result import ProbeResult, ProbeStatus
from test_framework.service import NO_SERVICE
from test_framework.settings import load_settings

SERVICE = """\
raise RuntimeError("the probe imported the service")

from asyncio import sleep as imported_start

async def start(*, host: str, port: int, test_token: str = "", **extra: str):
    ...

async def start_kwargs(**everything):
    ...

def start_positional(host, port, /):
    ...

async def start_without_port(*, host: str):
    ...

async def start_needing_more(*, host: str, port: int, region: str):
    ...

start_assigned = start

class StartClass:
    ...
"""


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    package = tmp_path / "team_pkg"
    package.mkdir()
    # The package itself must not run either: the probe walks it with the path finders.
    (package / "__init__.py").write_text('raise RuntimeError("the probe imported the package")\n')
    (package / "service.py").write_text(SERVICE)
    monkeypatch.syspath_prepend(str(tmp_path))
    return tmp_path


def probe(project: Path, factory: str | None, *, in_session: bool = False) -> ProbeResult:
    table = "" if factory is None else f'[tool.test_framework.service]\nfactory = "{factory}"\n'
    (project / "pyproject.toml").write_text(table)
    return probe_minimal(load_settings(project, environ={}), in_session=in_session)


def test_no_factory_is_absent_saying_no_service_is_configured(project: Path) -> None:
    result = probe(project, None)
    assert result.status is ProbeStatus.ABSENT
    assert result.reason == NO_SERVICE
    assert result.reason == (
        "no service configured: set command, asgi_app or factory in"
        " [tool.test_framework.service] (see docs/adopting.md)"
    )


def test_a_factory_of_the_documented_signature_is_available_without_importing_it(
    project: Path,
) -> None:
    result = probe(project, "team_pkg.service:start")
    assert result.status is ProbeStatus.AVAILABLE, result.reason
    assert result.steps[1].detail == "team_pkg.service:start at service.py:5"


def test_a_factory_taking_any_keywords_is_available(project: Path) -> None:
    assert probe(project, "team_pkg.service:start_kwargs").available


def test_a_misspelt_factory_is_broken_naming_what_is_missing(project: Path) -> None:
    result = probe(project, "team_pkg.service:strat")
    assert result.status is ProbeStatus.BROKEN
    assert result.reason.startswith("team_pkg.service has no top-level 'strat': define async def")
    assert result.verdict.startswith("configured but unhealthy: team_pkg.service has no")


@pytest.mark.parametrize(
    ("factory", "problem"),
    [
        ("start_positional", "does not accept host and port"),
        ("start_without_port", "does not accept port"),
        ("start_needing_more", "requires region, which the harness does not pass"),
    ],
)
def test_a_factory_not_of_the_documented_signature_is_broken(
    project: Path, factory: str, problem: str
) -> None:
    result = probe(project, f"team_pkg.service:{factory}")
    assert result.status is ProbeStatus.BROKEN
    assert problem in result.reason


@pytest.mark.parametrize(
    ("factory", "how"),
    [
        ("imported_start", "bound by import"),
        ("start_assigned", "bound by assignment"),
        ("StartClass", "a class"),
    ],
)
def test_a_name_bound_otherwise_is_accepted_unchecked(
    project: Path, factory: str, how: str
) -> None:
    result = probe(project, f"team_pkg.service:{factory}")
    assert result.available, result.reason
    assert result.steps[1].detail == f"team_pkg.service:{factory}: not checked: {how}"


def test_a_module_not_importable_here_is_left_to_the_session_which_finds_it_broken(
    project: Path,
) -> None:
    outside = probe(project, "team_pkg.servce:start")
    inside = probe(project, "team_pkg.servce:start", in_session=True)
    assert outside.available
    assert outside.steps[1].detail == (
        "module 'team_pkg.servce' is not importable here; the session checks it where the"
        " service is installed"
    )
    assert inside.status is ProbeStatus.BROKEN
    assert inside.reason == (
        "module 'team_pkg.servce' of factory team_pkg.servce:start is not importable in the"
        " tests' environment (install in [tool.test_framework] gives '-e .'): install the"
        " service there, or fix factory in [tool.test_framework.service]"
    )


def test_a_module_not_importable_here_is_a_step_not_checked_rather_than_passed(
    project: Path,
) -> None:
    outside = probe(project, "team_pkg.servce:start")
    inside = probe(project, "team_pkg.service:start", in_session=True)
    assert [(s.name, s.ok, s.checked) for s in outside.steps[:2]] == [
        ("factory name", True, True),
        ("factory", True, False),
    ]
    assert outside.to_json()["steps"][1]["checked"] is False  # type: ignore[index]
    assert all(step.checked for step in inside.steps)
    assert all("checked" not in step for step in inside.to_json()["steps"])  # type: ignore[attr-defined]


def test_a_malformed_factory_is_broken(project: Path) -> None:
    result = probe(project, "team_pkg.service")
    assert result.status is ProbeStatus.BROKEN
    assert "is not 'module:callable'" in result.reason


def test_the_probe_of_this_repositorys_factory_takes_tens_of_milliseconds() -> None:
    settings = load_settings(Path(__file__).parent, environ={})
    probe_minimal(settings, in_session=True)  # warm the finders' caches, as a second run is
    started = time.perf_counter()
    result = probe_minimal(settings, in_session=True)
    elapsed_ms = (time.perf_counter() - started) * 1000
    assert result.available, result.reason
    assert elapsed_ms < 50, elapsed_ms


def test_in_the_session_a_factory_of_the_wrong_kind_is_broken_in_one_line(project: Path) -> None:
    # os.getcwd is bound by os's star import: the source cannot tell; importing it can.
    outside = probe(project, "os:getcwd")
    inside = probe(project, "os:getcwd", in_session=True)
    assert outside.available
    assert inside.status is ProbeStatus.BROKEN
    assert inside.reason.startswith("factory os:getcwd does not accept host and port: ")
    assert "\n" not in inside.reason


def test_in_the_session_a_name_bound_by_import_is_checked_by_importing_it(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # What the probe imports here must not be found by the other tests' probes.
    monkeypatch.setattr(sys, "modules", dict(sys.modules))
    (project / "team_pkg" / "bound.py").write_text(
        "from team_pkg_impl import start\nfrom team_pkg_impl import start_wrong\n"
    )
    (project / "team_pkg_impl.py").write_text(
        "async def start(*, host, port, **kw): ...\nasync def start_wrong(path): ...\n"
    )
    (project / "team_pkg" / "__init__.py").write_text("")
    assert probe(project, "team_pkg.bound:start", in_session=True).available
    wrong = probe(project, "team_pkg.bound:start_wrong", in_session=True)
    assert wrong.status is ProbeStatus.BROKEN
    assert wrong.reason.startswith(
        "factory team_pkg.bound:start_wrong does not accept host and port"
    )

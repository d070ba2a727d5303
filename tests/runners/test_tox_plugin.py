"""The tox plugin, through real tox runs in a small project of its own.

The project has a tiny in-process service, a three-test suite and a ``tox.toml`` that adds the
team's own settings around the plugin's environments; its mode environments install the
harness from a copy of this checkout. One project (and so one set of tox environments) serves
every test of a worker, so only the first run pays for the installs.
"""

from __future__ import annotations

import json
import re
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from test_framework.results.ledger import broken_ledger, ledger_path, write_ledger
from tests.support.environment import isolated_environment, run_captured
from tests.support.nox_project import make_service_project, seed_bug

ROOT = Path(__file__).resolve().parents[2]
TOX_TIMEOUT_S = 300.0

SERVICE = '''\
"""A service that accepts connections on loopback, and nothing else."""

import asyncio


class Service:
    def __init__(self, server):
        self._server = server

    @property
    def port(self):
        return self._server.sockets[0].getsockname()[1]

    async def close(self):
        self._server.close()
        await self._server.wait_closed()

    async def shutdown(self):
        await self.close()


async def start(*, host, port, test_password, jwt_secret):
    async def hang_up(reader, writer):
        writer.close()

    return Service(await asyncio.start_server(hang_up, host, port))
'''

SUITE = """\
import os
import socket
from urllib.parse import urlsplit

import pytest

pytestmark = pytest.mark.mission_critical


def test_the_service_accepts_a_connection(mc_endpoints):
    url = urlsplit(mc_endpoints.ws_url)
    socket.create_connection((url.hostname, url.port), timeout=5).close()


def test_the_teams_own_tox_setting_reaches_the_suite():
    assert os.environ["TEAM_SETTING"] == "from tox.toml"


def test_fails_when_the_team_asks_it_to():
    assert os.environ.get("TEAM_FAIL") != "1", "failing, as TEAM_FAIL=1 asks"
"""

PYPROJECT = """\
[tool.test_framework]
suite = "mc"
install = [{harness!r}]

[tool.test_framework.service]
factory = "tinyservice:start"

[tool.test_framework.profiles.minimal]
workers = 0

[tool.pytest.ini_options]
pythonpath = ["."]
asyncio_default_fixture_loop_scope = "function"
"""

# The team's own configuration around the plugin's environment: it adds to what the plugin
# passes and sets, it does not replace it.
TOX_TOML = """\
[env.mc-minimal]
set_env = { TEAM_SETTING = "from tox.toml" }
pass_env = ["TEAM_FAIL"]
"""


def copy_harness(harness: Path) -> Path:
    """A copy of this checkout's harness distribution, for the projects to install."""
    # What the harness's distribution is built from: its package and the contract suite it
    # ships (tests/mission_critical, mapped into the package by pyproject.toml).
    for folder in ("test_framework", "tests/mission_critical"):
        shutil.copytree(
            ROOT / folder, harness / folder, ignore=shutil.ignore_patterns("__pycache__")
        )
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, harness / name)
    return harness


@pytest.fixture(scope="module")
def harness(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return copy_harness(tmp_path_factory.mktemp("tox-harness") / "harness")


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory, harness: Path) -> Path:
    base = tmp_path_factory.mktemp("tox-project")
    project = base / "project"
    (project / "mc").mkdir(parents=True)
    (project / "tinyservice.py").write_text(SERVICE)
    (project / "mc" / "test_tiny.py").write_text(SUITE)
    (project / "pyproject.toml").write_text(PYPROJECT.format(harness=str(harness)))
    (project / "tox.toml").write_text(TOX_TOML)
    return project


def tox(project: Path, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    full_env = isolated_environment({"FORCE_DOCKER_UNAVAILABLE": "true", "NO_COLOR": "1", **env})
    full_env.pop("PYTHONPATH")  # as for a user: the plugin comes from the installed harness
    return run_captured(
        [sys.executable, "-m", "tox", *args], cwd=project, env=full_env, timeout=TOX_TIMEOUT_S
    )


def ledger(reports: Path, mode: str) -> dict[str, object]:
    data: dict[str, object] = json.loads((reports / mode / "ledger.json").read_text())
    return data


def test_tox_lists_the_mode_environments_and_the_gate_the_plugin_adds(project: Path) -> None:
    listed = tox(project, "l", env={})
    assert listed.returncode == 0, listed.stdout + listed.stderr
    for name in ("mc-docker_local", "mc-staging_fallback", "mc-minimal", "mc-staging", "mc-gate"):
        assert f"\n{name} " in listed.stdout


def test_only_minimal_can_run_so_it_runs_the_others_skip_with_reasons_and_the_gate_passes(
    project: Path, tmp_path: Path
) -> None:
    reports = tmp_path / "reports"
    run = tox(project, "-m", "mission_critical", env={"MC_REPORT_DIR": str(reports)})
    output = run.stdout + run.stderr
    assert run.returncode == 0, output[-4000:]
    assert (
        "mc-docker_local: skipped because docker_local cannot run here: unavailable (forced)"
    ) in output
    assert (
        "mc-staging_fallback: skipped because staging_fallback cannot run here: not configured"
    ) in output
    assert "mc-docker_local: SKIP" in output
    assert "mc-minimal: OK" in output
    assert "gate: PASSED" in output
    assert "mc-gate: OK" in output
    assert ledger(reports, "docker_local")["status"] == "skipped"
    assert "forced" in str(ledger(reports, "docker_local")["reason"])
    assert ledger(reports, "staging_fallback")["status"] == "skipped"
    tests = ledger(reports, "minimal")["tests"]
    assert isinstance(tests, list)
    assert {t["outcome"] for t in tests} == {"passed"}
    assert len(tests) == 3
    assert (reports / "index.html").is_file()
    assert (reports / "minimal" / "junit.xml").is_file()
    # Probed before anything was installed: the skipped mode's environment got no harness.
    skipped_env = project / ".tox" / "mc-docker_local"
    assert list(skipped_env.glob("lib/*/site-packages/test_framework")) == []
    assert "mc-docker_local: install_deps" not in output


def test_a_required_mode_that_cannot_run_fails_the_run_saying_why(
    project: Path, tmp_path: Path
) -> None:
    reports = tmp_path / "reports"
    run = tox(
        project,
        "-m",
        "mission_critical",
        env={"MC_REPORT_DIR": str(reports), "MC_REQUIRED_MODES": "docker_local"},
    )
    output = run.stdout + run.stderr
    assert run.returncode != 0, output[-4000:]
    assert (
        "mc-docker_local: failed with docker_local is required by MC_REQUIRED_MODES but cannot"
        " run: unavailable (forced)"
    ) in output
    assert "mc-docker_local: FAIL" in output
    assert "gate: FAILED" in output


def test_a_failing_test_fails_the_mode_the_gate_and_the_run(project: Path, tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    run = tox(
        project, "-m", "mission_critical", env={"MC_REPORT_DIR": str(reports), "TEAM_FAIL": "1"}
    )
    output = run.stdout + run.stderr
    assert run.returncode != 0, output[-4000:]
    assert "failing, as TEAM_FAIL=1 asks" in output
    assert "mc-minimal: FAIL" in output
    assert "gate: FAILED" in output
    assert "mc-gate: FAIL" in output


def test_a_configured_deployment_that_fails_its_probe_fails_rather_than_skips(
    project: Path, tmp_path: Path
) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed = sock.getsockname()[1]
    reports = tmp_path / "reports"
    staging = {
        "STAGING_WEBSOCKET_URL": f"ws://127.0.0.1:{closed}/ws",
        "STAGING_AUTH_TOKEN": "token-for-a-deployment-that-is-down",
        "STAGING_FALLBACK_TIMEOUT": "2",
    }
    run = tox(project, "-e", "mc-staging", env={"MC_REPORT_DIR": str(reports), **staging})
    output = run.stdout + run.stderr
    assert run.returncode != 0, output[-4000:]
    assert "mc-staging: failed with staging_fallback is configured but unhealthy:" in output
    assert ledger(reports, "staging_fallback")["status"] == "error"


def test_mc_staging_with_nothing_configured_fails_with_the_reason(
    project: Path, tmp_path: Path
) -> None:
    reports = tmp_path / "reports"
    run = tox(project, "-e", "mc-staging", env={"MC_REPORT_DIR": str(reports)})
    output = run.stdout + run.stderr
    assert run.returncode != 0, output[-4000:]
    assert (
        "mc-staging: failed with staging_fallback is what tox -e mc-staging runs, but it cannot"
        " run here: not configured: set STAGING_WEBSOCKET_URL"
    ) in output


def test_under_parallel_the_gate_waits_for_the_modes_and_judges_them(
    project: Path, tmp_path: Path
) -> None:
    reports = tmp_path / "reports"
    run = tox(
        project, "-m", "mission_critical", "--parallel", "2", env={"MC_REPORT_DIR": str(reports)}
    )
    output = run.stdout + run.stderr
    assert run.returncode == 0, output[-4000:]
    # The gate's table is the summary, with each skipped mode's reason.
    assert "docker_local: skipped: unavailable (forced)" in output
    assert "staging_fallback: skipped: not configured" in output
    assert "minimal: ran" in output
    # It judged minimal's three tests: it ran after minimal was done.
    assert re.search(r"\nminimal +ran +3 ", output), output[-4000:]
    assert "gate: PASSED" in output
    assert (reports / "index.html").is_file()


def test_the_gate_judges_the_ledgers_of_this_run_and_not_older_ones(
    project: Path, tmp_path: Path
) -> None:
    reports = tmp_path / "reports"
    stale = broken_ledger("docker_local", "configured but unhealthy: an older run's failure")
    write_ledger(stale, ledger_path(reports, "docker_local"))
    run = tox(project, "-e", "mc-minimal,mc-gate", env={"MC_REPORT_DIR": str(reports)})
    output = run.stdout + run.stderr
    assert run.returncode == 0, output[-4000:]
    assert "an older run's failure" not in output
    assert "gate: PASSED" in output


def test_tox_reuse_tests_the_working_tree_after_a_bug_is_seeded_in_a_service_installed_as_a_copy(
    harness: Path, tmp_path: Path
) -> None:
    """tox installs requirement lines only when they change: the service (".", not editable)
    is reinstalled from the working tree anyway, and the mode with the seeded bug is FAIL."""
    project = make_service_project(tmp_path / "team", str(harness), noxfile="")
    reports = tmp_path / "reports"
    first = tox(project, "-e", "mc-minimal,mc-gate", env={"MC_REPORT_DIR": str(reports)})
    output = first.stdout + first.stderr
    assert first.returncode == 0, output[-4000:]
    assert "mc-minimal: OK" in output

    seed_bug(project)
    reused = tox(project, "-e", "mc-minimal,mc-gate", env={"MC_REPORT_DIR": str(reports)})
    output = reused.stdout + reused.stderr
    assert reused.returncode != 0, output[-4000:]
    assert "mc-minimal: reinstalling . from the working tree" in output
    assert "test_the_service_greets_every_connection [minimal]: failed" in output
    assert "mc-minimal: FAIL" in output
    assert "gate: FAILED" in output
    assert "mc-gate: FAIL" in output
    code = ledger(reports, "minimal")["code"]
    assert isinstance(code, dict)
    assert (code["project"], code["editable"], code["stale_install"]) == ("greeter", False, None)

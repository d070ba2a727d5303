"""The nox helper (test_framework/runners/nox_sessions.py) in a team's project, through real nox
runs: its own suite and install list, one after another and under ``nox --parallel``."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

from tests.support.nox_project import make_team_project, nox_in

NO_DOCKER = {"FORCE_DOCKER_UNAVAILABLE": "true"}
MODES = ("docker_local", "staging_fallback", "minimal")


@pytest.fixture(scope="module")
def team(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_team_project(tmp_path_factory.mktemp("team"))


def nox_without_docker(team: Path, reports: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """nox in the team's project with Docker forced off, its reports in ``reports``."""
    return nox_in(team, *args, env={**NO_DOCKER, "MC_REPORT_DIR": str(reports)})


def gate_table(output: str) -> list[str]:
    """The gate's table: its header, rule and one row per mode."""
    lines = output.splitlines()
    start = next(i for i, line in enumerate(lines) if re.match(r"mode\s+run\s+passed", line))
    return [re.sub(r"\s+", " ", line) for line in lines[start : start + 2 + len(MODES)]]


def ledger(reports: Path, mode: str) -> dict[str, object]:
    data: dict[str, object] = json.loads((reports / mode / "ledger.json").read_text())
    return data


def test_a_teams_two_line_noxfile_runs_its_own_suite_with_its_install_list_and_the_gate_passes(
    team: Path,
) -> None:
    reports = team / "sequential"
    run = nox_without_docker(team, reports, "-s", "mission_critical")
    output = run.stdout + run.stderr
    assert run.returncode == 0, output
    assert "gate: PASSED" in output
    assert re.search(r"^minimal\s+ran\s+1\s+0\s", output, re.MULTILINE), output
    ran = ledger(reports, "minimal")
    assert [t["nodeid"] for t in ran["tests"]] == [  # type: ignore[index, union-attr]
        "checks/critical/test_team.py::test_a_ping_is_answered_with_its_nonce"
    ]
    for mode in ("docker_local", "staging_fallback"):
        assert ledger(reports, mode)["status"] == "skipped"


def test_nox_parallel_runs_the_modes_at_once_and_the_gate_once_after_with_the_same_verdict(
    team: Path,
) -> None:
    sequential = nox_without_docker(team, team / "s", "-r", "-s", "mission_critical")
    assert sequential.returncode == 0, sequential.stdout + sequential.stderr
    reports = team / "parallel"
    parallel = nox_without_docker(team, reports, "-r", "-t", "mission_critical", "--parallel", "3")
    output = parallel.stdout + parallel.stderr
    assert parallel.returncode == 0, output

    # Every mode session started before any finished; the gate started once, after all three.
    events = re.findall(r"^(Starting session|=+ \S+) (\S+?)(?:\.\.\.|:)", output, re.MULTILINE)
    starts = [name for kind, name in events if kind == "Starting session"]
    assert starts[:3] == [f"mission_critical(mode='{mode}')" for mode in MODES], events
    assert events[3][0] != "Starting session", events
    assert starts.count("gate") == 1, events
    assert starts[-1] == "gate", events
    assert events[-1][1] == "gate", events
    # One invocation for the whole run: every mode's ledger carries the gate's.
    invocation = re.search(r"--invocation (\S+)", output)
    assert invocation, output
    for mode in MODES:
        assert ledger(reports, mode)["invocation"] == invocation.group(1)
    assert "gate: PASSED" in output
    assert gate_table(output) == gate_table(sequential.stdout + sequential.stderr)


def test_nox_parallel_without_the_gate_fails_at_once_naming_the_command_to_use(
    team: Path,
) -> None:
    reports = team / "ungated"
    run = nox_without_docker(team, reports, "-r", "-s", "mission_critical", "--parallel", "2")
    output = run.stdout + run.stderr
    assert run.returncode != 0, output
    message = (
        "under nox --parallel the gate runs only when selected with the modes:"
        " run `nox -t mission_critical --parallel 3`"
    )
    assert output.count(message) == len(MODES), output
    assert "Starting session gate" not in output
    assert not (reports / "minimal" / "ledger.json").exists()


def test_a_factory_module_missing_after_the_install_fails_once_naming_the_install(
    tmp_path: Path,
) -> None:
    project = make_team_project(tmp_path / "team")
    pyproject = project / "pyproject.toml"
    text = pyproject.read_text().replace(
        "agent_backend.testing:start_in_process", "nomodule:nothing"
    )
    pyproject.write_text(text)
    run = nox_without_docker(
        project, tmp_path / "reports", "-s", "mission_critical(mode='minimal')"
    )
    output = run.stdout + run.stderr
    assert run.returncode == 1, output
    assert "module nomodule not found after installing -e " in output
    # Installing the same list a second time could not have brought it.
    assert "installing the harness" not in output
    assert "still lacks" not in output

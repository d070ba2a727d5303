"""The coverage monitor, run as a real process over a small suite of its own."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from typing import Any

import pytest

from test_framework.results.ledger import read_ledger
from tests.support.environment import run_captured
from tests.support.projects import harness_project

pytest_plugins = ["pytester"]

PASSING = """
import pytest

pytestmark = pytest.mark.mission_critical

@pytest.mark.parametrize("n", range(3))
def test_passes(n, mc_endpoints):
    assert mc_endpoints.ws_url.startswith("ws://127.0.0.1:")
"""

FAILING = """
import pytest

@pytest.mark.mission_critical
def test_passes():
    pass

@pytest.mark.mission_critical
def test_breaks():
    assert "staging" == "healthy", "the deployment answered wrongly"
"""

SKIPPING = """
import pytest

@pytest.mark.mission_critical
def test_passes():
    pass

@pytest.mark.mission_critical
def test_needs_control():
    pytest.skip("needs control of the deployment")
"""

SLOW = """
import os
import time
from pathlib import Path

import pytest

@pytest.mark.mission_critical
def test_slow():
    Path("started.pid").write_text(str(os.getpid()))
    time.sleep(120)
"""


@pytest.fixture
def project(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    harness_project(pytester, monkeypatch)
    monkeypatch.setenv("FORCE_DOCKER_UNAVAILABLE", "true")
    (pytester.path / "suite").mkdir()
    return pytester


def monitor(project: pytest.Pytester, *args: str) -> subprocess.CompletedProcess[str]:
    return run_captured(
        [sys.executable, "-m", "test_framework", "monitor", "--suite", "suite", *args],
        cwd=project.path,
        timeout=300,
    )


def one_round(
    project: pytest.Pytester, *more: str, mode: str = "minimal"
) -> subprocess.CompletedProcess[str]:
    """The monitor run for a single round in ``mode``, at once."""
    return monitor(project, "--interval", "0", "--max-runs", "1", "--mode", mode, *more)


def history(project: pytest.Pytester) -> list[dict[str, Any]]:
    path = project.path / "out" / "monitor" / "history.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_healthy_rounds_append_history_and_print_one_line_each(project: pytest.Pytester) -> None:
    (project.path / "suite" / "test_ok.py").write_text(PASSING)
    done = monitor(project, "--interval", "0", "--max-runs", "2", "--mode", "minimal")
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert len(lines) == 3
    for number, line in enumerate(lines[:2], 1):
        assert (
            f" round {number}/2 minimal healthy: 3 passed, 0 failed, 0 errors, 0 skipped;" in line
        )
        assert "mission-critical 3/3 ran" in line
    assert lines[2].startswith("monitor: 2 round(s), 0 unhealthy; history: ")
    rounds = history(project)
    assert [r["round"] for r in rounds] == [1, 2]
    assert all(r["healthy"] and r["mode"] == "minimal" for r in rounds)
    assert rounds[0]["counts"] == {"passed": 3}
    assert rounds[0]["mission_critical"] == {"collected": 3, "executed": 3}
    assert rounds[0]["probes"]["docker_local"]["available"] is False
    assert (project.path / "out" / "monitor" / "latest" / "index.html").is_file()
    # The monitor's rounds stay out of a gate over the whole report folder.
    whole = run_captured(
        [sys.executable, "-m", "test_framework", "gate", "out"], cwd=project.path, timeout=60
    )
    assert "NO LEDGERS" in whole.stdout


def test_a_failing_round_is_unhealthy_names_the_test_and_keeps_its_report(
    project: pytest.Pytester,
) -> None:
    (project.path / "suite" / "test_bad.py").write_text(FAILING)
    done = one_round(project)
    assert done.returncode == 1
    assert "UNHEALTHY: 1 passed, 1 failed" in done.stdout
    assert "failed: suite/test_bad.py::test_breaks [minimal]" in done.stdout
    (only,) = history(project)
    assert only["healthy"] is False
    assert any("the deployment answered wrongly" in p for p in only["problems"])
    assert (project.path / "out" / "monitor" / "last-unhealthy" / "index.html").is_file()


def test_a_skipped_test_counts_but_is_unhealthy_only_when_strict(
    project: pytest.Pytester,
) -> None:
    (project.path / "suite" / "test_skip.py").write_text(SKIPPING)
    lenient = one_round(project)
    assert lenient.returncode == 0
    assert "healthy: 1 passed, 0 failed, 0 errors, 1 skipped; mission-critical 1/2" in (
        lenient.stdout
    )
    strict = one_round(project, "--strict")
    assert strict.returncode == 1
    assert "ran nowhere: suite/test_skip.py::test_needs_control" in strict.stdout


def test_a_mode_that_cannot_run_makes_the_round_unhealthy_without_running(
    project: pytest.Pytester,
) -> None:
    (project.path / "suite" / "test_ok.py").write_text(PASSING)
    done = one_round(project, mode="docker_local")
    assert done.returncode == 1
    assert " round 1/1 - UNHEALTHY: 0 passed" in done.stdout
    assert "mode docker_local cannot run here" in done.stdout
    (only,) = history(project)
    assert only["exit_status"] is None
    assert only["mode"] is None


def test_rounds_start_an_interval_apart(project: pytest.Pytester) -> None:
    (project.path / "suite" / "test_ok.py").write_text(PASSING)
    done = monitor(project, "--interval", "3", "--max-runs", "2", "--mode", "minimal")
    assert done.returncode == 0
    first, second = history(project)
    assert second["started_at"] - first["started_at"] >= 3.0


def test_ctrl_c_stops_the_round_cleanly_and_records_it(project: pytest.Pytester) -> None:
    (project.path / "suite" / "test_slow.py").write_text(SLOW)
    child = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "test_framework",
            "monitor",
            "--suite",
            "suite",
            "--interval",
            "0",
            "--max-runs",
            "5",
            "--mode",
            "minimal",
        ],
        cwd=project.path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    marker = project.path / "started.pid"
    deadline = time.monotonic() + 120
    while not marker.exists() or not marker.read_text():
        assert child.poll() is None, child.communicate()
        assert time.monotonic() < deadline, "the slow test never started"
        time.sleep(0.1)
    test_pid = int(marker.read_text())
    child.send_signal(signal.SIGINT)
    out, err = child.communicate(timeout=120)
    assert child.returncode == 130, out + err
    assert "monitor: interrupted in round 1; 0 earlier round(s) unhealthy" in out
    assert "Traceback" not in err
    (only,) = history(project)
    assert only["interrupted"] is True
    assert only["healthy"] is False
    ledger = read_ledger(project.path / "out" / "monitor" / "latest" / "minimal" / "ledger.json")
    assert ledger.complete is False
    with pytest.raises(ProcessLookupError):
        os.kill(test_pid, 0)  # the suite's process is gone, not orphaned


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--interval", "-1"], "--interval must be at least 0"),
        (["--interval", "1", "--max-runs", "0"], "--max-runs must be at least 1"),
        (["--interval", "x"], "--interval 'x' is not a number"),
        (["--interval", "1", "--mode", "dockr"], "unknown mode 'dockr'"),
        (["--interval", "1", "--suite", "nowhere"], "--suite nowhere: not found"),
    ],
)
def test_bad_arguments_are_usage_errors(
    project: pytest.Pytester, args: list[str], fragment: str
) -> None:
    done = run_captured(
        [sys.executable, "-m", "test_framework", "monitor", *args], cwd=project.path, timeout=60
    )
    assert done.returncode == 2
    assert fragment in done.stderr
    assert "Traceback" not in done.stderr

"""Ctrl-C in each phase of a run: the probe, the image build, the stack's start, the test run and
the report. SIGINT goes to the whole process group of ``pytest -n 2``, as a terminal sends it.
Each time the run exits promptly, leaves no process and no labelled container behind, and leaves
a ledger that ``python -m test_framework gate`` calls incomplete (exit 1, naming it).

The probe is caught in the act against a staging URL whose TLS port is a blackhole; the docker
phases by the progress lines the harness prints; the test run and the report by
``tests.resilience.phase_marker``.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.support.docker_resources import NOTHING, child_environment, require_docker, resources
from tests.support.fault_proxy import FaultProxy, Faults

ROOT = Path(__file__).resolve().parents[2]
SUITE = "tests/mission_critical"
PROMPT_S = 30.0  # from SIGINT to exit, a docker stack's teardown included; generous
START_TIMEOUT_S = 300.0  # to reach the phase (a cold image build); only proves "no hang"


def start_run(tmp_path: Path, mode: str, **env: str) -> subprocess.Popen[str]:
    argv = [sys.executable, "-u", "-m", "pytest", SUITE, "--mc-mode", mode, "-n", "2"]
    argv += ["--mc-report-dir", str(tmp_path / "reports"), "-p", "no:cacheprovider"]
    argv += ["-p", "tests.resilience.phase_marker", "-q"]
    child_env = {
        key: value
        for key, value in child_environment().items()
        if not key.startswith(("STAGING_", "MC_")) and key != "USE_STAGING_FALLBACK"
    }
    return subprocess.Popen(
        argv,
        cwd=ROOT,
        env=child_env | {"MC_PHASE_DIR": str(tmp_path), **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # its own process group, as a terminal's foreground job
    )


class Output:
    """The child's output, read in the background so the test can wait for a line."""

    def __init__(self, child: subprocess.Popen[str]) -> None:
        self.lines: list[str] = []
        assert child.stdout is not None
        self._stream = child.stdout
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for line in self._stream:
            self.lines.append(line)

    def text(self) -> str:
        return "".join(self.lines)

    def finish(self) -> str:
        self._reader.join(10)
        self._stream.close()
        return self.text()


def wait_until(ready: Callable[[], bool], child: subprocess.Popen[str], output: Output) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while not ready():
        if child.poll() is not None:
            pytest.fail(f"the run ended before the phase began:\n{output.finish()[-3000:]}")
        if time.monotonic() > deadline:
            os.killpg(child.pid, signal.SIGKILL)
            pytest.fail(f"the phase did not begin within {START_TIMEOUT_S:g} s")
        time.sleep(0.02)


def interrupt(child: subprocess.Popen[str], output: Output) -> tuple[int, float, str]:
    """Ctrl-C to the child's process group; returns its exit status, seconds to exit, output."""
    sent = time.monotonic()
    os.killpg(child.pid, signal.SIGINT)
    try:
        code = child.wait(PROMPT_S)
    except subprocess.TimeoutExpired:
        os.killpg(child.pid, signal.SIGKILL)
        child.wait(10)
        pytest.fail(f"still running {PROMPT_S:g} s after Ctrl-C:\n{output.finish()[-3000:]}")
    return code, time.monotonic() - sent, output.finish()


def left_running(session: int, run_id: str | None) -> list[str]:
    """Processes of the run's session, or started with its run id (Compose runs in a session of
    its own and gets ``MC_RUN_ID``)."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            stat = (proc / "stat").read_text().rpartition(")")[2].split()
            environ = (proc / "environ").read_bytes() if run_id else b""
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue  # gone meanwhile, or not ours to read
        zombie = stat[0] == "Z"
        if not zombie and (int(stat[3]) == session or f"MC_RUN_ID={run_id}".encode() in environ):
            found.append(f"{proc.name}: {cmdline[:120]}")
    return found


def ledger_of(tmp_path: Path, mode: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((tmp_path / "reports" / mode / "ledger.json").read_text())
    return data


def assert_incomplete_for_the_gate(tmp_path: Path, mode: str) -> None:
    folder = tmp_path / "reports" / mode
    gate = subprocess.run(
        [sys.executable, "-m", "test_framework", "gate", str(folder), "--no-parity"],
        cwd=ROOT,
        env=child_environment(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert gate.returncode == 1, gate.stdout + gate.stderr
    assert "the run was interrupted or is still running" in gate.stdout, gate.stdout
    assert str(folder / "ledger.json") in gate.stdout


def interrupted_while_probing_staging(tmp_path: Path, mode: str) -> tuple[int, int, float, str]:
    """A run whose staging probe hangs on a blackhole, Ctrl-C'd while it does: the child's
    pid, its exit status, the seconds from the signal to its exit, and its output.

    Docker is forced absent: the signal must land in the staging probe, not in the docker
    probe's first ``compose version`` child, which the process group's Ctrl-C also reaches."""
    with FaultProxy(("127.0.0.1", 9), Faults(blackhole=True)) as proxy:
        child = start_run(
            tmp_path,
            mode,
            STAGING_WEBSOCKET_URL=f"wss://localhost:{proxy.port}/ws",
            STAGING_AUTH_TOKEN="unused-because-the-probe-never-gets-that-far",
            STAGING_FALLBACK_TIMEOUT="120",
            FORCE_DOCKER_UNAVAILABLE="true",
        )
        output = Output(child)
        wait_until(lambda: proxy.stats.blackholed >= 1, child, output)
        code, seconds, text = interrupt(child, output)
    return child.pid, code, seconds, text


def test_ctrl_c_while_probing_staging_exits_promptly_with_an_incomplete_ledger(
    tmp_path: Path,
) -> None:
    pid, code, seconds, text = interrupted_while_probing_staging(tmp_path, "staging_fallback")
    assert code == pytest.ExitCode.INTERRUPTED, text[-3000:]
    print(f"probe: exited {seconds:.1f} s after Ctrl-C")
    assert seconds < 10, f"{seconds:.1f} s"
    assert left_running(pid, None) == []
    assert ledger_of(tmp_path, "staging_fallback")["complete"] is False
    assert_incomplete_for_the_gate(tmp_path, "staging_fallback")


@pytest.mark.parametrize(
    ("phase", "line"),
    [
        ("build", "docker_local: building the images of"),
        ("start", "docker_local: starting mc-"),
        ("run", None),
        ("report", None),
    ],
    ids=["build", "start", "run", "report"],
)
def test_ctrl_c_in_a_docker_local_run_stops_everything_and_leaves_an_incomplete_ledger(
    tmp_path: Path, phase: str, line: str | None
) -> None:
    require_docker()
    child = start_run(tmp_path, "docker_local", MC_PHASE=phase)
    output = Output(child)
    if line is not None:
        wait_until(lambda: line in output.text(), child, output)
    else:
        wait_until((tmp_path / phase).exists, child, output)
    code, seconds, text = interrupt(child, output)
    assert code == pytest.ExitCode.INTERRUPTED, text[-3000:]
    print(f"{phase}: exited {seconds:.1f} s after Ctrl-C")
    assert seconds < PROMPT_S
    # The signal landed in the phase: the next one never began. The service may start from an
    # image already there while the build runs, so after the build the next phase is the suite.
    if phase == "start":
        assert "healthy after" not in text, text[-3000:]
    ledger = ledger_of(tmp_path, "docker_local")
    if phase in ("build", "start"):
        assert ledger["tests"] == [], text[-3000:]
    if phase == "run":  # partial: what ran before the signal, of a suite of over 100 tests
        assert 3 <= len(ledger["tests"]) < 100
    run_id = ledger["run_id"]
    assert left_running(child.pid, run_id) == []
    assert resources(run_id) == NOTHING
    assert ledger_of(tmp_path, "docker_local")["complete"] is False
    assert_incomplete_for_the_gate(tmp_path, "docker_local")


def test_ctrl_c_while_auto_probes_leaves_an_interrupted_ledger_for_every_probed_mode(
    tmp_path: Path,
) -> None:
    pid, code, seconds, text = interrupted_while_probing_staging(tmp_path, "auto")
    assert code == pytest.ExitCode.INTERRUPTED, text[-3000:]
    assert seconds < 10, f"{seconds:.1f} s"
    assert left_running(pid, None) == []
    for mode in ("docker_local", "staging_fallback", "minimal"):
        ledger = ledger_of(tmp_path, mode)
        assert ledger["complete"] is False
        assert ledger["reason"] == "interrupted (Ctrl-C) while probing the modes"
        assert_incomplete_for_the_gate(tmp_path, mode)


def terminate_controller(child: subprocess.Popen[str], output: Output) -> tuple[int, str]:
    """SIGTERM to the pytest-xdist controller alone, as a CI runner cancelling a job sends it."""
    sent = time.monotonic()
    os.kill(child.pid, signal.SIGTERM)
    try:
        code = child.wait(PROMPT_S)
        print(f"exited {time.monotonic() - sent:.1f} s after SIGTERM")
    except subprocess.TimeoutExpired:
        os.killpg(child.pid, signal.SIGKILL)
        child.wait(10)
        pytest.fail(f"still running {PROMPT_S:g} s after SIGTERM:\n{output.finish()[-3000:]}")
    return code, output.finish()


def test_sigterm_to_the_controller_alone_ends_a_minimal_run_as_ctrl_c_does(
    tmp_path: Path,
) -> None:
    child = start_run(tmp_path, "minimal", MC_PHASE="run")
    output = Output(child)
    wait_until((tmp_path / "run").exists, child, output)
    code, text = terminate_controller(child, output)
    assert code == pytest.ExitCode.INTERRUPTED, text[-3000:]
    assert left_running(child.pid, None) == []
    ledger = ledger_of(tmp_path, "minimal")
    assert ledger["complete"] is False
    assert ledger["exit_status"] == pytest.ExitCode.INTERRUPTED  # the controller wrote it
    assert_incomplete_for_the_gate(tmp_path, "minimal")


@pytest.mark.parametrize("phase", ["start", "run"])
def test_sigterm_to_the_controller_alone_takes_the_docker_stack_down(
    tmp_path: Path, phase: str
) -> None:
    require_docker()
    child = start_run(tmp_path, "docker_local", MC_PHASE=phase)
    output = Output(child)
    if phase == "start":
        wait_until(lambda: "docker_local: starting mc-" in output.text(), child, output)
    else:
        wait_until((tmp_path / phase).exists, child, output)
    code, text = terminate_controller(child, output)
    ledger = ledger_of(tmp_path, "docker_local")
    run_id = ledger["run_id"]
    assert resources(run_id) == NOTHING
    assert left_running(child.pid, run_id) == []
    assert code == pytest.ExitCode.INTERRUPTED, text[-3000:]
    ledger = ledger_of(tmp_path, "docker_local")
    assert ledger["complete"] is False
    assert ledger["exit_status"] == pytest.ExitCode.INTERRUPTED
    assert_incomplete_for_the_gate(tmp_path, "docker_local")

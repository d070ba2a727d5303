"""A ``command`` service through the whole plugin, as a team runs it: pytest in a project of its
own, real processes. Broken is never a skip: a command that cannot start fails the run and the
gate, naming why, and a service that dies mid-run fails the rest of the suite fast."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from test_framework.backends.process_records import read_records
from tests.backends.test_local_service import PLAIN, gone_within, read_pids
from tests.support.environment import isolated_environment, run_captured

RUN_TIMEOUT_S = 120.0  # generous: the machine is shared; only proves "does not hang"


def make_project(folder: Path, command: list[str], tests: str, **keys: object) -> Path:
    table = "".join(f"{key} = {json.dumps(value)}\n" for key, value in keys.items())
    (folder / "pyproject.toml").write_text(
        '[tool.test_framework]\nreport_dir = "out"\n[tool.test_framework.service]\n'
        f"command = {json.dumps(command)}\n{table}"
    )
    (folder / "pytest.ini").write_text(
        "[pytest]\naddopts = -p no:cacheprovider\nasyncio_default_fixture_loop_scope = function\n"
    )
    (folder / "test_suite.py").write_text(textwrap.dedent(tests))
    return folder


def pytest_run(folder: Path, *more: str) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, "-m", "pytest", "test_suite.py", "--mc-mode", "minimal", *more]
    return run_captured(argv, cwd=folder, env=isolated_environment(), timeout=RUN_TIMEOUT_S)


def gate(folder: Path) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, "-m", "test_framework", "gate", "out"]
    return run_captured(argv, cwd=folder, env=isolated_environment(), timeout=RUN_TIMEOUT_S)


TWO_TESTS = """
import pytest
pytestmark = pytest.mark.mission_critical

def test_one(mc_endpoints):
    assert mc_endpoints.http_url

def test_two(mc_endpoints):
    assert mc_endpoints.http_url
"""


def test_a_command_not_on_path_is_broken_before_any_test_and_fails_the_gate(
    tmp_path: Path,
) -> None:
    folder = make_project(tmp_path, ["no-such-chat-server", "--port", "{port}"], TWO_TESTS)
    done = pytest_run(folder)
    assert done.returncode == 4, done.stdout + done.stderr
    assert (
        "ERROR: mode minimal is configured but unhealthy: local command: no-such-chat-server"
        " --port {port}: 'no-such-chat-server' is not on PATH" in done.stderr
    )
    assert "passed" not in done.stdout
    ledger = json.loads((folder / "out" / "minimal" / "ledger.json").read_text())
    assert ledger["status"] == "error"
    assert gate(folder).returncode == 1


def test_a_command_that_exits_before_ready_fails_each_test_at_once_with_its_status_and_log(
    tmp_path: Path,
) -> None:
    script = "print('cannot open config.yml'); raise SystemExit(9)"
    folder = make_project(tmp_path, [sys.executable, "-c", script], TWO_TESTS, ready_timeout_s=60)
    started = time.monotonic()
    done = pytest_run(folder)
    assert time.monotonic() - started < 30  # never the ready timeout, let alone one per test
    assert done.returncode == 1, done.stdout + done.stderr
    assert done.stdout.count("exited with status 9 before it was ready") >= 2
    assert "cannot open config.yml" in done.stdout
    assert "2 error" in done.stdout
    assert gate(folder).returncode == 1


MID_RUN = """
import time
import pytest
pytestmark = pytest.mark.mission_critical

def test_a_first(mc_endpoints):
    time.sleep(1.5)

def test_b_second(mc_endpoints):
    pass

def test_c_third(mc_endpoints):
    pass
"""


def test_a_service_that_dies_mid_run_fails_the_remaining_tests_fast_saying_when(
    tmp_path: Path,
) -> None:
    command = [sys.executable, str(PLAIN), "--port", "{port}", "--exit-after", "0.5"]
    folder = make_project(tmp_path, [*command, "--status", "5"], MID_RUN, ws_path="/ws")
    done = pytest_run(folder, "-p", "no:randomly")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "1 passed, 2 errors" in done.stdout
    assert done.stdout.count("service exited with status 5 at ") >= 2
    assert "listening on" in done.stdout  # the log's tail, in each failure's report


def test_the_probe_names_the_kind_it_found_without_starting_it(tmp_path: Path) -> None:
    marker = tmp_path / "started"
    script = f"open({str(marker)!r}, 'w')"
    folder = make_project(tmp_path, [sys.executable, "-c", script], TWO_TESTS)
    argv = [sys.executable, "-m", "test_framework", "probe", "--json"]
    done = run_captured(argv, cwd=folder, env=isolated_environment(), timeout=RUN_TIMEOUT_S)
    minimal = next(p for p in json.loads(done.stdout)["probes"] if p["mode"] == "minimal")
    assert minimal["status"] == "available"
    assert minimal["reason"] == f'local command: {sys.executable} -c "{script}"'
    assert minimal["elapsed_ms"] < 50
    assert not marker.exists()


def test_ctrl_c_during_the_start_ends_the_service_and_says_so_in_one_line(tmp_path: Path) -> None:
    pid_file = tmp_path / "pids"
    command = [sys.executable, str(PLAIN), "--port", "{port}", "--delay", "60", "--child"]
    folder = make_project(tmp_path, [*command, "--pid-file", str(pid_file)], TWO_TESTS)
    argv = [sys.executable, "-m", "pytest", "test_suite.py", "--mc-mode", "minimal"]
    run = subprocess.Popen(
        argv,
        cwd=folder,
        env=isolated_environment(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # its own group, as a terminal's foreground job
    )
    try:
        pids = read_pids(pid_file, 2)
        os.killpg(run.pid, signal.SIGINT)
        output, _ = run.communicate(timeout=30)
    finally:
        if run.poll() is None:
            os.killpg(run.pid, signal.SIGKILL)
            run.communicate()
    assert run.returncode == 2, output
    lines = [line for line in output.splitlines() if "interrupted while starting" in line]
    assert len(lines) == 1, output
    assert lines[0].startswith(f"interrupted while starting local command: {sys.executable} ")
    assert lines[0].endswith(": its process group was ended")
    assert gone_within(pids, 0) == []


WAITS_FOR_THE_SERVICE_AT_IMPORT = """
import os
import signal
import time
from pathlib import Path

import pytest
pytestmark = pytest.mark.mission_critical

# Collection imports this module: the service must be on its way already.
PIDS = Path({pid_file!r})
deadline = time.monotonic() + 30
while not (PIDS.is_file() and PIDS.read_text().endswith("\\n")) and time.monotonic() < deadline:
    time.sleep(0.01)
if not PIDS.is_file():
    raise RuntimeError("the service was not started while pytest collected")
if {interrupt!r}:
    os.kill(os.getpid(), signal.SIGINT)

def test_one(mc_endpoints):
    assert mc_endpoints.http_url
"""


def early_start_project(tmp_path: Path, *, interrupt: bool, child: bool = False) -> Path:
    """A project whose test module, imported by the collection, waits for the service's pid
    file (``tmp_path / "pids"``), then sends itself SIGINT if ``interrupt``."""
    pid_file = tmp_path / "pids"
    tests = WAITS_FOR_THE_SERVICE_AT_IMPORT.format(pid_file=str(pid_file), interrupt=interrupt)
    command = [sys.executable, str(PLAIN), "--port", "{port}", "--pid-file", str(pid_file)]
    return make_project(tmp_path, [*command, "--child"] if child else command, tests)


def test_the_service_starts_before_pytest_collects_and_before_any_test_asks_for_it(
    tmp_path: Path,
) -> None:
    folder = early_start_project(tmp_path, interrupt=False)
    done = pytest_run(folder)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 passed" in done.stdout


def test_ctrl_c_while_pytest_collects_ends_the_service_begun_and_says_so_in_one_line(
    tmp_path: Path,
) -> None:
    folder = early_start_project(tmp_path, interrupt=True, child=True)
    done = pytest_run(folder)
    output = done.stdout + done.stderr
    assert done.returncode == 2, output
    lines = [line for line in output.splitlines() if "interrupted while starting" in line]
    assert len(lines) == 1, output
    assert lines[0].endswith(": its process group was ended")
    assert gone_within(read_pids(tmp_path / "pids", 2), 0) == []


def test_collect_only_starts_no_service(tmp_path: Path) -> None:
    marker = tmp_path / "started"
    script = f"open({str(marker)!r}, 'w')"
    folder = make_project(tmp_path, [sys.executable, "-c", script], TWO_TESTS)
    done = pytest_run(folder, "--collect-only")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "2 tests collected" in done.stdout
    assert not marker.exists()
    assert list((folder / "out").rglob("service*.log")) == []  # not even spawned


def test_a_usage_error_after_the_early_start_ends_the_service_and_removes_its_record(
    tmp_path: Path,
) -> None:
    folder = early_start_project(tmp_path, interrupt=False)
    # After the harness's own pytest_configure, which set the service starting.
    (folder / "conftest.py").write_text(
        "import pytest\n\n"
        "@pytest.hookimpl(trylast=True)\n"
        "def pytest_configure(config):\n"
        "    raise pytest.UsageError('a later plugin refuses this configuration')\n"
    )
    done = pytest_run(folder)
    assert done.returncode == 4, done.stdout + done.stderr
    assert "a later plugin refuses this configuration" in done.stderr
    assert read_records(folder / "out") == []

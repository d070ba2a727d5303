"""Whole pytest runs in docker_local mode, as child processes: nothing is left after a passing or
failing run, after SIGINT or SIGTERM, or, after SIGKILL, once the next run or ``cleanup`` ran;
and ``-n 2`` workers share a single stack."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.support.docker_resources import (
    ALPINE_TEST,
    NOTHING,
    child_environment,
    resources,
    run_cleanup,
)

HOLD = """
import json, os, pathlib, time

def test_holds_the_stack(mc_endpoints, mc_run):
    ready = {"run_id": mc_run.run_id, "http_url": mc_endpoints.http_url}
    pathlib.Path(os.environ["READY_FILE"]).write_text(json.dumps(ready))
    time.sleep(300)
"""

PASS_AND_FAIL = """
import json, os, pathlib, urllib.request

def test_passes(mc_endpoints, mc_run):
    pathlib.Path(os.environ["READY_FILE"]).write_text(json.dumps({"run_id": mc_run.run_id}))
    with urllib.request.urlopen(mc_endpoints.http_url + "/health", timeout=5) as reply:
        assert reply.status == 200

def test_fails(mc_endpoints):
    assert mc_endpoints.http_url == "deliberately wrong"
"""

SHARED = """
import json, os, pathlib, subprocess, time
import pytest

@pytest.mark.parametrize("n", range(6))
def test_records_the_stack_it_sees(mc_endpoints, mc_run, n):
    time.sleep(0.3)  # keep both workers busy at once
    ids = subprocess.run(
        ["docker", "ps", "-q", "--filter", f"label=mission-critical.run-id={mc_run.run_id}"],
        capture_output=True, text=True, check=True,
    ).stdout.split()
    record = {"run_id": mc_run.run_id, "worker": mc_run.worker_id,
              "ws_url": mc_endpoints.ws_url, "containers": len(ids)}
    out = pathlib.Path(os.environ["RECORD_DIR"]) / f"{n}.json"
    out.write_text(json.dumps(record))
"""


def project(tmp_path: Path, test_source: str) -> Path:
    """A user's project pointing the harness at this repository's compose file."""
    root = tmp_path / "proj"
    root.mkdir()
    (root / "pyproject.toml").write_text(
        "[tool.test_framework]\n"
        'report_dir = "reports"\n'
        "[tool.test_framework.service]\n"
        'preset = "agent-events"\n'
        f'compose_file = "{ALPINE_TEST}"\n'
        "[tool.pytest.ini_options]\n"
        'addopts = ["-p", "no:cacheprovider"]\n'
    )
    (root / "test_run.py").write_text(test_source)
    return root


def start_pytest(root: Path, *args: str, **env: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "pytest", "--mc-mode", "docker_local", "-q", *args],
        cwd=root,
        env=child_environment(**env),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def wait_for(path: Path, child: subprocess.Popen[str], timeout_s: float = 180) -> dict[str, str]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if path.is_file() and path.read_text():
            return json.loads(path.read_text())  # type: ignore[no-any-return]
        if child.poll() is not None:
            output = child.stdout.read() if child.stdout else ""
            pytest.fail(f"the run ended before its stack was up:\n{output}")
        time.sleep(0.1)
    child.kill()
    pytest.fail(f"no stack within {timeout_s} s")


def finish(child: subprocess.Popen[str], timeout_s: float = 120) -> tuple[int, str]:
    output, _ = child.communicate(timeout=timeout_s)
    return child.returncode, output


def test_a_run_with_a_passing_and_a_failing_test_leaves_nothing(tmp_path: Path) -> None:
    root = project(tmp_path, PASS_AND_FAIL)
    ready = tmp_path / "ready.json"
    code, output = finish(start_pytest(root, READY_FILE=str(ready)))
    assert code == 1, output
    assert "1 failed, 1 passed" in output
    assert resources(json.loads(ready.read_text())["run_id"]) == NOTHING


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_an_interrupted_run_takes_its_stack_down_before_it_exits(
    tmp_path: Path, signum: signal.Signals
) -> None:
    root = project(tmp_path, HOLD)
    ready = tmp_path / "ready.json"
    child = start_pytest(root, READY_FILE=str(ready))
    run_id = wait_for(ready, child)["run_id"]
    assert len(resources(run_id)["containers"]) == 1
    child.send_signal(signum)
    code, output = finish(child)
    assert code == pytest.ExitCode.INTERRUPTED, output
    assert resources(run_id) == NOTHING


@pytest.mark.parametrize("then", ["cleanup", "next run"])
def test_a_killed_run_leaves_its_stack_until_the_next_run_or_cleanup_removes_it(
    tmp_path: Path, then: str
) -> None:
    root = project(tmp_path, HOLD)
    ready = tmp_path / "ready.json"
    child = start_pytest(root, READY_FILE=str(ready))
    run_id = wait_for(ready, child)["run_id"]
    child.send_signal(signal.SIGKILL)
    finish(child)
    left = resources(run_id)
    assert [len(left[kind]) for kind in ("containers", "networks", "volumes")] == [1, 1, 1]

    if then == "cleanup":
        done = run_cleanup()
        assert done.returncode == 0, done.stdout + done.stderr
    else:
        (root / "test_run.py").write_text(PASS_AND_FAIL.split("def test_fails")[0])
        next_ready = tmp_path / "next.json"
        code, output = finish(start_pytest(root, READY_FILE=str(next_ready)))
        assert code == 0, output
    assert resources(run_id) == NOTHING


def test_two_xdist_workers_share_one_stack_and_leave_nothing(tmp_path: Path) -> None:
    root = project(tmp_path, SHARED)
    records = tmp_path / "records"
    records.mkdir()
    code, output = finish(start_pytest(root, "-n", "2", RECORD_DIR=str(records)))
    assert code == 0, output
    seen = [json.loads(path.read_text()) for path in sorted(records.glob("*.json"))]
    assert len(seen) == 6
    assert {entry["worker"] for entry in seen} == {"gw0", "gw1"}
    assert len({entry["ws_url"] for entry in seen}) == 1
    assert {entry["containers"] for entry in seen} == {1}
    assert resources(seen[0]["run_id"]) == NOTHING

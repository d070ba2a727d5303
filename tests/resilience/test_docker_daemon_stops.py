"""The Docker daemon stops in the middle of a docker_local run: the run ends with a clear error,
within bounds, and once the daemon is back the next run removes what the first one left.

Stopping dockerd affects everything on the machine that uses Docker, so the test runs only with
``ALLOW_DOCKERD_STOP=1`` (``.ci/run`` sets it), holds
``flock /tmp/mc-dockerd.lock`` (the machine's convention) from before the stop until the daemon
answers again, restarts it exactly as ``.ci/setup-docker.sh`` does, and restores it even when the
test fails.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.support.docker_resources import NOTHING, child_environment, require_docker, resources
from tests.support.dockerd_lock import dockerd_lock

ROOT = Path(__file__).resolve().parents[2]
SUITE = "tests/mission_critical"
PID_FILE = Path("/var/run/docker.pid")
DAEMON_S = 60.0  # for dockerd to stop (it stops its containers first) or to answer again
RUN_TIMEOUT_S = 300.0  # generous: only proves "does not hang"
# Exactly the start of .ci/setup-docker.sh (step 2).
START_DOCKERD = "setsid dockerd >/tmp/dockerd.log 2>&1 </dev/null &"


def docker_answers() -> bool:
    done = subprocess.run(["docker", "info"], capture_output=True, timeout=30, check=False)
    return done.returncode == 0


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")


def wait_for(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + DAEMON_S
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} within {DAEMON_S:g} s")
        time.sleep(0.2)


def start_dockerd() -> None:
    # As .ci/setup-docker.sh: a daemon killed earlier leaves its pid file, and dockerd refuses
    # to start then.
    if PID_FILE.is_file():
        with contextlib.suppress(ValueError):
            if alive(int(PID_FILE.read_text().strip())):
                return
        PID_FILE.unlink()
    subprocess.run(["bash", "-c", START_DOCKERD], check=True, timeout=30)
    wait_for(docker_answers, "dockerd did not answer after its restart")


@pytest.fixture
def daemon_to_stop() -> Iterator[int]:
    """The local dockerd's pid, with the machine's lock held; restarted at the end if down."""
    require_docker()
    # Opt-in: on a developer's machine the daemon is often another tool's (systemd, Docker
    # Desktop), and its other containers would stop with it.
    if os.environ.get("ALLOW_DOCKERD_STOP") != "1":
        pytest.skip(
            "stops this machine's Docker daemon for about 10 s: set ALLOW_DOCKERD_STOP=1"
            " to run it (.ci/run does)"
        )
    if os.geteuid() != 0:
        pytest.skip("stopping and restarting dockerd needs root (as .ci/setup-docker.sh)")
    if os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock") != (
        "unix:///var/run/docker.sock"
    ):
        pytest.skip("DOCKER_HOST names a daemon this test did not start and must not stop")
    if not PID_FILE.is_file():
        pytest.skip(f"no {PID_FILE}: dockerd is not managed the way .ci/setup-docker.sh does")
    with contextlib.ExitStack() as stack:
        try:
            stack.enter_context(dockerd_lock(shared=False, poll_s=1.0))
        except TimeoutError as exc:
            pytest.fail(str(exc))
        try:
            yield int(PID_FILE.read_text().strip())
        finally:
            start_dockerd()  # a no-op when the daemon is up


def pytest_run(tmp_path: Path, name: str, *args: str, **env: str) -> subprocess.Popen[str]:
    argv = [sys.executable, "-m", "pytest", "--mc-mode", "docker_local", "-p", "no:cacheprovider"]
    argv += ["--mc-report-dir", str(tmp_path / name), "-q", *args]
    return subprocess.Popen(
        argv,
        cwd=ROOT,
        env=child_environment(**env),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def test_a_daemon_stopped_mid_run_ends_the_run_clearly_and_the_next_run_cleans_up(
    tmp_path: Path, daemon_to_stop: int
) -> None:
    first = pytest_run(
        tmp_path,
        "first",
        SUITE,
        "-n",
        "2",
        "-m",
        "not deployment_control",
        "-p",
        "tests.resilience.phase_marker",
        "--mc-profile",
        "message_timeout_s=5",
        MC_PHASE="run",
        MC_PHASE_DIR=str(tmp_path),
    )
    try:
        deadline = time.monotonic() + RUN_TIMEOUT_S
        while not (tmp_path / "run").exists():
            assert first.poll() is None, "the run ended before the daemon was stopped"
            assert time.monotonic() < deadline, "the suite did not start"
            time.sleep(0.05)
        stopped_at = time.monotonic()
        os.kill(daemon_to_stop, signal.SIGTERM)
        wait_for(lambda: not alive(daemon_to_stop), "dockerd did not stop")
        output, _ = first.communicate(timeout=RUN_TIMEOUT_S)
        ended_after = time.monotonic() - stopped_at
    finally:
        if first.poll() is None:
            first.kill()
            first.communicate()
    print(f"the run ended {ended_after:.1f} s after SIGTERM to dockerd")
    ledger = json.loads((tmp_path / "first" / "docker_local" / "ledger.json").read_text())
    assert first.returncode == 1, output[-3000:]
    assert ledger["complete"] is True
    failed = [test for test in ledger["tests"] if test["outcome"] in ("failed", "error")]
    assert failed, output[-3000:]
    # The daemon stopped the container (SIGTERM: the service drained, cancelling the runs in
    # flight); after that, every test failed at once saying the deployment is gone, and none
    # waited out a timeout.
    fast = [test for test in failed if "backend unavailable since" in (test["message"] or "")]
    assert len(fast) >= 20, [test["message"] for test in failed][:5]
    assert len(failed) - len(fast) <= 4, [t["message"] for t in failed if t not in fast]
    for test in failed:
        assert "timed out after" not in (test["message"] or ""), test
    assert "could not be removed, the Docker daemon stopped answering" in output, output[-3000:]
    assert ended_after < 120

    start_dockerd()
    left = resources(ledger["run_id"])
    print(f"left by the run: {json.dumps({k: len(v) for k, v in left.items()})}")

    second = pytest_run(tmp_path, "second", f"{SUITE}/test_mc_ping_http.py")
    output, _ = second.communicate(timeout=RUN_TIMEOUT_S)
    assert second.returncode == 0, output[-3000:]
    if left != NOTHING:
        assert "leftovers of earlier runs" in output, output[-3000:]
    second_run = json.loads((tmp_path / "second" / "docker_local" / "ledger.json").read_text())
    assert resources(ledger["run_id"]) == NOTHING
    assert resources(second_run["run_id"]) == NOTHING

"""Nothing a local service started outlives the process that started it, even SIGKILLed, with
no cleanup step run; and a process group is signalled only while it is provably the harness's."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from test_framework.backends import watchdog
from test_framework.backends.watchdog import MARKER_ENV, end_group, group_members
from tests.backends.test_local_service import PLAIN, START_S, alive, gone_within, read_pids
from tests.support.environment import ROOT, isolated_environment

ORPHAN_WINDOW_S = 2.0  # the "0 service processes alive 2 s later"

OWNER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from test_framework.launch import Launch
    from test_framework.backends.process import ServiceProcess

    folder = Path(sys.argv[1])
    argv = (sys.executable, sys.argv[2], "--port", "0", "--child")
    argv += ("--pid-file", str(folder / "pids"))
    launch = Launch(
        argv, sys.executable, {"PATH": "/usr/bin:/bin"}, folder, folder / "service.log",
        "owner-test-marker", 5.0, "local command: plain",
    )
    ServiceProcess(launch)
    print("started", flush=True)
    time.sleep(600)
    """
)


def test_a_group_without_the_marker_is_never_signalled(tmp_path: Path) -> None:
    stranger = subprocess.Popen(["sleep", "60"], start_new_session=True)
    try:
        assert group_members(stranger.pid, "some-run-marker") == []
        assert end_group(stranger.pid, "some-run-marker", 0.1) == "gone"
        assert alive(stranger.pid)
    finally:
        stranger.kill()
        stranger.wait()


def test_a_marked_group_is_ended_with_its_children(tmp_path: Path) -> None:
    env = {**os.environ, MARKER_ENV: "marked-group-test"}
    argv = [sys.executable, str(PLAIN), "--port", "0", "--child", "--pid-file", str(tmp_path / "p")]
    leader = subprocess.Popen(argv, env=env, start_new_session=True, stdout=subprocess.DEVNULL)
    try:
        pids = read_pids(tmp_path / "p", 2)
        assert sorted(group_members(leader.pid, "marked-group-test")) == sorted(pids)
        assert end_group(leader.pid, "marked-group-test", 5.0) == "stopped"
        leader.wait(5)
        # A process past its signal may still be exiting for a moment (its environ is
        # already unreadable, so the group counts it out): polled, not a timing target.
        assert gone_within(pids, 2.0) == []
    finally:
        leader.kill()
        leader.wait()


def test_the_service_and_its_child_go_when_their_owner_is_sigkilled(tmp_path: Path) -> None:
    owner = subprocess.Popen(
        [sys.executable, "-c", OWNER, str(tmp_path), str(PLAIN)],
        env=isolated_environment(),
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert owner.stdout is not None
        assert owner.stdout.readline() == "started\n"
        pids = read_pids(tmp_path / "pids", 2)
        owner.send_signal(signal.SIGKILL)
        owner.wait()
        assert gone_within(pids, ORPHAN_WINDOW_S) == []
    finally:
        owner.kill()
        owner.wait()
        if owner.stdout is not None:
            owner.stdout.close()


SUITE = textwrap.dedent(
    """
    import time
    from pathlib import Path

    def test_holds_the_service(mc_endpoints):
        Path(__file__).with_name("in-test-" + str(time.time_ns())).touch()
        time.sleep(600)

    def test_another(mc_endpoints):
        Path(__file__).with_name("in-test-" + str(time.time_ns())).touch()
        time.sleep(600)
    """
)


@pytest.mark.parametrize("workers", [0, 2])
def test_no_service_process_outlives_a_sigkilled_pytest(tmp_path: Path, workers: int) -> None:
    pid_file = tmp_path / "pids"
    command = [sys.executable, str(PLAIN), "--port", "{port}", "--child"]
    command += ["--pid-file", str(pid_file)]
    (tmp_path / "pyproject.toml").write_text(
        f'[tool.test_framework]\nreport_dir = "out"\n[tool.test_framework.service]\n'
        f"command = {json.dumps(command)}\n"
    )
    (tmp_path / "test_suite.py").write_text(SUITE)
    argv = [sys.executable, "-m", "pytest", "test_suite.py", "--mc-mode", "minimal", "-q"]
    argv += ["-p", "no:cacheprovider", "-o", "asyncio_default_fixture_loop_scope=function"]
    if workers:
        argv += ["-n", str(workers)]
    run = subprocess.Popen(
        argv,
        cwd=tmp_path,
        env=isolated_environment({"PYTHONPATH": str(ROOT)}),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        services = max(workers, 1)
        pids = read_pids(pid_file, 2 * services)
        deadline = time.monotonic() + START_S
        while len(list(tmp_path.glob("in-test-*"))) < services and time.monotonic() < deadline:
            time.sleep(0.02)
        assert all(alive(pid) for pid in pids)
        # Every process of the run at once, as an out-of-memory killer or a CI runner's
        # hard cancel does: nobody gets to run a teardown.
        os.killpg(run.pid, signal.SIGKILL)
        run.wait()
        assert gone_within(pids, ORPHAN_WINDOW_S) == []
    finally:
        if run.poll() is None:
            os.killpg(run.pid, signal.SIGKILL)
            run.wait()


def test_a_watchdog_told_the_group_is_ended_exits_at_once_and_signals_nothing(
    tmp_path: Path,
) -> None:
    env = {**os.environ, MARKER_ENV: "told-ended-test"}
    leader = subprocess.Popen(["sleep", "60"], env=env, start_new_session=True)
    script = Path(watchdog.__file__)
    dog = subprocess.Popen(
        [sys.executable, "-I", "-S", str(script), str(leader.pid), "told-ended-test", "1"],
        stdin=subprocess.PIPE,
    )
    try:
        assert dog.stdin is not None
        dog.stdin.write(watchdog.GROUP_ENDED)
        dog.stdin.close()
        assert dog.wait(START_S) == 0
        assert alive(leader.pid)  # it took the harness's word and looked at nothing
    finally:
        dog.kill()
        dog.wait()
        leader.kill()
        leader.wait()

"""A service group a run left behind (its owner and its watchdog both gone) is ended by
``python -m test_framework cleanup`` and by the next run, and only while it is provably ours."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from test_framework.backends.local_service import LocalServiceBackend
from test_framework.backends.process_records import ProcessRecord, read_records, write_record
from test_framework.backends.watchdog import MARKER_ENV
from test_framework.settings import load_settings
from tests.backends.test_local_service import PLAIN, alive, gone_within, project, read_pids
from tests.support.environment import isolated_environment, run_captured
from tests.support.runs import run_context


def gone_owner() -> int:
    """The pid of a process that has exited (and been reaped)."""
    done = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        check=True,
        capture_output=True,
        text=True,
    )
    return int(done.stdout)


@pytest.fixture
def left_behind(tmp_path: Path) -> Iterator[tuple[Path, list[int]]]:
    """A marked service group with a child, recorded by a run whose owner is gone."""
    marker = "20260101000000-dead01-gw0-1-abcd"
    argv = [sys.executable, str(PLAIN), "--port", "0", "--child", "--pid-file", str(tmp_path / "p")]
    leader = subprocess.Popen(
        argv,
        env={**os.environ, MARKER_ENV: marker},
        start_new_session=True,
        stdout=subprocess.DEVNULL,
    )
    pids = read_pids(tmp_path / "p", 2)
    record = ProcessRecord(
        run_id="20260101000000-dead01",
        worker_id="gw0",
        pid=leader.pid,
        pgid=leader.pid,
        marker=marker,
        owner_pid=gone_owner(),
        started_at=0.0,
        command="local command: plain",
        log="",
    )
    write_record(tmp_path / "out", record)
    yield tmp_path, pids
    leader.kill()
    leader.wait()


def test_cleanup_ends_a_group_whose_run_is_gone(left_behind: tuple[Path, list[int]]) -> None:
    root, pids = left_behind
    (root / "pyproject.toml").write_text('[tool.test_framework]\nreport_dir = "out"\n')
    argv = [sys.executable, "-m", "test_framework", "cleanup", "--root", str(root)]
    done = run_captured(
        argv, env=isolated_environment({"DOCKER_HOST": "unix:///nonexistent.sock"}), timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert (
        f"stopped process group {pids[0]} (local command: plain) of run 20260101000000-dead01"
        in (done.stdout)
    )
    assert gone_within(pids, 2.0) == []
    assert read_records(root / "out") == []


def test_the_next_run_ends_a_group_a_gone_run_left(left_behind: tuple[Path, list[int]]) -> None:
    root, pids = left_behind
    settings = load_settings(project(root, [sys.executable, str(PLAIN), "--port", "{port}"]), {})
    backend = LocalServiceBackend(settings, run_context(root / "shared", "20260102000000-next01"))
    try:
        backend.start()
        assert gone_within(pids, 2.0) == []
        assert [r.run_id for r in read_records(root / "out")] == ["20260102000000-next01"]
    finally:
        backend.stop()


def test_a_recorded_group_whose_processes_lack_the_marker_is_left_alone(tmp_path: Path) -> None:
    stranger = subprocess.Popen(["sleep", "60"], start_new_session=True)
    try:
        record = ProcessRecord(
            run_id="r",
            worker_id="master",
            pid=stranger.pid,
            pgid=stranger.pid,
            marker="not-this-process",
            owner_pid=gone_owner(),
            started_at=0.0,
            command="x",
            log="",
        )
        write_record(tmp_path / "out", record)
        (tmp_path / "pyproject.toml").write_text('[tool.test_framework]\nreport_dir = "out"\n')
        argv = [sys.executable, "-m", "test_framework", "cleanup", "--root", str(tmp_path)]
        env = isolated_environment({"DOCKER_HOST": "unix:///nonexistent.sock"})
        done = run_captured(argv, env=env, timeout=60)
        assert done.returncode == 0, done.stderr
        assert "process group" not in done.stdout
        assert alive(stranger.pid)
        assert read_records(tmp_path / "out") == []  # a record naming nothing of ours is dropped
    finally:
        stranger.kill()
        stranger.wait()

"""``python -m test_framework`` as a process: how it ends when its reader goes away."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from test_framework.cli import SIGPIPE_EXIT_STATUS
from tests.support.environment import isolated_environment

REPO = Path(__file__).resolve().parents[2]


def test_a_reader_that_went_away_ends_the_probe_quietly_with_the_sigpipe_status(
    tmp_path: Path,
) -> None:
    read_end, write_end = os.pipe()
    os.close(read_end)  # like `| head -1` having exited: every write fails with EPIPE
    env = isolated_environment({"DOCKER_HOST": f"unix://{tmp_path}/no-daemon.sock"})
    try:
        done = subprocess.run(
            [sys.executable, "-m", "test_framework", "probe", "--json"],
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            cwd=REPO,
            env=env,
            timeout=60,
            check=False,
        )
    finally:
        os.close(write_end)
    assert done.returncode == SIGPIPE_EXIT_STATUS, done.stderr
    assert "Traceback" not in done.stderr
    assert "Exception ignored" not in done.stderr

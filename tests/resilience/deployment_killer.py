"""A pytest plugin, loaded with ``-p tests.resilience.deployment_killer``, that kills the run's
deployment once a process has finished ``MC_KILL_AFTER`` tests.

Why a plugin: minimal mode's service runs inside each pytest process, so nothing outside can kill
it without killing the process too (and a killed xdist worker is replaced, with a fresh server,
which tests nothing). So the kill happens inside the run, between two tests, the same way for
every mode; each kill writes ``<worker>.json`` with its Unix time to ``MC_KILL_DIR`` (outside the
report folder). ``MC_KILL_HOW`` says how:

- ``inprocess``: this process closes its own in-process service (connections closed with 1001,
  the port stops listening), as a crash would leave it; every worker kills its own;
- ``docker``: ``docker kill`` of the run's containers (SIGKILL; the first worker to get there);
- ``pid:<n>``: SIGKILL to process ``n`` (the first worker to get there).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from test_framework.engine.labels import RUN_ID
from test_framework.pytest_plugin.state import STATE

_finished = 0


def pytest_runtest_logfinish(nodeid: str, location: tuple[str, int | None, str]) -> None:
    global _finished
    config = _CONFIG[0]
    if config.pluginmanager.hasplugin("dsession"):
        return  # the xdist controller hears of every worker's tests; the workers count their own
    _finished += 1
    if _finished != int(os.environ["MC_KILL_AFTER"]):
        return
    state = config.stash[STATE]
    worker = state.run.worker_id
    how = os.environ["MC_KILL_HOW"]
    folder = Path(os.environ["MC_KILL_DIR"])
    if how != "inprocess":
        try:  # a shared deployment: only the first worker here kills it
            (folder / "claimed").open("x").close()
        except FileExistsError:
            return
    started = time.time()
    if how == "inprocess":
        assert state.backend is not None, "the in-process service was never started"
        state.backend.stop()
    elif how == "docker":
        label = f"label={RUN_ID}={state.run.run_id}"
        ids = subprocess.run(
            ["docker", "ps", "-q", "--filter", label],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        ).stdout.split()
        assert ids, f"no running container carries {label}"
        subprocess.run(["docker", "kill", *ids], capture_output=True, timeout=60, check=True)
    elif how.startswith("pid:"):
        os.kill(int(how.removeprefix("pid:")), signal.SIGKILL)
    else:
        raise pytest.UsageError(f"MC_KILL_HOW={how!r}: use inprocess, docker or pid:<n>")
    record = {"worker": worker, "after": nodeid, "started": started, "killed_at": time.time()}
    (folder / f"{worker}.json").write_text(json.dumps(record))


_CONFIG: list[pytest.Config] = []


def pytest_configure(config: pytest.Config) -> None:
    _CONFIG.append(config)

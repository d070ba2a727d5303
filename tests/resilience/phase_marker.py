"""A pytest plugin, loaded with ``-p tests.resilience.phase_marker``, that tells a test when a run
has reached a phase, so the test can send Ctrl-C exactly then. It writes ``<phase>`` to
``MC_PHASE_DIR`` when ``MC_PHASE`` begins:

- ``run``: a test process has finished 3 tests (the rest of the suite is still to run);
- ``report``: the controller's session is finishing (every test has run; the ledger, the
  stack's teardown and the terminal report are to come). The phase lasts milliseconds, so the
  plugin holds it open for up to 60 s, until the signal arrives.
"""

from __future__ import annotations

import contextlib
import os
import time
from pathlib import Path

import pytest

_finished = 0


def _mark(phase: str) -> None:
    with contextlib.suppress(FileExistsError):  # another worker got there first
        (Path(os.environ["MC_PHASE_DIR"]) / phase).open("x").close()


def pytest_runtest_logfinish(nodeid: str, location: tuple[str, int | None, str]) -> None:
    global _finished
    if os.environ.get("MC_PHASE") != "run" or os.environ.get("PYTEST_XDIST_WORKER") is None:
        return
    _finished += 1
    if _finished == 3:
        _mark("run")


@pytest.hookimpl(tryfirst=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if os.environ.get("MC_PHASE") != "report" or hasattr(session.config, "workerinput"):
        return
    _mark("report")
    time.sleep(60)

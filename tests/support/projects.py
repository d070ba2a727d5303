"""Small project folders: a pyproject.toml for tests that load settings, and pytester projects
that run the harness."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

from tests.support.environment import run_captured

# docs/protocol.md's adapter, as this repository's own pyproject.toml has it, without the
# service's factory and compose file (a test names those when it needs them).
AGENT_EVENTS = '[tool.test_framework.service]\npreset = "agent-events"\n'


def agent_events_project(folder: Path) -> Path:
    """``folder`` with a pyproject.toml that uses the agent-events preset; returns ``folder``."""
    (folder / "pyproject.toml").write_text(AGENT_EVENTS, "utf-8")
    return folder


# [tool.test_framework] for a pytester project that runs against this repository's service.
REFERENCE_PROJECT = (
    '[tool.test_framework]\nreport_dir = "out"\n\n'
    + AGENT_EVENTS
    + 'factory = "agent_backend.testing:start_in_process"\n'
)


def harness_project(
    pytester: pytest.Pytester,
    monkeypatch: pytest.MonkeyPatch,
    pyproject: str = REFERENCE_PROJECT,
    ini: str = "",
) -> pytest.Pytester:
    """``pytester``'s folder as a project using the harness, with ``pyproject`` and ``ini``
    added to the pytest ini; no mode, report or staging setting of this process reaches it."""
    for name in ("TEST_MODE", "MC_REQUIRED_MODES", "MC_REPORT_DIR", "STAGING_WEBSOCKET_URL"):
        monkeypatch.delenv(name, raising=False)
    pytester.makefile(".toml", pyproject=pyproject)
    pytester.makeini(
        "[pytest]\naddopts = -p no:cacheprovider\nasyncio_default_fixture_loop_scope = function\n"
        + ini
    )
    return pytester


def install_copy(folder: Path, target: Path) -> None:
    """Install the project in ``folder`` as a copy (not editable, no dependencies) into
    ``target``, a folder to put on ``PYTHONPATH``: with uv where it is on PATH, else pip."""
    uv = shutil.which("uv")
    installer = [uv, "pip"] if uv else [sys.executable, "-m", "pip"]
    done = run_captured(
        [*installer, "install", "-q", "--no-deps", "--target", str(target), str(folder)],
        cwd=folder.parent,
        timeout=180,
    )
    assert done.returncode == 0, done.stdout + done.stderr

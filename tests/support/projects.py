"""Small project folders for tests that load settings: a pyproject.toml and nothing else."""

from __future__ import annotations

from pathlib import Path

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

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

"""The environment for a harness child process that must see none of this process's settings."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def isolated_environment(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """No mode, staging, profile or worker setting of this process leaks into the child.

    ``DOCKER_HOST`` does: it says which daemon this test run may use (an unreachable one on a
    machine treated as having none), and a child that dropped it would find the system socket.
    A test that needs another daemon names it in ``extra``.
    """
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("PYTEST_", "TEST_", "MC_", "STAGING_", "COV_", "HYPOTHESIS"))
        and key not in ("USE_STAGING_FALLBACK", "FORCE_DOCKER_UNAVAILABLE")
    }
    env["PYTHONPATH"] = str(ROOT)
    env.update(extra or {})
    return env


def run_captured(
    argv: Sequence[str],
    *,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    timeout: float,
) -> subprocess.CompletedProcess[str]:
    """``argv`` run to its end, its output captured as text; its exit status is the caller's
    to judge. Without ``cwd`` or ``env`` the child has this process's."""
    return subprocess.run(
        list(argv),
        cwd=cwd,
        env=None if env is None else dict(env),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )

"""A ``RunContext`` for tests that start a backend themselves, outside the pytest plugin, and the
in-process start such tests use."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from test_framework.backends.base import RunContext
from test_framework.backends.inprocess import InProcessBackend
from test_framework.endpoints import Endpoints
from test_framework.settings import load_settings


def run_context(
    shared_dir: Path,
    run_id: str,
    *,
    owner_pid: int = 0,
    test_password: str | None = None,
    jwt_secret: str | None = None,
    test_token: str | None = None,
) -> RunContext:
    """A run named ``run_id``; each secret not given is a fresh random one."""
    return RunContext(
        run_id=run_id,
        owner_pid=owner_pid,
        shared_dir=shared_dir,
        test_password=test_password or secrets.token_urlsafe(18),
        jwt_secret=jwt_secret or secrets.token_urlsafe(32),
        test_token=test_token or secrets.token_urlsafe(24),
    )


@contextmanager
def serving_in_process(project_root: Path, run: RunContext) -> Iterator[Endpoints]:
    """The service ``project_root``'s pyproject names, started by the harness's own in-process
    backend (no environment settings read); stopped on leaving."""
    backend = InProcessBackend(load_settings(project_root, environ={}), run)
    try:
        yield backend.start()
    finally:
        backend.stop()

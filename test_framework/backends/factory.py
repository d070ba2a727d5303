"""The backend for a mode (for minimal, for the kind of service start configured). Imports
lazily: the docker backend needs the Docker SDK and ``filelock``, the others do not.
"""

from __future__ import annotations

from test_framework.backends.base import Backend, RunContext
from test_framework.modes import Mode
from test_framework.service import StartKind
from test_framework.settings import Settings


def make_backend(mode: Mode, settings: Settings, run: RunContext) -> Backend:
    """The backend for ``mode``."""
    if mode is Mode.MINIMAL and settings.service.start_kind in (
        StartKind.COMMAND,
        StartKind.ASGI_APP,
    ):
        from test_framework.backends.local_service import LocalServiceBackend

        return LocalServiceBackend(settings, run)
    if mode is Mode.MINIMAL:
        from test_framework.backends.inprocess import InProcessBackend

        return InProcessBackend(settings, run)
    if mode is Mode.DOCKER_LOCAL:
        from test_framework.backends.docker import DockerBackend

        return DockerBackend(settings, run)
    from test_framework.backends.staging import StagingBackend

    return StagingBackend(settings, run)

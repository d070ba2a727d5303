"""Every test here needs a real Docker engine: without one they are skipped with the probe's
reason, or fail when MC_REQUIRED_MODES names docker_local."""

from __future__ import annotations

import pytest

from test_framework.settings import Settings
from tests.support.docker_resources import require_docker


@pytest.fixture(scope="session")
def docker_settings() -> Settings:
    return require_docker()


@pytest.fixture(autouse=True)
def _needs_docker(docker_settings: Settings) -> None:
    return None

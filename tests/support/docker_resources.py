"""Helpers for tests that need a real Docker engine: the skip-or-fail rule, and what a run left.

What is left is read with the docker CLI, filtered by the run's label, exactly as a person
checking by hand would: ``docker ps -a``, ``docker network ls`` and ``docker volume ls``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from test_framework.engine.labels import RUN_ID
from test_framework.probes.docker import probe_docker
from test_framework.settings import Settings, load_settings
from tests.support.environment import run_captured

REPO = Path(__file__).resolve().parents[2]
ALPINE_TEST = REPO / "docker" / "docker-compose.alpine-test.yml"


def docker_required() -> bool:
    required = os.environ.get("MC_REQUIRED_MODES", "")
    return "docker_local" in {part.strip() for part in required.split(",")}


def require_docker() -> Settings:
    """The repository's settings when docker_local can run; else skip with the probe's reason,
    or fail when ``MC_REQUIRED_MODES`` names docker_local (CI sets it)."""
    settings = load_settings(REPO)
    probe = probe_docker(settings)
    if probe.available:
        return settings
    if docker_required():
        pytest.fail(f"MC_REQUIRED_MODES names docker_local but it cannot run: {probe.reason}")
    pytest.skip(f"docker_local cannot run here: {probe.reason}")


def resources(run_id: str) -> dict[str, list[str]]:
    """Containers, networks and volumes labelled with exactly ``run_id``."""
    label = f"label={RUN_ID}={run_id}"
    commands = {
        "containers": ["docker", "ps", "-a", "-q", "--filter", label],
        "networks": ["docker", "network", "ls", "-q", "--filter", label],
        "volumes": ["docker", "volume", "ls", "-q", "--filter", label],
    }
    found: dict[str, list[str]] = {}
    for kind, argv in commands.items():
        done = subprocess.run(argv, capture_output=True, text=True, timeout=30, check=True)
        found[kind] = done.stdout.split()
    return found


NOTHING: dict[str, list[str]] = {"containers": [], "networks": [], "volumes": []}


def child_environment(**extra: str) -> dict[str, str]:
    """The environment for a pytest or harness child process: no mode or worker leaks in."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("PYTEST_", "TEST_MODE", "MC_REQUIRED", "COV_"))
    }
    env.update(extra)
    return env


def run_cleanup(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """``python -m test_framework cleanup`` run from the repository as a user would; its exit
    status is the caller's to judge."""
    return run_captured(
        [sys.executable, "-m", "test_framework", "cleanup", *args],
        cwd=REPO,
        env=child_environment(),
        timeout=timeout,
    )

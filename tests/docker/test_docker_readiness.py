"""When docker_local's start returns: once the service answers through its published port, not
after the container's own healthcheck, unless the service adapter asks for that healthcheck."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from test_framework.backends.docker import DockerBackend
from test_framework.engine.cleanup import remove_run
from test_framework.settings import Settings
from tests.docker.test_docker_stack import new_run, quiet
from tests.support.docker_resources import NOTHING, REPO, resources

LATE = "sleep 2 && exec python -m agent_backend --host 0.0.0.0 --port 8000"
COMMAND = f"    command: [sh, -c, '{LATE}']\n"


def compose_file(folder: Path, interval: str, late: bool) -> Path:
    """The test stack's compose file with the healthcheck's ``interval``; ``late``: the
    service starts listening 2 s after its container starts."""
    source = (REPO / "docker" / "docker-compose.alpine-test.yml").read_text()
    assert "interval: 1s" in source
    assert "context: .." in source
    source = source.replace("interval: 1s", f"interval: {interval}")
    source = source.replace("context: ..", f"context: {REPO}")
    if late:
        source = source.replace("    ports:\n", COMMAND + "    ports:\n", 1)
    path = folder / f"compose-{interval}.yml"
    path.write_text(source)
    return path


def docker_health(container: str) -> str:
    done = subprocess.run(
        ["docker", "inspect", container], capture_output=True, text=True, timeout=30, check=True
    )
    return str(json.loads(done.stdout)[0]["State"]["Health"]["Status"])


def health(url: str) -> int:
    with urllib.request.urlopen(url + "/health", timeout=5) as reply:
        return int(reply.status)


@pytest.fixture
def run_ids() -> Iterator[list[str]]:
    ids: list[str] = []
    yield ids
    for run_id in ids:
        remove_run(run_id)


def settings_for(docker_settings: Settings, path: Path, **service: object) -> Settings:
    return dataclasses.replace(
        docker_settings,
        service=dataclasses.replace(docker_settings.service, compose_file=str(path), **service),
    )


def test_start_returns_once_a_late_service_answers_without_waiting_for_a_slow_healthcheck(
    docker_settings: Settings, tmp_path: Path, run_ids: list[str]
) -> None:
    # Docker runs the first healthcheck one interval (30 s) after the container starts: a start
    # that waited for it would find the container healthy.
    settings = settings_for(docker_settings, compose_file(tmp_path, "30s", late=True))
    run = new_run(tmp_path)
    run_ids.append(run.run_id)
    backend = DockerBackend(settings, run, progress=quiet)
    endpoints = backend.start()
    try:
        assert health(endpoints.http_url) == 200
        assert docker_health(endpoints.details["container"]) == "starting"
        assert "first answer" in endpoints.details["start_steps"]
    finally:
        backend.stop()
    assert resources(run.run_id) == NOTHING


def test_a_team_relying_on_the_container_healthcheck_gets_a_healthy_container(
    docker_settings: Settings, tmp_path: Path, run_ids: list[str]
) -> None:
    settings = settings_for(
        docker_settings,
        compose_file(tmp_path, "3s", late=False),
        wait_for_compose_healthcheck=True,
    )
    run = new_run(tmp_path)
    run_ids.append(run.run_id)
    backend = DockerBackend(settings, run, progress=quiet)
    endpoints = backend.start()
    try:
        assert docker_health(endpoints.details["container"]) == "healthy"
        assert health(endpoints.http_url) == 200
    finally:
        backend.stop()

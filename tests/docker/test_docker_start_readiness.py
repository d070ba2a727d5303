"""When docker_local's start returns: once the service answers through its published port, not
after the container's own healthcheck, unless the service adapter asks for that healthcheck."""

from __future__ import annotations

import dataclasses
import json
import os
import secrets
import subprocess
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from test_framework.backends.docker import DockerBackend
from test_framework.engine.cleanup import remove_run
from test_framework.engine.compose import BUILD_PROJECT
from test_framework.engine.docker_host import locate_daemon
from test_framework.engine.image_inputs import choose_base_image
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


def test_a_build_that_changes_the_image_restarts_the_service_from_the_new_image(
    docker_settings: Settings, tmp_path: Path, run_ids: list[str]
) -> None:
    # The service's image name carries a stale image (the current build plus one label) when
    # the start begins: the container started from it beside the build must be replaced.
    name = f"mission-critical/agent-backend:t{secrets.token_hex(4)}"
    path = compose_file(tmp_path, "1s", late=False)
    path.write_text(
        path.read_text().replace("mission-critical/agent-backend:${MC_IMAGE_TAG:-local}", name)
    )
    settings = settings_for(docker_settings, path)
    run = new_run(tmp_path)
    run_ids.append(run.run_id)
    backend = DockerBackend(settings, run, progress=quiet)
    found = locate_daemon(settings.docker.host, 5).found
    assert found is not None
    base = choose_base_image(found.address, settings.docker.base_image, 5).image
    environment = {**os.environ, **backend._compose_stack(path, None, base_image=base).env}
    stale = ""
    try:
        subprocess.run(
            ["docker", "compose", "-p", BUILD_PROJECT, "-f", str(path), "build"],
            env=environment,
            capture_output=True,
            check=True,
            timeout=600,
        )
        subprocess.run(
            ["docker", "build", "--quiet", "--tag", name, "-"],
            input=f"FROM {name}\nLABEL stale=yes\n",
            text=True,
            capture_output=True,
            check=True,
            timeout=300,
        )
        stale = image_id(name)
        endpoints = backend.start()
        try:
            assert health(endpoints.http_url) == 200
            assert endpoints.details["image_id"] == image_id(name) != stale
        finally:
            backend.stop()
    finally:
        rm = ["docker", "image", "rm", name, *([stale] if stale else [])]
        subprocess.run(rm, capture_output=True, check=False)


def image_id(name: str) -> str:
    done = subprocess.run(
        ["docker", "image", "inspect", "--format", "{{.Id}}", name],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    )
    return done.stdout.strip()

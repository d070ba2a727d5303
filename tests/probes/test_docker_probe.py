"""The Docker probe against real sockets: a fake daemon speaking ``/_ping`` on a Unix socket and
on loopback TCP, a dead socket, a blackhole, Docker contexts, and every later step's failure."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import socket
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from test_framework.engine.docker_host import candidate_addresses, parse_docker_host
from test_framework.errors import ConfigError
from test_framework.probes.docker import probe_docker
from test_framework.probes.result import ProbeStatus
from test_framework.service import NO_COMPOSE_FILE, ServiceSettings
from test_framework.settings import (
    DEFAULT_BASE_IMAGE,
    LOCAL_BASE_IMAGE,
    DockerSettings,
    Settings,
)
from tests.support.fake_docker_daemon import (
    DaemonScript,
    dead_socket,
    fake_daemon_tcp,
    fake_daemon_unix,
)

COMPOSE_V2 = "#!/bin/sh\nprintf '%s\\n' 'Docker Compose version v2.40.3'\n"
# The compose file the ``project`` fixture holds, named as a project names it in pyproject.toml.
SERVICE = ServiceSettings(compose_file="docker/docker-compose.alpine-test.yml")
BUILDS_ON_BASE_IMAGE = """\
services:
  backend:
    build:
      context: .
      args:
        BASE_IMAGE: ${MC_BASE_IMAGE:-python:3.11-slim}
"""
COMPOSE_V1 = "#!/bin/sh\nprintf '%s\\n' 'docker-compose version 1.29.2, build unknown'\n"


@pytest.fixture
def short_dir() -> Iterator[Path]:
    # Unix socket paths are limited to ~107 bytes; pytest's tmp_path can be longer.
    with tempfile.TemporaryDirectory(prefix="mcp", dir="/tmp") as folder:
        yield Path(folder)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A project with a compose file that builds on MC_BASE_IMAGE and a Dockerfile that needs no
    wheelhouse."""
    root = tmp_path / "project"
    (root / "docker").mkdir(parents=True)
    (root / "docker" / "docker-compose.alpine-test.yml").write_text(BUILDS_ON_BASE_IMAGE)
    (root / "docker" / "Dockerfile").write_text("FROM scratch\n")
    return root


@pytest.fixture(autouse=True)
def isolated_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No real DOCKER_HOST, context or compose: each test says what exists."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "docker-compose").write_text(COMPOSE_V2)
    (bin_dir / "docker-compose").chmod(0o755)
    monkeypatch.setenv("PATH", str(bin_dir))
    # find_compose also looks beside the interpreter, where the dev venv has a real one.
    monkeypatch.setattr(sys, "executable", str(tmp_path / "venv" / "bin" / "python"))
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "docker-config"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("DOCKER_HOST", raising=False)
    monkeypatch.delenv("DOCKER_CONTEXT", raising=False)
    return bin_dir


def settings_for(root: Path, host: str | None, **docker: object) -> Settings:
    return Settings(
        root=root,
        probe_timeout_s=2.0,
        service=SERVICE,
        docker=DockerSettings(host=host, **docker),  # type: ignore[arg-type]
    )


def step_names(result: object) -> list[str]:
    return [step.name for step in result.steps]  # type: ignore[attr-defined]


def test_forced_unavailable_answers_forced_without_touching_the_daemon(
    short_dir: Path, project: Path
) -> None:
    sock = short_dir / "docker.sock"
    with fake_daemon_unix(sock) as script:
        result = probe_docker(settings_for(project, f"unix://{sock}", forced_unavailable=True))
    assert not result.available
    assert result.reason.startswith("unavailable (forced)")
    assert "FORCE_DOCKER_UNAVAILABLE" in result.reason
    assert script.requests == []


def test_a_daemon_answering_ping_on_a_unix_docker_host_makes_the_mode_available(
    short_dir: Path, project: Path
) -> None:
    sock = short_dir / "docker.sock"
    with fake_daemon_unix(sock, DaemonScript(images={DEFAULT_BASE_IMAGE})) as script:
        result = probe_docker(settings_for(project, f"unix://{sock}"))
    assert result.available, result.reason
    assert step_names(result) == [
        "daemon",
        "compose file",
        "compose v2",
        "wheelhouse",
        "base image",
    ]
    assert all(step.ok and step.elapsed_ms >= 0 for step in result.steps)
    assert result.details["docker_host"] == f"unix://{sock}"
    assert result.details["docker_host_source"] == "DOCKER_HOST"
    assert result.details["base_image"] == DEFAULT_BASE_IMAGE
    assert "Docker/99.0.0-fake" in result.reason
    assert "/_ping" in script.requests


def test_a_dead_socket_is_unavailable_quickly_with_the_address_and_the_fix(
    short_dir: Path, project: Path
) -> None:
    sock = dead_socket(short_dir / "docker.sock")
    started = time.perf_counter()
    result = probe_docker(settings_for(project, f"unix://{sock}"))
    elapsed = time.perf_counter() - started
    assert not result.available
    assert str(sock) in result.reason
    assert "refused" in result.reason.lower()
    assert "start the Docker daemon" in result.reason
    # The slow steps are not run without a daemon; the compose file step is cheap and is.
    assert step_names(result) == ["daemon", "compose file"]
    assert elapsed < 1.0  # does not hang; the real figure is in docs/performance.md


def test_a_docker_host_socket_that_does_not_exist_is_reported(
    short_dir: Path, project: Path
) -> None:
    result = probe_docker(settings_for(project, f"unix://{short_dir}/absent.sock"))
    assert not result.available
    assert "No such file" in result.reason


def test_a_tcp_docker_host_reaches_a_loopback_daemon(project: Path) -> None:
    with fake_daemon_tcp(DaemonScript(images={DEFAULT_BASE_IMAGE})) as (port, _):
        result = probe_docker(settings_for(project, f"tcp://127.0.0.1:{port}"))
    assert result.available, result.reason
    assert result.details["docker_host"] == f"tcp://127.0.0.1:{port}"


def test_a_tcp_daemon_that_never_answers_times_out_with_the_configured_timeout(
    project: Path,
) -> None:
    with socket.socket() as blackhole:
        blackhole.bind(("127.0.0.1", 0))
        blackhole.listen()
        port = blackhole.getsockname()[1]
        settings = Settings(
            root=project,
            probe_timeout_s=0.3,
            service=SERVICE,
            docker=DockerSettings(host=f"tcp://127.0.0.1:{port}"),
        )
        started = time.perf_counter()
        result = probe_docker(settings)
        elapsed = time.perf_counter() - started
    assert not result.available
    assert "timed out" in result.reason
    assert elapsed < 5.0


def test_a_daemon_whose_ping_fails_is_unavailable_with_the_status(
    short_dir: Path, project: Path
) -> None:
    sock = short_dir / "docker.sock"
    with fake_daemon_unix(sock, DaemonScript(ping_status=503)):
        result = probe_docker(settings_for(project, f"unix://{sock}"))
    assert not result.available
    assert "503" in result.reason


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("unix:///var/run/docker.sock", "unix:///var/run/docker.sock"),
        ("tcp://127.0.0.1:2375", "tcp://127.0.0.1:2375"),
        ("tcp://localhost", "tcp://localhost:2375"),
    ],
)
def test_docker_host_forms_are_parsed_as_the_docker_cli_reads_them(
    value: str, expected: str
) -> None:
    assert parse_docker_host(value, "DOCKER_HOST").url == expected


@pytest.mark.parametrize("value", ["ssh://me@build-box", "npipe:////./pipe/docker_engine", "nope"])
def test_docker_host_forms_the_probe_cannot_use_are_refused_with_the_forms_it_can(
    project: Path, value: str
) -> None:
    with pytest.raises(ConfigError, match=r"unix:///path/to/docker\.sock"):
        parse_docker_host(value, "DOCKER_HOST")
    result = probe_docker(settings_for(project, value))
    assert not result.available
    assert "tcp://host:port" in result.reason


def write_context(config: Path, name: str, host: str) -> None:
    meta = config / "contexts" / "meta" / hashlib.sha256(name.encode()).hexdigest()
    meta.mkdir(parents=True)
    data = {"Name": name, "Endpoints": {"docker": {"Host": host, "SkipTLSVerify": False}}}
    (meta / "meta.json").write_text(json.dumps(data))
    (config / "config.json").write_text(json.dumps({"currentContext": name}))


@pytest.mark.parametrize(
    ("docker_host_set", "source"),
    [
        pytest.param(False, "Docker context 'colima'", id="the current docker context is honoured"),
        pytest.param(True, "DOCKER_HOST", id="DOCKER_HOST wins over the current context"),
    ],
)
def test_the_daemon_is_found_by_docker_host_else_by_the_current_context(
    short_dir: Path, project: Path, tmp_path: Path, docker_host_set: bool, source: str
) -> None:
    context_sock = short_dir / "ctx.sock"
    write_context(tmp_path / "docker-config", "colima", f"unix://{context_sock}")
    sock = short_dir / "host.sock" if docker_host_set else context_sock
    docker_host = f"unix://{sock}" if docker_host_set else None
    with fake_daemon_unix(sock, DaemonScript(images={DEFAULT_BASE_IMAGE})):
        result = probe_docker(settings_for(project, docker_host))
    assert result.available, result.reason
    assert result.details["docker_host"] == f"unix://{sock}"
    assert result.details["docker_host_source"] == source


def test_a_current_context_that_does_not_exist_is_reported_with_the_fix(
    project: Path, tmp_path: Path
) -> None:
    config = tmp_path / "docker-config"
    config.mkdir()
    (config / "config.json").write_text(json.dumps({"currentContext": "gone"}))
    result = probe_docker(settings_for(project, None))
    assert not result.available
    assert "Docker context 'gone' not found" in result.reason
    assert "docker context use default" in result.reason


def test_an_unreadable_context_file_is_skipped_and_the_reason_logged(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    config = tmp_path / "docker-config"
    write_context(config, "colima", "unix:///run/colima.sock")
    unreadable = config / "contexts" / "meta" / ("0" * 64)
    unreadable.mkdir()
    (unreadable / "meta.json").write_text("{not json")
    with caplog.at_level(logging.WARNING, logger="test_framework.engine.docker_host"):
        addresses = candidate_addresses({"DOCKER_CONFIG": str(config)})
    assert [address.url for address in addresses] == ["unix:///run/colima.sock"]
    assert f"{unreadable / 'meta.json'} skipped: cannot be read" in caplog.text


def test_desktop_rootless_and_podman_sockets_are_candidates_after_the_system_socket(
    short_dir: Path, tmp_path: Path
) -> None:
    home = short_dir / "home"
    runtime = short_dir / "run"
    for path in (
        home / ".docker/run/docker.sock",
        runtime / "docker.sock",
        runtime / "podman/podman.sock",
    ):
        path.parent.mkdir(parents=True, exist_ok=True)
        dead_socket(path)
    env = {
        "HOME": str(home),
        "XDG_RUNTIME_DIR": str(runtime),
        "DOCKER_CONFIG": str(tmp_path / "none"),
    }
    found = [(a.url, a.source) for a in candidate_addresses(env)]
    ours = [entry for entry in found if entry[0] != "unix:///var/run/docker.sock"]
    assert ours == [
        (f"unix://{home}/.docker/run/docker.sock", "Docker Desktop socket"),
        (f"unix://{runtime}/docker.sock", "rootless Docker socket"),
        (f"unix://{runtime}/podman/podman.sock", "rootless Podman socket"),
    ]


def test_the_default_base_image_falls_back_to_the_local_one_and_says_so(
    short_dir: Path, project: Path
) -> None:
    sock = short_dir / "docker.sock"
    with fake_daemon_unix(sock, DaemonScript(images={LOCAL_BASE_IMAGE})):
        result = probe_docker(settings_for(project, f"unix://{sock}"))
    assert result.available, result.reason
    assert result.details["base_image"] == LOCAL_BASE_IMAGE
    assert f"{DEFAULT_BASE_IMAGE} not present" in result.steps[-1].detail


def test_a_base_image_neither_here_nor_pullable_names_the_build_command(
    short_dir: Path, project: Path
) -> None:
    sock = short_dir / "docker.sock"
    with fake_daemon_unix(sock, DaemonScript()):
        result = probe_docker(settings_for(project, f"unix://{sock}"))
    assert not result.available
    assert "bash docker/build-base-image.sh" in result.reason
    assert "no such host" in result.reason


def test_a_base_image_the_registry_serves_is_buildable(short_dir: Path, project: Path) -> None:
    sock = short_dir / "docker.sock"
    with fake_daemon_unix(sock, DaemonScript(pullable={DEFAULT_BASE_IMAGE})):
        result = probe_docker(settings_for(project, f"unix://{sock}"))
    assert result.available, result.reason
    assert "pulls it from its registry" in result.steps[-1].detail


def test_a_configured_base_image_is_never_swapped_for_the_local_one(
    short_dir: Path, project: Path
) -> None:
    sock = short_dir / "docker.sock"
    with fake_daemon_unix(sock, DaemonScript(images={LOCAL_BASE_IMAGE})):
        result = probe_docker(settings_for(project, f"unix://{sock}", base_image="corp/py:3.11"))
    assert not result.available
    assert f"MC_BASE_IMAGE={LOCAL_BASE_IMAGE}" in result.reason


def test_a_compose_file_that_does_not_pass_the_base_image_is_probed_without_naming_one(
    short_dir: Path, project: Path
) -> None:
    compose = project / "docker" / "docker-compose.alpine-test.yml"
    # Its own FROM and no MC_BASE_IMAGE: only a comment mentions it.
    compose.write_text("# not ${MC_BASE_IMAGE}\nservices:\n  backend:\n    build: .\n")
    sock = short_dir / "docker.sock"
    with fake_daemon_unix(sock, DaemonScript()) as script:
        result = probe_docker(settings_for(project, f"unix://{sock}"))
    assert result.available, result.reason
    assert step_names(result) == ["daemon", "compose file", "compose v2", "wheelhouse"]
    assert "base_image" not in result.details
    assert "base image" not in result.reason
    assert not any("/images/" in request for request in script.requests)


def test_a_missing_compose_file_lists_the_places_looked(short_dir: Path, tmp_path: Path) -> None:
    sock = short_dir / "docker.sock"
    empty = tmp_path / "empty-project"
    empty.mkdir()
    with fake_daemon_unix(sock, DaemonScript(images={DEFAULT_BASE_IMAGE})):
        result = probe_docker(settings_for(empty, f"unix://{sock}"))
    assert not result.available
    assert "looked in:" in result.reason
    assert str(empty / "docker" / "docker-compose.alpine-test.yml") in result.reason


def test_a_compose_file_named_in_pyproject_and_missing_is_broken_once_a_daemon_answers(
    short_dir: Path, tmp_path: Path
) -> None:
    sock = short_dir / "docker.sock"
    named = ServiceSettings(compose_file="docker/absent.yml")
    project = tmp_path / "named"
    project.mkdir()
    with fake_daemon_unix(sock, DaemonScript(images={DEFAULT_BASE_IMAGE})):
        answered = probe_docker(
            dataclasses.replace(settings_for(project, f"unix://{sock}"), service=named)
        )
        unnamed = probe_docker(
            dataclasses.replace(settings_for(project, f"unix://{sock}"), service=ServiceSettings())
        )
    without_daemon = probe_docker(
        dataclasses.replace(
            settings_for(project, f"unix://{dead_socket(short_dir / 'd')}"), service=named
        )
    )
    assert answered.status is ProbeStatus.BROKEN
    assert "compose file 'docker/absent.yml' not found" in answered.reason
    # Nothing named: the project simply has no docker set-up. No daemon: nothing to test.
    assert unnamed.status is ProbeStatus.ABSENT
    assert unnamed.reason == NO_COMPOSE_FILE
    assert without_daemon.status is ProbeStatus.ABSENT


def test_a_docker_host_the_probe_cannot_use_is_broken_not_absent(project: Path) -> None:
    result = probe_docker(settings_for(project, "ftp://nowhere"))
    assert result.status is ProbeStatus.BROKEN


def test_an_empty_wheelhouse_names_the_command_that_fills_it(
    short_dir: Path, project: Path
) -> None:
    (project / "docker" / "Dockerfile").write_text("FROM x\nCOPY docker/wheels /wheels\n")
    (project / "docker" / "build-wheelhouse.sh").write_text("true\n")
    sock = short_dir / "docker.sock"
    with fake_daemon_unix(sock, DaemonScript(images={DEFAULT_BASE_IMAGE})):
        result = probe_docker(settings_for(project, f"unix://{sock}"))
    assert not result.available
    assert "build-wheelhouse.sh" in result.reason
    (project / "docker" / "wheels").mkdir()
    (project / "docker" / "wheels" / "x-1-py3-none-any.whl").write_bytes(b"")
    with fake_daemon_unix(sock, DaemonScript(images={DEFAULT_BASE_IMAGE})):
        assert probe_docker(settings_for(project, f"unix://{sock}")).available


def test_compose_v1_only_makes_the_mode_unavailable_with_the_reason(
    short_dir: Path, project: Path, isolated_environment: Path
) -> None:
    (isolated_environment / "docker-compose").write_text(COMPOSE_V1)
    sock = short_dir / "docker.sock"
    with fake_daemon_unix(sock, DaemonScript(images={DEFAULT_BASE_IMAGE})):
        result = probe_docker(settings_for(project, f"unix://{sock}"))
    assert not result.available
    assert "Compose v1.29.2" in result.reason


def test_a_wheelhouse_without_a_wheel_the_requirements_name_says_which_and_how_to_refill(
    short_dir: Path, project: Path
) -> None:
    docker = project / "docker"
    (docker / "Dockerfile").write_text("FROM x\nCOPY docker/wheels /wheels\n")
    (docker / "build-wheelhouse.sh").write_text("true\n")
    (docker / "requirements.txt").write_text(
        "# runtime\nwebsockets>=17,<18\nPyJWT>=2.8  # tokens\n--only-binary :all:\n"
    )
    (docker / "wheels").mkdir()
    (docker / "wheels" / "websockets-17.4-cp311-cp311-manylinux_2_28_x86_64.whl").write_bytes(b"")
    sock = short_dir / "docker.sock"
    with fake_daemon_unix(sock, DaemonScript(images={DEFAULT_BASE_IMAGE})):
        result = probe_docker(settings_for(project, f"unix://{sock}"))
    assert not result.available
    assert "no wheel for PyJWT," in result.reason
    assert "build-wheelhouse.sh" in result.reason
    (docker / "wheels" / "pyjwt-2.15.1-py3-none-any.whl").write_bytes(b"")
    with fake_daemon_unix(sock, DaemonScript(images={DEFAULT_BASE_IMAGE})):
        assert probe_docker(settings_for(project, f"unix://{sock}")).available

"""DockerBackend against the real engine: start, labels, loopback ports, sharing, failure, control,
and removal of stacks whose owner is gone."""

from __future__ import annotations

import dataclasses
import json
import os
import secrets
import subprocess
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from test_framework.backends.base import RunContext
from test_framework.backends.docker import DockerBackend
from test_framework.engine.compose import BUILD_PROJECT, StackStartError
from test_framework.engine.compose_command import find_compose
from test_framework.engine.labels import OWNER_PID, PROJECT, PROJECT_VALUE, RUN_ID, project_name
from test_framework.errors import ServiceUnavailableError
from test_framework.service import ServiceSettings
from test_framework.settings import LOCAL_BASE_IMAGE, Settings
from tests.support.docker_resources import NOTHING, REPO, child_environment, resources, run_cleanup


def new_run(tmp_path: Path, owner_pid: int | None = None, **fields: object) -> RunContext:
    run_id = "t" + secrets.token_hex(4)
    shared = tmp_path / f"run-{run_id}"
    shared.mkdir()
    return RunContext(
        run_id=run_id,
        owner_pid=os.getpid() if owner_pid is None else owner_pid,
        shared_dir=shared,
        test_password=secrets.token_urlsafe(18),
        jwt_secret=secrets.token_urlsafe(32),
        test_token=secrets.token_urlsafe(24),
        **fields,  # type: ignore[arg-type]
    )


def quiet(line: str) -> None:
    return None


def health(url: str) -> int:
    try:
        with urllib.request.urlopen(url + "/health", timeout=5) as reply:
            return int(reply.status)
    except urllib.error.HTTPError as exc:
        return exc.code


def inspect(kind: str, name: str) -> dict[str, object]:
    done = subprocess.run(
        ["docker", kind, "inspect", name], capture_output=True, text=True, timeout=30, check=True
    )
    return json.loads(done.stdout)[0]  # type: ignore[no-any-return]


@pytest.fixture
def cleanup_after(docker_settings: Settings) -> Iterator[list[str]]:
    """Run ids a test started: removed even when the test fails half way."""
    run_ids: list[str] = []
    yield run_ids
    from test_framework.engine.cleanup import remove_run

    for run_id in run_ids:
        remove_run(run_id)


def test_a_stack_is_labelled_published_on_loopback_healthy_and_gone_after_stop(
    docker_settings: Settings, tmp_path: Path, cleanup_after: list[str]
) -> None:
    run = new_run(tmp_path)
    cleanup_after.append(run.run_id)
    backend = DockerBackend(docker_settings, run, progress=quiet)
    endpoints = backend.start()

    assert endpoints.http_url.startswith("http://127.0.0.1:")
    assert endpoints.ws_url == endpoints.http_url.replace("http://", "ws://") + "/ws"
    assert endpoints.auth_url == endpoints.http_url + "/auth"
    assert health(endpoints.http_url) == 200
    assert endpoints.details["project"] == project_name(run.run_id)
    assert endpoints.details["image_id"].startswith("sha256:")

    found = resources(run.run_id)
    assert [len(found[kind]) for kind in ("containers", "networks", "volumes")] == [1, 1, 1]
    container = inspect("container", found["containers"][0])
    labels = container["Config"]["Labels"]  # type: ignore[index]
    assert labels[RUN_ID] == run.run_id
    assert labels[OWNER_PID] == str(os.getpid())
    assert labels[PROJECT] == PROJECT_VALUE
    bindings = container["HostConfig"]["PortBindings"]["8000/tcp"]  # type: ignore[index]
    assert {binding["HostIp"] for binding in bindings} == {"127.0.0.1"}
    published = container["NetworkSettings"]["Ports"]["8000/tcp"]  # type: ignore[index]
    assert {entry["HostIp"] for entry in published} == {"127.0.0.1"}
    for kind in ("network", "volume"):
        resource = inspect(kind, found[f"{kind}s"][0])
        assert resource["Labels"][RUN_ID] == run.run_id  # type: ignore[index]

    backend.stop()
    assert resources(run.run_id) == NOTHING
    backend.stop()  # a second stop is harmless


def test_stop_removes_by_label_what_compose_down_does_not_know_of(
    docker_settings: Settings, tmp_path: Path, cleanup_after: list[str]
) -> None:
    run = new_run(tmp_path)
    cleanup_after.append(run.run_id)
    backend = DockerBackend(docker_settings, run, progress=quiet)
    backend.start()
    # A volume of the run outside its Compose project: only the label sweep after down finds it.
    labels = [f"--label={RUN_ID}={run.run_id}", f"--label={PROJECT}={PROJECT_VALUE}"]
    subprocess.run(
        ["docker", "volume", "create", *labels, f"mc-{run.run_id}-stray"],
        capture_output=True,
        timeout=30,
        check=True,
    )
    assert len(resources(run.run_id)["volumes"]) == 2

    backend.stop()
    assert resources(run.run_id) == NOTHING


def test_workers_of_one_run_share_one_stack_and_the_last_one_out_stops_it(
    docker_settings: Settings, tmp_path: Path, cleanup_after: list[str]
) -> None:
    run = new_run(tmp_path, worker_count=2)
    cleanup_after.append(run.run_id)
    first = DockerBackend(docker_settings, dataclasses.replace(run, worker_id="gw0"), quiet)
    second = DockerBackend(docker_settings, dataclasses.replace(run, worker_id="gw1"), quiet)
    assert first.start() == second.start()
    assert len(resources(run.run_id)["containers"]) == 1

    first.stop()
    first.stop()  # checking out twice still counts once
    assert health(second.start().http_url) == 200
    second.stop()
    assert resources(run.run_id) == NOTHING


def test_when_the_api_teardown_fails_compose_down_removes_the_stack_and_says_why(
    docker_settings: Settings,
    tmp_path: Path,
    cleanup_after: list[str],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    import docker.api.client
    import docker.errors
    import requests

    run = new_run(tmp_path)
    cleanup_after.append(run.run_id)
    lines: list[str] = []
    backend = DockerBackend(docker_settings, run, progress=lines.append)
    backend.start()

    def failing_stop(self: object, container: str, timeout: int | None = None) -> None:
        answer = requests.Response()
        answer.status_code = 500
        raise docker.errors.APIError("500 Server Error", answer, "injected failure")

    monkeypatch.setattr(docker.api.client.APIClient, "stop", failing_stop)
    with caplog.at_level("WARNING", logger="test_framework.backends.docker"):
        backend.stop()

    assert resources(run.run_id) == NOTHING
    warning = "\n".join(record.getMessage() for record in caplog.records)
    assert "through the daemon's API failed" in warning
    assert "500 injected failure" in warning
    assert "falling back to `compose down --volumes --remove-orphans`" in warning
    # compose down removed it all: the label sweep after it found nothing.
    removed = [line for line in lines if " removed in " in line]
    assert len(removed) == 1
    assert "by labels" not in removed[0]


def test_a_service_that_fails_to_start_reports_its_logs_and_leaves_nothing(
    docker_settings: Settings, tmp_path: Path, cleanup_after: list[str]
) -> None:
    compose_file = tmp_path / "failing.yml"
    source = (REPO / "docker" / "docker-compose.alpine-test.yml").read_text()
    source = source.replace("context: ..", f"context: {REPO}").replace(
        "    ports:\n",
        "    command: [python, -c, \"print('refusing to start: boom'); raise SystemExit(3)\"]\n"
        "    ports:\n",
    )
    compose_file.write_text(source)
    settings = dataclasses.replace(
        docker_settings,
        report_dir=tmp_path / "reports",
        service=ServiceSettings(compose_file=str(compose_file)),
        docker=dataclasses.replace(docker_settings.docker, start_timeout_s=60),
    )
    run = new_run(tmp_path, worker_count=2)
    cleanup_after.append(run.run_id)

    with pytest.raises(StackStartError) as caught:
        DockerBackend(settings, run, quiet).start()
    assert "did not become healthy" in str(caught.value)
    assert "refusing to start: boom" in caught.value.logs
    log_file = tmp_path / "reports" / "docker_local" / f"{project_name(run.run_id)}-backend.log"
    assert "refusing to start: boom" in log_file.read_text()
    assert str(log_file) in str(caught.value)
    assert resources(run.run_id) == NOTHING

    # Another worker of the same run gets the same answer at once instead of trying again.
    other = DockerBackend(settings, dataclasses.replace(run, worker_id="gw1"), quiet)
    with pytest.raises(ServiceUnavailableError, match="did not become healthy"):
        other.start()


def test_terminate_stops_the_service_and_restart_brings_it_back_healthy(
    docker_settings: Settings, tmp_path: Path, cleanup_after: list[str]
) -> None:
    run = new_run(tmp_path)
    cleanup_after.append(run.run_id)
    backend = DockerBackend(docker_settings, run, quiet)
    before = backend.start()
    backend.terminate()
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(before.http_url + "/health", timeout=5)
    after = backend.restart()
    assert health(after.http_url) == 200
    backend.stop()
    assert resources(run.run_id) == NOTHING


def test_the_next_run_removes_a_stack_whose_owner_is_gone(
    docker_settings: Settings, tmp_path: Path, cleanup_after: list[str]
) -> None:
    # The owner lives while its stack starts (so no concurrent run on this machine sweeps the
    # stack early), then dies without stopping it, as a SIGKILLed run would.
    owner = subprocess.Popen(["sleep", "300"])
    try:
        orphan = new_run(tmp_path, owner_pid=owner.pid)
        cleanup_after.append(orphan.run_id)
        first = DockerBackend(docker_settings, orphan, quiet).start()
        assert len(resources(orphan.run_id)["containers"]) == 1
    finally:
        owner.kill()
        owner.wait()

    run = new_run(tmp_path)
    cleanup_after.append(run.run_id)
    backend = DockerBackend(docker_settings, run, quiet)
    second = backend.start()
    assert resources(orphan.run_id) == NOTHING
    # Images are built under one fixed project, not the run's (Compose labels what it builds
    # with the project), so an unchanged build gives the same image in every run.
    # (The running stack's image: an orphan's image may be pruned once a concurrent build of
    # changed source has superseded it.)
    image = inspect("image", second.details["image_id"])
    labels = image["Config"]["Labels"]  # type: ignore[index]
    assert labels["com.docker.compose.project"] == BUILD_PROJECT
    assert first.details["project"] != second.details["project"]
    backend.stop()


def test_the_cleanup_command_spares_live_runs_and_removes_a_named_one(
    docker_settings: Settings, tmp_path: Path, cleanup_after: list[str]
) -> None:
    run = new_run(tmp_path)  # owned by this (live) process
    cleanup_after.append(run.run_id)
    DockerBackend(docker_settings, run, quiet).start()
    spared = run_cleanup(timeout=60)
    assert spared.returncode == 0, spared.stdout + spared.stderr
    assert len(resources(run.run_id)["containers"]) == 1

    done = run_cleanup("--run-id", run.run_id, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "removed 1 container(s), 1 network(s), 1 volume(s)" in done.stdout
    assert resources(run.run_id) == NOTHING


def test_cleanup_removes_superseded_images_of_the_harness_and_keeps_the_current_one(
    docker_settings: Settings, tmp_path: Path
) -> None:
    token = secrets.token_hex(3)
    tag = f"mc-prune-test:{token}"
    (tmp_path / "compose.yml").write_text(
        "services:\n"
        "  app:\n"
        f"    image: {tag}\n"
        "    build:\n"
        "      context: .\n"
        "      dockerfile_inline: |\n"
        f"        FROM {LOCAL_BASE_IMAGE}\n"
        "        LABEL generation=${GENERATION}\n"
        "      labels:\n"
        f"        {PROJECT}: {PROJECT_VALUE}\n"
    )
    compose = find_compose()

    def build(generation: str) -> str:
        subprocess.run(
            [*compose.argv, "--project-name", "mc-prune-test", "build"],
            cwd=tmp_path,
            env=child_environment(GENERATION=generation),
            timeout=120,
            check=True,
            capture_output=True,
        )
        return str(inspect("image", tag)["Id"])

    old = build("old")
    new = build("new")  # the old build is now dangling: superseded
    try:
        done = run_cleanup(timeout=60)
        # (Not asserting the message: any concurrent run's start may prune it first.)
        assert done.returncode == 0
        images = subprocess.run(
            ["docker", "images", "-a", "-q", "--no-trunc"],
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        ).stdout.split()
        assert old not in images
        assert new in images
    finally:
        subprocess.run(["docker", "image", "rm", tag], capture_output=True, timeout=60, check=False)

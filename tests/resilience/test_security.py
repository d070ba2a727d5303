"""Secrets never leak and cleanup never strays: after a real minimal-mode run of the suite (and
the gate's reports), no file under the report folder and nothing printed holds the run's test
password, its JWT secret or anything shaped like a JWT; ``cleanup --all`` leaves alone Docker
resources without this project's labels."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from test_framework.engine.labels import (
    OWNER_PID,
    PROJECT,
    PROJECT_FILTER,
    PROJECT_VALUE,
    RUN_ID,
    owner_gone,
)
from tests.support.docker_resources import child_environment, require_docker, run_cleanup

ROOT = Path(__file__).resolve().parents[2]
RUN_TIMEOUT_S = 300.0  # generous: only proves "does not hang"
# Three base64url segments starting like a JSON header: a whole JWT.
JWT = re.compile(rb"eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}")


def leaks(data: bytes, secrets: dict[str, str]) -> list[str]:
    found = [name for name, value in secrets.items() if value.encode() in data]
    found += [f"JWT {match.group()[:16].decode()}..." for match in JWT.finditer(data)]
    return found


def test_no_file_or_output_of_a_minimal_run_holds_the_password_or_a_token(
    tmp_path: Path,
) -> None:
    reports = tmp_path / "reports"
    spy = tmp_path / "secrets.json"  # outside the report folder
    env = child_environment(MC_SPY_FILE=str(spy))
    argv = [sys.executable, "-m", "pytest", "tests/mission_critical", "--mc-mode", "minimal"]
    argv += ["-n", "2", "--mc-report-dir", str(reports), "-p", "no:cacheprovider"]
    argv += ["-p", "tests.resilience.password_spy", "-v"]
    run = subprocess.run(
        argv,
        cwd=ROOT,
        env=env,
        capture_output=True,
        timeout=RUN_TIMEOUT_S,
        check=False,
    )
    assert run.returncode == 0, run.stdout[-3000:]
    gate = subprocess.run(
        [sys.executable, "-m", "test_framework", "gate", str(reports), "--reports", str(reports)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        timeout=RUN_TIMEOUT_S,
        check=False,
    )
    assert gate.returncode == 0, gate.stdout + gate.stderr
    secrets = json.loads(spy.read_text())
    assert len(secrets["test_password"]) >= 16  # the spy really read the run's secrets

    files = [path for path in reports.rglob("*") if path.is_file()]
    # The run wrote its ledger, a transcript per test, and the gate's HTML and JUnit reports;
    # the transcripts hold every frame and request, tokens and Basic credentials included.
    names = {path.name for path in files}
    assert {"ledger.json", "junit.xml", "index.html"} <= names
    assert sum(1 for path in files if path.parent.name == "transcripts") >= 100
    found = {str(path): leaks(path.read_bytes(), secrets) for path in files}
    for name, stream in [("pytest", run.stdout + run.stderr), ("gate", gate.stdout + gate.stderr)]:
        found[name] = leaks(stream, secrets)
    assert {where: what for where, what in found.items() if what} == {}


NAMES = {"container": "mc-foreign-container", "network": "mc-foreign-net"}
NAMES |= {"volume": "mc-foreign-vol", "ours": "mc-ours-vol"}


@pytest.fixture
def docker_client() -> Iterator[Any]:
    require_docker()
    import docker

    client = docker.from_env()
    try:
        yield client
    finally:
        client.close()


def _remove_test_resources(client: Any) -> None:
    import docker.errors

    for kind, collection in [
        ("container", client.containers),
        ("network", client.networks),
        ("volume", client.volumes),
        ("ours", client.volumes),
    ]:
        try:
            found = collection.get(NAMES[kind])
            found.remove(force=True) if kind == "container" else found.remove()
        except docker.errors.NotFound:
            pass  # never made, or removed by the cleanup under test


def test_cleanup_all_leaves_alone_containers_networks_and_volumes_without_our_labels(
    docker_client: Any,
) -> None:
    alive = [
        str(c.name)
        for c in docker_client.containers.list(all=True, filters={"label": PROJECT_FILTER})
        if not owner_gone(c.labels)
    ]
    if alive:
        pytest.skip(f"cleanup --all would also remove other live runs' containers: {alive}")
    images = [image for image in docker_client.images.list() if image.tags]
    assert images, "no local image to create a container from"
    # Our label names with another project's value, and labels of nobody we know.
    other = {PROJECT: "someone-elses-project", RUN_ID: "not-ours", OWNER_PID: "1"}
    unrelated = {"com.example.owner": "another-team"}
    _remove_test_resources(docker_client)
    try:
        docker_client.containers.create(
            images[0].tags[0], ["sleep", "600"], name=NAMES["container"], labels=other
        )
        docker_client.networks.create(NAMES["network"], labels=other)
        docker_client.volumes.create(NAMES["volume"], labels=unrelated)
        # And one of ours, owned by a live process: only --all removes it, which shows it ran.
        ours = {PROJECT: PROJECT_VALUE, RUN_ID: "security-test", OWNER_PID: str(os.getpid())}
        docker_client.volumes.create(NAMES["ours"], labels=ours)

        done = run_cleanup("--all", timeout=RUN_TIMEOUT_S)
        assert done.returncode == 0, done.stdout + done.stderr
        assert "1 volume(s)" in done.stdout, done.stdout
        names = {
            "container": [c.name for c in docker_client.containers.list(all=True)],
            "network": [n.name for n in docker_client.networks.list()],
            "volume": [v.name for v in docker_client.volumes.list()],
        }
        for kind in ("container", "network", "volume"):
            assert NAMES[kind] in names[kind], f"cleanup --all removed the foreign {kind}"
        assert NAMES["ours"] not in names["volume"]
    finally:
        _remove_test_resources(docker_client)

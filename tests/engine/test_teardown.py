"""``take_down`` against the real engine: Compose's stop order, each container's own stop signal
and grace period, and nothing of the project left while external networks and volumes stay."""

from __future__ import annotations

import json
import secrets
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest

from test_framework.engine.docker_client import connect
from test_framework.engine.teardown import Container, depends_on, stop_order, take_down
from tests.support.docker_resources import require_docker
from tests.support.environment import run_captured

IMAGE = "local/python-base:bookworm"

# A service that, on SIGTERM or SIGUSR1, waits ``linger`` seconds, appends "<name> <signal
# name>" to /out/events (a bind mount of the test's folder) and exits.
HANDLER = """
import signal, sys, time
def stop(number, frame):
    time.sleep(float(sys.argv[2]))
    with open('/out/events', 'a') as out:
        out.write('%s %s\\n' % (sys.argv[1], signal.Signals(number).name))
    sys.exit(0)
signal.signal(signal.SIGTERM, stop)
signal.signal(signal.SIGUSR1, stop)
while True:
    time.sleep(1)
"""
IGNORES_SIGTERM = (
    "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(3600)"
)


def service(name: str, linger: float, **extra: object) -> dict[str, object]:
    return {
        "image": IMAGE,
        "command": ["python3", "-c", HANDLER, name, str(linger)],
        "volumes": ["./:/out"],
        **extra,
    }


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return run_captured(["docker", *args], timeout=60)


def listed(kind: str, project: str) -> list[str]:
    """``docker ps -a`` / ``network ls`` / ``volume ls`` filtered by the project's label."""
    command = ["ps", "-a"] if kind == "container" else [kind, "ls"]
    done = cli(*command, "-q", "--filter", f"label=com.docker.compose.project={project}")
    assert done.returncode == 0, done.stderr
    return done.stdout.split()


@pytest.fixture
def client() -> Iterator[docker.DockerClient]:
    # The daemon the probe found (DOCKER_HOST, context or socket), as the harness uses it.
    opened, _ = connect(require_docker().docker.host)
    yield opened
    opened.close()


class Project:
    """A Compose project in a temporary folder, started with ``docker compose up --detach``."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.name = "mc-td-" + secrets.token_hex(4)
        self.file = folder / "compose.yml"

    def up(self, compose: dict[str, object]) -> None:
        self.file.write_text(json.dumps(compose))  # JSON is YAML
        done = self.compose("up", "--detach", "--no-build")
        assert done.returncode == 0, done.stderr

    def compose(self, *args: str) -> subprocess.CompletedProcess[str]:
        return cli("compose", "-p", self.name, "-f", str(self.file), *args)

    def events(self) -> list[str]:
        path = self.folder / "events"
        return path.read_text().splitlines() if path.exists() else []


@pytest.fixture
def project(tmp_path: Path, client: docker.DockerClient) -> Iterator[Project]:
    made = Project(tmp_path)
    yield made
    made.compose("down", "--volumes", "--remove-orphans", "--timeout", "0")


def test_a_service_stops_only_after_the_services_that_depend_on_it(
    project: Project, client: docker.DockerClient
) -> None:
    # app takes half a second to stop: had cache or db been signalled at the same time (or
    # first), their lines would come first.
    project.up(
        {
            "services": {
                "db": service("db", 0),
                "cache": service("cache", 0, depends_on={"db": {"condition": "service_started"}}),
                "app": service("app", 0.5, depends_on=["db", "cache"]),
            }
        }
    )
    time.sleep(0.5)  # the handlers are installed

    removed = take_down(client, project.name)

    assert project.events() == ["app SIGTERM", "cache SIGTERM", "db SIGTERM"]
    assert removed.containers == tuple(f"{project.name}-{s}-1" for s in ("app", "cache", "db"))
    assert listed("container", project.name) == []


def test_each_container_stops_with_its_own_signal_and_grace_period(
    project: Project, client: docker.DockerClient
) -> None:
    project.up(
        {
            "services": {
                "usr1": service("usr1", 0, stop_signal="SIGUSR1"),
                "stubborn": {
                    "image": IMAGE,
                    "command": ["python3", "-c", IGNORES_SIGTERM],
                    "stop_grace_period": "1s",
                },
            }
        }
    )
    time.sleep(0.5)

    began = time.monotonic()
    take_down(client, project.name)
    seconds = time.monotonic() - began

    assert project.events() == ["usr1 SIGUSR1"]
    # Killed after its 1 s grace period, not the daemon's default 10 s.
    assert 0.9 < seconds < 5, seconds
    assert listed("container", project.name) == []


def test_nothing_of_the_project_is_left_and_external_networks_and_volumes_stay(
    project: Project, client: docker.DockerClient
) -> None:
    external = "mc-td-external-" + secrets.token_hex(4)
    assert cli("network", "create", external).returncode == 0
    assert cli("volume", "create", external).returncode == 0
    try:
        project.up(
            {
                "services": {
                    "app": {
                        "image": IMAGE,
                        "command": ["sleep", "3600"],
                        "init": True,
                        "volumes": ["/anonymous", "named:/named", f"{external}:/external"],
                        "networks": ["default", "outside"],
                    }
                },
                "networks": {"outside": {"name": external, "external": True}},
                "volumes": {"named": {}, external: {"external": True}},
            }
        )
        # A container of the project that its file no longer has: Compose's orphan.
        orphan = cli(
            "run", "--detach", "--init", "--label", f"com.docker.compose.project={project.name}",
            "--label", "com.docker.compose.service=gone", IMAGE, "sleep", "3600",
        )  # fmt: skip
        assert orphan.returncode == 0, orphan.stderr
        mounts = json.loads(cli("inspect", f"{project.name}-app-1").stdout)[0]["Mounts"]
        anonymous = [m["Name"] for m in mounts if m["Destination"] == "/anonymous"]
        assert anonymous
        assert len(listed("volume", project.name)) == 1  # the named one
        assert len(listed("container", project.name)) == 2

        removed = take_down(client, project.name)

        assert len(removed.containers) == 2
        assert len(removed.volumes) == 1
        assert [listed(kind, project.name) for kind in ("container", "network", "volume")] == [
            [],
            [],
            [],
        ]
        assert cli("volume", "inspect", anonymous[0]).returncode != 0
        assert cli("network", "inspect", external).returncode == 0
        assert cli("volume", "inspect", external).returncode == 0
    finally:
        project.compose("down", "--volumes", "--remove-orphans", "--timeout", "0")
        cli("network", "rm", external)
        cli("volume", "rm", external)


def test_taking_down_a_project_that_has_nothing_left_removes_nothing(
    client: docker.DockerClient,
) -> None:
    removed = take_down(client, "mc-td-" + secrets.token_hex(4))
    assert (removed.containers, removed.networks, removed.volumes) == ((), (), ())


def container(service: str, needs: str = "") -> Container:
    return Container(service, f"p-{service}-1", service, depends_on(needs))


def test_the_stop_order_puts_dependents_first_and_independent_services_together() -> None:
    levels = stop_order(
        [
            container("db"),
            container("queue"),
            container("api", "db:service_healthy:false,queue:service_started:true"),
            container("worker", "queue:service_started:false"),
            container("web", "api:service_started:false,missing:service_started:false"),
        ]
    )
    assert [[c.service for c in level] for level in levels] == [
        ["web", "worker"],
        ["api"],
        ["db", "queue"],
    ]


def test_a_dependency_cycle_from_hand_made_labels_stops_its_services_together_last() -> None:
    levels = stop_order([container("a", "b:x:y"), container("b", "a:x:y"), container("c", "a:x:y")])
    assert [[c.service for c in level] for level in levels] == [["c"], ["a", "b"]]

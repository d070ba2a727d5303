"""Take a Compose project down through the daemon's API, as ``compose down --volumes
--remove-orphans`` does, from a client already open: no Compose process to start, no project
file to load.

Everything is found by Compose's project label, which Compose puts on what it creates: every
container of the project (orphans of an older file included), then the project's networks and
volumes. External networks and volumes carry no project label and are never touched.

Containers stop gracefully, in Compose's order: a service stops only after the services that
depend on it (the ``com.docker.compose.depends_on`` label Compose writes on each container);
containers of one level stop at once. Each stops with its own signal and grace period, as
Compose wrote them into the container (``stop_signal`` as ``StopSignal``, which the daemon
sends; ``stop_grace_period`` as ``StopTimeout``), and is then removed with its anonymous volumes.
Networks and volumes go last, at once.
"""

from __future__ import annotations

import concurrent.futures
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

from test_framework.errors import TeardownError

if TYPE_CHECKING:
    import docker

log = logging.getLogger(__name__)

COMPOSE_PROJECT = "com.docker.compose.project"
COMPOSE_SERVICE = "com.docker.compose.service"
COMPOSE_DEPENDS_ON = "com.docker.compose.depends_on"
# Below the SDK's connection pool (10), so no connection is opened only to be thrown away.
MAX_THREADS = 8

T = TypeVar("T")


@dataclass(frozen=True)
class Container:
    """A container of the project, as the daemon's list gives it."""

    id: str
    name: str
    service: str
    depends_on: frozenset[str]


@dataclass(frozen=True)
class ProjectRemoval:
    """What ``take_down`` removed (names), in the order it stopped the containers."""

    project: str
    containers: tuple[str, ...] = ()
    networks: tuple[str, ...] = ()
    volumes: tuple[str, ...] = ()

    def summary(self) -> str:
        return (
            f"{len(self.containers)} container(s), {len(self.networks)} network(s),"
            f" {len(self.volumes)} volume(s)"
        )


def take_down(client: docker.DockerClient, project: str) -> ProjectRemoval:
    """Stop and remove every container of Compose project ``project``, then its networks and
    volumes. A resource already gone, or being removed by someone else, counts as removed.

    Raises ``TeardownError`` naming the step when the daemon fails otherwise (or stops
    answering): the caller decides what to do about what is left.
    """
    import docker.errors

    label = {"label": [f"{COMPOSE_PROJECT}={project}"]}
    api = client.api
    try:
        containers = [_container(entry) for entry in api.containers(all=True, filters=label)]
    except (docker.errors.DockerException, OSError) as exc:
        raise TeardownError(f"listing the containers of {project}: {_why(exc)}") from exc
    removed: list[str] = []
    for level in stop_order(containers):
        removed += _at_once(lambda container: _stop_and_remove(api, container), level)
    try:
        networks = [(str(n["Id"]), str(n["Name"])) for n in api.networks(filters=label)]
        volumes = [str(v["Name"]) for v in api.volumes(filters=label).get("Volumes") or []]
    except (docker.errors.DockerException, OSError) as exc:
        raise TeardownError(f"listing the networks and volumes of {project}: {_why(exc)}") from exc
    work: list[Callable[[], str]] = [
        *(lambda net=net: _remove_network(api, *net) for net in networks),
        *(lambda volume=volume: _remove_volume(api, volume) for volume in volumes),
    ]
    gone = _at_once(lambda remove: remove(), work)
    return ProjectRemoval(
        project, tuple(removed), tuple(gone[: len(networks)]), tuple(gone[len(networks) :])
    )


def stop_order(containers: Iterable[Container]) -> list[list[Container]]:
    """The containers in levels: each level's services are depended on by none of the services
    of the levels after it, so a level stops only once its dependents have stopped.

    Dependencies on services with no container are ignored. Compose refuses a cycle; should
    hand-made labels make one, its services stop together, last.
    """
    by_service: dict[str, list[Container]] = {}
    needs: dict[str, set[str]] = {}
    for container in containers:
        by_service.setdefault(container.service, []).append(container)
        needs.setdefault(container.service, set()).update(container.depends_on)
    remaining = set(by_service)
    levels: list[list[Container]] = []
    while remaining:
        needed = {dep for service in remaining for dep in needs[service] if dep != service}
        level = sorted(remaining - needed) or sorted(remaining)
        levels.append([container for service in level for container in by_service[service]])
        remaining -= set(level)
    return levels


def depends_on(label: str) -> frozenset[str]:
    """The services named in Compose's ``depends_on`` label: ``db:service_started:false,...``."""
    names = (part.split(":", 1)[0].strip() for part in label.split(","))
    return frozenset(name for name in names if name)


def _container(entry: Mapping[str, object]) -> Container:
    labels = entry.get("Labels") or {}
    assert isinstance(labels, dict)
    names = entry.get("Names") or []
    assert isinstance(names, list)
    ident = str(entry["Id"])
    return Container(
        id=ident,
        name=str(names[0]).lstrip("/") if names else ident[:12],
        # A container without a service label (one made by hand with the project's label) is
        # a service of its own that nothing depends on.
        service=str(labels.get(COMPOSE_SERVICE) or f"container {ident}"),
        depends_on=depends_on(str(labels.get(COMPOSE_DEPENDS_ON) or "")),
    )


def _stop_and_remove(api: docker.APIClient, container: Container) -> str:
    import docker.errors

    step = "inspecting"
    try:
        config = api.inspect_container(container.id).get("Config") or {}
        # The daemon applies StopTimeout itself when none is passed; passing it lets the SDK
        # wait that much longer for the answer than its own timeout. Unset: the daemon's
        # default, 10 s.
        grace = config.get("StopTimeout")
        step = "stopping"
        api.stop(container.id, timeout=int(grace) if grace is not None else None)
        step = "removing"
        api.remove_container(container.id, v=True, force=True)
    except docker.errors.APIError as exc:
        if not _already_going(exc):
            raise TeardownError(f"{step} container {container.name}: {_why(exc)}") from exc
        log.info("container %s already gone or going", container.name)
    except (docker.errors.DockerException, OSError) as exc:
        raise TeardownError(f"{step} container {container.name}: {_why(exc)}") from exc
    return container.name


def _remove_network(api: docker.APIClient, network_id: str, name: str) -> str:
    return _remove("network", name, lambda: api.remove_network(network_id))


def _remove_volume(api: docker.APIClient, volume: str) -> str:
    return _remove("volume", volume, lambda: api.remove_volume(volume))


def _remove(kind: str, name: str, remove: Callable[[], object]) -> str:
    import docker.errors

    try:
        remove()
    except docker.errors.APIError as exc:
        if not _already_going(exc):
            raise TeardownError(f"removing {kind} {name}: {_why(exc)}") from exc
        log.info("%s %s already gone or going", kind, name)
    except (docker.errors.DockerException, OSError) as exc:
        raise TeardownError(f"removing {kind} {name}: {_why(exc)}") from exc
    return name


def _already_going(exc: docker.errors.APIError) -> bool:
    """Gone already, or being removed by someone else (another run's cleanup)."""
    if exc.status_code == 404:
        return True
    return exc.status_code == 409 and "in progress" in str(exc.explanation)


def _why(exc: BaseException) -> str:
    import docker.errors

    if isinstance(exc, docker.errors.APIError) and exc.explanation:
        return f"{exc.status_code} {exc.explanation}"
    return str(exc) or type(exc).__name__


def _at_once(work: Callable[[T], str], items: Sequence[T]) -> list[str]:
    """``work`` on every item, in threads when there are several; results in the items' order.
    Every item is attempted; the first error is raised once all have finished."""
    if len(items) <= 1:
        return [work(item) for item in items]
    with concurrent.futures.ThreadPoolExecutor(min(len(items), MAX_THREADS)) as pool:
        futures = [pool.submit(work, item) for item in items]
        concurrent.futures.wait(futures)
    return [future.result() for future in futures]

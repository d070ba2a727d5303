"""Remove the Docker resources of runs: one run by id, or every run whose owning process is gone.

Resources are found by this harness's labels (see ``labels``), never by name, so nothing else on
the machine is touched. A SIGKILLed run cannot clean up after itself; the next run (and
``python -m test_framework cleanup``) removes what it left.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from test_framework.engine.docker_host import locate_daemon
from test_framework.engine.labels import PROJECT_FILTER, RUN_ID, owner_gone
from test_framework.errors import ModeUnavailableError

if TYPE_CHECKING:
    import docker

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CleanupReport:
    containers: tuple[str, ...] = ()
    networks: tuple[str, ...] = ()
    volumes: tuple[str, ...] = ()
    runs: tuple[str, ...] = ()
    errors: tuple[str, ...] = field(default=())
    images: tuple[str, ...] = ()  # superseded builds of the service image

    @property
    def removed_anything(self) -> bool:
        return bool(self.containers or self.networks or self.volumes or self.images)

    def summary(self) -> str:
        if not self.removed_anything and not self.errors:
            return "nothing to remove"
        parts = [
            f"{len(self.containers)} container(s)",
            f"{len(self.networks)} network(s)",
            f"{len(self.volumes)} volume(s)",
        ]
        text = f"removed {', '.join(parts)} of run(s) {', '.join(self.runs) or '-'}"
        if self.images:
            text += f", and {len(self.images)} superseded image(s)"
        if self.errors:
            text += f"; {len(self.errors)} failed: {'; '.join(self.errors)}"
        return text


Select = Callable[[Mapping[str, str]], bool]


def remove_run(run_id: str, host: str | None = None) -> CleanupReport:
    """Remove every container, network and volume of run ``run_id``, including the private
    deployments derived from it, whose run ids extend it (``<run id>c<worker><n>``)."""
    return _cleanup(host, [], _of_run(run_id))


def _of_run(run_id: str) -> Select:
    if not run_id:
        raise ValueError("remove_run needs a run id")
    return lambda labels: labels.get(RUN_ID, "").startswith(run_id)


def sweep_run(client: docker.DockerClient, run_id: str) -> CleanupReport:
    """``remove_run`` with a client already open: what a teardown left of run ``run_id``."""
    return remove_labelled(client, [PROJECT_FILTER], _of_run(run_id))


def remove_orphans(host: str | None = None) -> CleanupReport:
    """Remove the resources of every run whose owning process is gone (on this host), and the
    service images later builds superseded."""
    return _cleanup(host, [], owner_gone, prune=True)


def remove_everything(host: str | None = None) -> CleanupReport:
    """Remove every resource carrying this harness's labels, including live runs' stacks."""
    return _cleanup(host, [], lambda labels: True, prune=True)


def _cleanup(
    host: str | None, extra: list[str], select: Select, prune: bool = False
) -> CleanupReport:
    client = _open(host)
    if client is None:
        return CleanupReport()
    try:
        report = remove_labelled(client, [PROJECT_FILTER, *extra], select)
        return dataclasses.replace(report, images=prune_images(client)) if prune else report
    finally:
        client.close()


def prune_images(client: docker.DockerClient) -> tuple[str, ...]:
    """Remove this harness's dangling images: builds of the service image that a later build
    replaced. The daemon never removes an image a container still uses."""
    filters: dict[str, str | list[str] | bool] = {"dangling": True, "label": PROJECT_FILTER}
    # The API's list, not the SDK's (which inspects each image it lists: an image another run
    # prunes between the two answers "no such image" and failed the whole start).
    candidates = [str(entry["Id"]) for entry in client.api.images(filters=filters)]
    if not candidates:
        return ()
    result = client.images.prune(filters=filters)
    deleted = {str(entry.get("Deleted")) for entry in result.get("ImagesDeleted") or []}
    removed = tuple(image_id for image_id in candidates if image_id in deleted)
    log.info("removed %d superseded image(s)", len(removed))
    return removed


def _open(host: str | None) -> docker.DockerClient | None:
    """An SDK client for the daemon, or None when none answers."""
    search = locate_daemon(host, timeout=2.0)
    if search.found is None:
        # No daemon, no containers: nothing can have been left behind on it.
        log.info("cleanup skipped: %s", search.explain())
        return None
    try:
        from test_framework.engine.docker_client import open_client
    except ImportError as exc:
        raise ModeUnavailableError(
            f"the Docker SDK is not installed ({exc}):"
            " pip install 'mission-critical-harness[docker]'"
        ) from None
    return open_client(search.found.address)


def remove_labelled(
    client: docker.DockerClient, label_filters: list[str], select: Select
) -> CleanupReport:
    """Remove containers, then networks, then volumes that match every filter and ``select``."""
    import docker.errors

    filters: dict[str, str | list[str] | bool] = {"label": label_filters}
    containers: list[str] = []
    networks: list[str] = []
    volumes: list[str] = []
    runs: set[str] = set()
    errors: list[str] = []

    def attempt(kind: str, name: str, remove: Callable[[], None], into: list[str]) -> None:
        try:
            remove()
        except docker.errors.NotFound:
            log.info("%s %s already gone", kind, name)
        except docker.errors.APIError as exc:
            if exc.status_code == 409 and "in progress" in str(exc.explanation):
                log.info("%s %s is being removed by someone else", kind, name)
                return
            errors.append(f"{kind} {name}: {exc.explanation or exc}")
            return
        into.append(name)

    # Sparse: the list's own fields, without an inspect per container, which would fail for a
    # container another run removes between the list and its inspect.
    for container in client.containers.list(all=True, filters=filters, sparse=True):
        labels = container.attrs.get("Labels") or {}
        if select(labels):
            runs.add(labels.get(RUN_ID, "?"))
            names = container.attrs.get("Names") or []
            attempt(
                "container",
                names[0].lstrip("/") if names else container.id or "?",
                functools.partial(container.remove, force=True, v=True),
                containers,
            )
    for network in client.networks.list(filters=filters):
        labels = network.attrs.get("Labels") or {}
        if select(labels):
            runs.add(labels.get(RUN_ID, "?"))
            attempt("network", network.name or "?", network.remove, networks)
    for volume in client.volumes.list(filters=filters):
        labels = volume.attrs.get("Labels") or {}
        if select(labels):
            runs.add(labels.get(RUN_ID, "?"))
            attempt("volume", volume.name or "?", functools.partial(volume.remove, True), volumes)
    report = CleanupReport(
        tuple(containers), tuple(networks), tuple(volumes), tuple(sorted(runs)), tuple(errors)
    )
    if report.removed_anything or report.errors:
        log.warning("docker cleanup: %s", report.summary())
    return report

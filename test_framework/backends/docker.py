"""The docker_local backend: the service's containers, from the compose file, one stack per run.

Under pytest-xdist every worker of a run shares one stack. The first worker to call ``start``
starts it under a file lock in ``run.shared_dir`` and records it there; the others attach to it.
Every worker's ``stop`` checks out, and the last one out (``run.worker_count`` check-outs) takes
the stack down. The stack's project name is unique per run and every container, network and
volume carries the run's labels, so a run killed before it could clean up is removed by the next
run (or ``python -m test_framework cleanup``).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import filelock

from test_framework.backends.base import RunContext
from test_framework.backends.readiness import answers, expected_answer
from test_framework.endpoints import Endpoints
from test_framework.engine.cleanup import (
    prune_images,
    remove_labelled,
    remove_run,
    sweep_run,
)
from test_framework.engine.compose import (
    ComposeStack,
    Progress,
    Published,
    StackStartError,
    print_progress,
)
from test_framework.engine.compose_command import find_compose
from test_framework.engine.compose_file import resolve_compose_file
from test_framework.engine.daemon_address import DaemonAddress
from test_framework.engine.docker_client import connect, open_client
from test_framework.engine.image_inputs import (
    choose_base_image,
    uses_base_image,
    wheelhouse_status,
)
from test_framework.engine.labels import PROJECT_FILTER, RUN_ID, compose_variables, owner_gone
from test_framework.engine.labels import project_name as _project_name
from test_framework.engine.step_clock import StepClock
from test_framework.engine.teardown import take_down
from test_framework.errors import (
    ConfigError,
    HarnessError,
    ModeUnavailableError,
    ServiceUnavailableError,
    TeardownError,
)
from test_framework.interrupts import sigterm_as_interrupt
from test_framework.service import NO_COMPOSE_FILE, ServiceSettings
from test_framework.settings import Settings

if TYPE_CHECKING:
    import docker

log = logging.getLogger(__name__)

STATE_FILE = "docker-stack.json"
LOCK_FILE = "docker-stack.lock"
CHECKOUT_DIR = "docker-checked-out"
# How often the start polls the daemon for the port and the port for an answer: a refused
# connection on loopback costs well under a millisecond.
POLL_S = 0.02


@dataclass(frozen=True)
class StackRecord:
    """What the first worker writes for the others: where the stack is and how to reach it."""

    status: str  # starting | up | failed | down
    project: str
    compose_file: str = ""
    reason: str = ""
    endpoints: dict[str, Any] | None = None

    def to_json(self) -> str:
        return json.dumps(self.__dict__)


class DockerBackend:
    """``start`` brings the stack up (or attaches to this run's), ``stop`` checks out of it."""

    def __init__(
        self, settings: Settings, run: RunContext, progress: Progress = print_progress
    ) -> None:
        self.settings = settings
        self.run = run
        self.progress = progress
        self.project = _project_name(run.run_id)
        self._endpoints: Endpoints | None = None
        self._stack: ComposeStack | None = None
        self._client: docker.DockerClient | None = None  # the one start() opened

    # -- the Backend protocol ------------------------------------------------------------------

    def start(self) -> Endpoints:
        if self._endpoints is not None:
            return self._endpoints
        self.run.shared_dir.mkdir(parents=True, exist_ok=True)
        with self._lock():
            record = self._read()
            if record is not None and record.status == "up" and record.endpoints:
                endpoints = Endpoints.from_json(record.endpoints)
                log.info("attached to %s started by another worker", record.project)
            elif record is not None and record.status == "failed":
                raise ServiceUnavailableError(record.reason)
            else:
                endpoints = self._bring_up()
        self._endpoints = endpoints
        sigterm_as_interrupt()
        return endpoints

    def stop(self) -> None:
        """Check this worker out; the last worker out takes the stack down. Idempotent."""
        self._endpoints = None
        if not self.run.shared_dir.is_dir():
            return
        with self._lock():
            checked_out = self.run.shared_dir / CHECKOUT_DIR
            checked_out.mkdir(exist_ok=True)
            (checked_out / _safe(self.run.worker_id)).touch()
            count = sum(1 for _ in checked_out.iterdir())
            record = self._read()
            if count < self.run.worker_count or record is None or record.status == "down":
                self._close_client()
                return
            self._bring_down(record)

    # -- deployment control (a private stack: the plugin gives each such test its own run) -----

    def terminate(self) -> None:
        """Stop the service container (SIGTERM, then its grace period) and wait until it is."""
        self._endpoints = None
        self._require_stack().stop(timeout_s=30, services=[self.settings.service.compose_service])

    def restart(self) -> Endpoints:
        """Start the service container again and return its endpoints (the host port changes)."""
        stack = self._require_stack()
        service = self.settings.service
        previous = self._read()
        details = dict(previous.endpoints["details"]) if previous and previous.endpoints else {}
        if service.wait_for_compose_healthcheck:
            name = service.compose_service
            stack.up(self.settings.docker.start_timeout_s, services=[name], build=False)
            endpoints = self._reach(stack, details)
        else:
            client, _ = connect(self.settings.docker.host, self.settings.probe_timeout_s)
            try:
                _, published = self._start_until_answering(stack, client, StepClock(), build=False)
            finally:
                client.close()
            endpoints = self._reach(stack, details, answering=published)
        with self._lock():
            self._write(StackRecord("up", self.project, str(stack.file), "", endpoints.to_json()))
        self._endpoints = endpoints
        return endpoints

    def end_run(self) -> None:
        """The controller's safety net at the very end of a run: remove whatever is left of it."""
        run_id = self.run.run_id
        report = remove_run(run_id, self.settings.docker.host)
        if report.removed_anything or report.errors:
            log.warning("run %s left docker resources behind: %s", run_id, report.summary())

    def service_logs(self, tail: int = 200) -> str:
        """The service's recent logs, for the report of a failed test."""
        record = self._read()
        if record is None or not record.compose_file:
            return "(the stack was not started)"
        stack = self._stack or self._compose_stack(Path(record.compose_file), self._address())
        return stack.logs(self.settings.service.compose_service, tail=tail)

    # -- internals -------------------------------------------------------------------------------

    def _bring_up(self) -> Endpoints:
        docker = self.settings.docker
        service = self.settings.service
        if not service.compose_file:
            raise ModeUnavailableError(NO_COMPOSE_FILE)
        clock = StepClock()
        client, address = connect(docker.host, self.settings.probe_timeout_s)
        clock.done("daemon")
        try:
            orphans = remove_labelled(client, [PROJECT_FILTER], owner_gone)
            orphans = dataclasses.replace(orphans, images=prune_images(client))
            if orphans.removed_anything:
                self.progress(f"docker_local: leftovers of earlier runs: {orphans.summary()}")
            clock.done("leftover sweep")
            compose_file = resolve_compose_file(service.compose_file, self.settings.root)
            # None: the compose file does not pass MC_BASE_IMAGE, so no choice reaches its build.
            base_image: str | None = None
            if uses_base_image(compose_file):
                base_image = docker.base_image
                choice = choose_base_image(address, base_image, self.settings.probe_timeout_s)
                if not choice.ok:
                    raise ModeUnavailableError(choice.detail)
                if choice.image != base_image:
                    log.info("base image: %s", choice.detail)
                    self.progress(f"docker_local: {choice.detail}")
                base_image = choice.image
            wheels_ok, wheels_detail = wheelhouse_status(compose_file)
            if not wheels_ok:
                raise ModeUnavailableError(wheels_detail)
            clock.done("image and wheelhouse checks")
            stack = self._compose_stack(compose_file, address, base_image=base_image)
            self._stack = stack
            self._write(StackRecord("starting", self.project, str(compose_file)))
            try:
                if service.wait_for_compose_healthcheck:
                    stack.check_service(service.compose_service)
                    clock.done("service check")
                    seconds = stack.up(docker.start_timeout_s, clock=clock)
                    published: Published | None = None
                else:
                    seconds, published = self._start_until_answering(
                        stack, client, clock, check_service=True
                    )
            except StackStartError as exc:
                path = self._save_logs(exc.logs)
                self._down_quietly(stack)
                message = f"{exc} (logs: {path})"
                self._write(StackRecord("failed", self.project, str(compose_file), message))
                raise StackStartError(message, exc.logs) from None
            details = {
                "project": self.project,
                "compose_file": str(compose_file),
                "compose": str(stack.command),
                "docker_host": address.url,
                **({"base_image": base_image} if base_image else {}),
                "start_s": f"{seconds:.1f}",
                **self._container_facts(client),
            }
            clock.done("container facts")
            endpoints = self._reach(stack, details, clock, published)
        except BaseException as exc:
            client.close()
            if isinstance(exc, HarnessError):
                record = self._read()
                if record is None or record.status != "failed":
                    self._write(StackRecord("failed", self.project, "", str(exc)))
            raise
        # Kept open for stop(): the teardown then starts at once, with no second connect.
        self._close_client()
        self._client = client
        self._write(StackRecord("up", self.project, str(compose_file), "", endpoints.to_json()))
        log.info("%s started in %s", self.project, clock.summary())
        return endpoints

    def _reach(
        self,
        stack: ComposeStack,
        details: dict[str, str],
        clock: StepClock | None = None,
        answering: Published | None = None,
    ) -> Endpoints:
        """Endpoints on the published loopback port, once ``/health`` answers through it
        (``answering``: a port already seen answering moments ago)."""
        clock = clock or StepClock()
        service = self.settings.service
        if answering is not None:
            return _endpoints_at(answering.port, service, details, clock)
        published = stack.published(service.compose_service, service.container_port)
        clock.done("port lookup")
        _wait_for_health(f"http://127.0.0.1:{published.port}", service, timeout_s=30.0)
        clock.done("health through the port")
        return _endpoints_at(published.port, service, details, clock)

    def _start_until_answering(
        self,
        stack: ComposeStack,
        client: Any,
        clock: StepClock,
        build: bool = True,
        check_service: bool = False,
    ) -> tuple[float, Published]:
        """Build, and ``compose up --detach`` without ``--wait``; meanwhile look up the
        service's published port through the daemon and poll it tightly until it answers (see
        ``answers``). Ready is the service answering through the port, from the image the build
        left, whatever the interval of the container's own healthcheck. Returns the seconds and
        the port.

        When the service's image is already there, the start does not wait for the build: the
        container starts from the image as it is while the build runs, and is kept only if the
        build left the image unchanged (the usual case: cached layers); otherwise the service
        is started again from the new image before the start returns."""
        docker = self.settings.docker
        service = self.settings.service
        started = time.monotonic()
        deadline = started + docker.start_timeout_s
        image = stack.check_service(service.compose_service) if check_service else ""
        if check_service:
            clock.done("service check")
        building: _InThread | None = None
        if build and image and _image_id(client, image):
            building = _InThread(lambda: stack.build(deadline))
        elif build:
            stack.build(deadline)
            clock.done("build")
        recreate = False
        while True:
            try:
                published = self._until_answering(stack, client, deadline, recreate)
            except StackStartError:
                if building is None:
                    raise
                building.result()  # a failed build explains a failed start best
                building = None
                clock.done("start from the previous image failed; build")
                self.progress(f"docker_local: starting {self.project} again from the new build")
                recreate = True
                continue
            clock.done("up --detach, port and first answer")
            if building is None:
                break
            building.result()
            building = None
            clock.done("build, beside the start")
            container = self._service_container(client)
            running = str(container.attrs.get("Image", "")) if container is not None else ""
            if running == _image_id(client, image):
                break
            self.progress(f"docker_local: the build changed {image}: starting the service again")
            recreate = True
        seconds = time.monotonic() - started
        self.progress(f"docker_local: {self.project} answering after {seconds:.1f} s")
        return seconds, published

    def _until_answering(
        self, stack: ComposeStack, client: Any, deadline: float, recreate: bool = False
    ) -> Published:
        """``compose up --detach``, then the port polled until the service answers.
        ``recreate``: a new container replaces the one there, which must not be asked."""
        docker = self.settings.docker
        service = self.settings.service
        old = self._service_container(client) if recreate else None
        replaced = str(old.id) if old is not None else ""
        starting = stack.start_detached(deadline + 15, recreate=recreate)
        published: Published | None = None
        last = "no container yet"
        while True:
            exited = starting.finished.is_set()
            if exited and starting.code != 0:
                raise stack.start_failed("", starting.args, starting.output, [], starting.code)
            if published is None:
                published, last = self._published_port(client, stack, replaced)
            if published is not None:
                ok, last = answers(f"http://127.0.0.1:{published.port}", service)
                if ok:
                    break
            if exited:
                # Compose is done; a container that stopped will not come to answer.
                problem = self._stopped(client)
                if problem:
                    raise stack.start_failed("", starting.args, starting.output, [problem], 1)
            if time.monotonic() > deadline:
                raise stack.start_failed(
                    f"within {docker.start_timeout_s:g} s",
                    starting.args,
                    starting.output,
                    [f"{service.compose_service} did not answer: {last}"],
                    starting.code,
                )
            time.sleep(POLL_S)
        # Compose exits as soon as the containers have started: by now, or very nearly.
        starting.finished.wait(max(deadline + 15 - time.monotonic(), 0))
        if starting.code != 0:
            raise stack.start_failed("", starting.args, starting.output, [], starting.code)
        return published

    def _service_container(self, client: Any) -> Any | None:
        containers = client.containers.list(
            all=True,
            filters={
                "label": [
                    f"com.docker.compose.project={self.project}",
                    f"com.docker.compose.service={self.settings.service.compose_service}",
                ]
            },
        )
        return containers[0] if containers else None

    def _published_port(
        self, client: Any, stack: ComposeStack, replaced: str = ""
    ) -> tuple[Published | None, str]:
        """The service container's loopback host port for ``container_port``, once Docker has
        published it; else None and why not. ``replaced``: a container id being replaced."""
        import docker.errors

        service = self.settings.service
        try:
            container = self._service_container(client)
        except docker.errors.NotFound:  # removed between the list and its inspection
            return None, "the container went away"
        if container is None:
            return None, "no container yet"
        if container.id == replaced:
            return None, f"{container.name} is still the one being replaced"
        ports = container.attrs.get("NetworkSettings", {}).get("Ports") or {}
        bindings = ports.get(f"{service.container_port}/tcp") or []
        if not bindings:
            return None, f"{container.name} has not published {service.container_port} yet"
        for binding in bindings:
            host = str(binding.get("HostIp", "")).strip("[]")
            if host in ("127.0.0.1", "::1"):
                return Published(host, int(binding["HostPort"])), "published"
        host = str(bindings[0].get("HostIp", ""))
        raise ConfigError(
            f"{stack.file.name}: service {service.compose_service!r} publishes"
            f" {service.container_port} on {host or '0.0.0.0'}, not loopback:"
            f" use ports: ['127.0.0.1::{service.container_port}']"
        )

    def _stopped(self, client: Any) -> str:
        """Why the service container is not running, or "" while it runs."""
        container = self._service_container(client)
        if container is None:
            return f"no {self.settings.service.compose_service} container was created"
        state = container.attrs.get("State", {})
        if state.get("Status") == "running":
            return ""
        return f"{container.name} is {state.get('Status')} (exit code {state.get('ExitCode')})"

    def _container_facts(self, client: Any) -> dict[str, str]:
        container = self._service_container(client)
        if container is None:
            return {}
        if container.labels.get(RUN_ID) != self.run.run_id:
            log.warning(
                "service %s carries no %s=%s label: a stack left by a killed run cannot be found"
                " by cleanup; add the labels of docker/docker-compose.alpine-test.yml",
                self.settings.service.compose_service,
                RUN_ID,
                self.run.run_id,
            )
        return {
            "container": str(container.name),
            "image": str(container.attrs.get("Config", {}).get("Image", "")),
            "image_id": str(container.attrs.get("Image", "")),
        }

    def _bring_down(self, record: StackRecord) -> None:
        """Remove the stack through the daemon's API (``teardown``), with the client ``start``
        left open when this worker started it; should that fail, with ``compose down``. Then
        the sweep of whatever still carries the run's labels, on the same client."""
        from test_framework.engine.docker_host import locate_daemon

        started = time.monotonic()
        client, self._client = self._client, None
        if client is None:
            search = locate_daemon(self.settings.docker.host, self.settings.probe_timeout_s)
            if search.found is None:
                self._unremovable(search.explain())
                return
            client = open_client(search.found.address)
        try:
            try:
                take_down(client, self.project)
            except TeardownError as exc:
                log.warning(
                    "removing %s through the daemon's API failed (%s): falling back to"
                    " `compose down --volumes --remove-orphans`",
                    self.project,
                    exc,
                )
                if not self._compose_down(record):
                    return
            report = sweep_run(client, self.run.run_id)
        finally:
            client.close()
        self._write(StackRecord("down", self.project, record.compose_file))
        seconds = time.monotonic() - started
        extra = f"; by labels: {report.summary()}" if report.removed_anything else ""
        self.progress(f"docker_local: {self.project} removed in {seconds:.1f} s{extra}")

    def _compose_down(self, record: StackRecord) -> bool:
        """``compose down`` of the stack; False when the daemon stopped answering (nothing
        more can be removed now)."""
        from test_framework.engine.docker_host import locate_daemon

        try:
            if record.compose_file:
                stack = self._stack
                if stack is None or str(stack.file) != record.compose_file:
                    # Another worker started it: find the daemon for Compose's environment.
                    stack = self._compose_stack(Path(record.compose_file), self._address())
                stack.down()
            return True
        except HarnessError as exc:
            # compose down failed; the labels still find everything, so remove by them.
            log.warning("compose down of %s failed (%s); removing by labels", self.project, exc)
        search = locate_daemon(self.settings.docker.host, self.settings.probe_timeout_s)
        if search.found is None:
            self._unremovable(search.explain())
            return False
        return True

    def _close_client(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    def _unremovable(self, why: str) -> None:
        self.progress(
            f"docker_local: {self.project} could not be removed, the Docker daemon"
            f" stopped answering ({why}): the next run, or `python -m"
            " test_framework cleanup`, removes it once the daemon is back"
        )

    def _down_quietly(self, stack: ComposeStack) -> None:
        try:
            stack.down()
        except HarnessError as exc:
            log.warning("compose down after a failed start: %s; removing by labels", exc)
            remove_run(self.run.run_id, self.settings.docker.host)

    def _compose_stack(
        self, compose_file: Path, address: DaemonAddress | None, base_image: str | None = None
    ) -> ComposeStack:
        env = {
            **(address.environment() if address is not None else {}),
            **compose_variables(self.run.run_id, self.run.owner_pid),
            "MC_BASE_IMAGE": base_image or self.settings.docker.base_image,
            "MC_TEST_PASSWORD": self.run.test_password,
            "MC_JWT_SECRET": self.run.jwt_secret,
            "MC_TEST_TOKEN": self.run.test_token,
            # The names this repository's compose file reads.
            "AGENT_JWT_SECRET": self.run.jwt_secret,
            "AGENT_TEST_PASSWORD": self.run.test_password,
        }
        return ComposeStack(
            find_compose(), compose_file, self.project, env=env, progress=self.progress
        )

    def _address(self) -> DaemonAddress | None:
        from test_framework.engine.docker_host import locate_daemon

        found = locate_daemon(self.settings.docker.host, self.settings.probe_timeout_s).found
        return found.address if found is not None else None

    def _require_stack(self) -> ComposeStack:
        if self._stack is None:
            record = self._read()
            if record is None or not record.compose_file:
                raise ServiceUnavailableError(
                    f"{self.project} is not running: call start() before terminate()/restart()"
                )
            self._stack = self._compose_stack(Path(record.compose_file), self._address())
        return self._stack

    def _save_logs(self, logs: str) -> Path:
        folder = self.settings.report_dir / "docker_local"
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{self.project}-{self.settings.service.compose_service}.log"
        path.write_text(logs, "utf-8")
        return path

    def _lock(self) -> filelock.FileLock:
        # Other workers wait while the first one builds and starts the stack.
        timeout = self.settings.docker.start_timeout_s + 120
        return filelock.FileLock(str(self.run.shared_dir / LOCK_FILE), timeout=timeout)

    def _read(self) -> StackRecord | None:
        path = self.run.shared_dir / STATE_FILE
        try:
            return StackRecord(**json.loads(path.read_text("utf-8")))
        except FileNotFoundError:
            return None

    def _write(self, record: StackRecord) -> None:
        path = self.run.shared_dir / STATE_FILE
        scratch = path.with_suffix(f".{os.getpid()}.tmp")
        scratch.write_text(record.to_json(), "utf-8")
        scratch.replace(path)


class _InThread:
    """Runs ``work`` in a thread at once; ``result()`` waits and raises what it raised."""

    def __init__(self, work: Callable[[], None]) -> None:
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, args=(work,), daemon=True)
        self._thread.start()

    def _run(self, work: Callable[[], None]) -> None:
        try:
            work()
        except BaseException as exc:  # noqa: BLE001 - raised again by result()
            self._error = exc

    def result(self) -> None:
        self._thread.join()
        if self._error is not None:
            raise self._error


def _image_id(client: Any, image: str) -> str:
    """The id ``image`` (a name and tag) points to now, or "" when there is no such image."""
    import docker.errors

    if not image:
        return ""
    try:
        return str(client.images.get(image).id)
    except docker.errors.ImageNotFound:
        return ""


def _wait_for_health(http_url: str, service: ServiceSettings, timeout_s: float) -> None:
    """Wait until the published port forwards to the service: see ``answers``."""
    url = http_url + (service.health_path or service.ws_path)
    expected = expected_answer(service)
    deadline = time.monotonic() + timeout_s
    last = ""
    while time.monotonic() < deadline:
        ok, last = answers(http_url, service)
        if ok:
            return
        time.sleep(POLL_S)
    raise ServiceUnavailableError(
        f"{url} did not give {expected} within {timeout_s:g} s ({last}): check the published port"
    )


def _endpoints_at(
    port: int, service: ServiceSettings, details: dict[str, str], clock: StepClock
) -> Endpoints:
    http_url = f"http://127.0.0.1:{port}"
    return Endpoints(
        ws_url=f"ws://127.0.0.1:{port}{service.ws_path}",
        http_url=http_url,
        auth_url=http_url + service.auth_path,
        details={**details, "port": str(port), "start_steps": clock.summary()},
    )


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name) or "worker"

"""The minimal mode's backend for a ``command`` or an ``asgi_app``: the service as a local
process group on a free loopback port, started, polled until ready, watched, and stopped.

Each pytest-xdist worker starts a service of its own (as each gets its own in-process factory
service): no worker's tests see another's connections or state, the starts run side by side,
and a worker that dies takes only its own service with it. docs/service.md says why.
"""

from __future__ import annotations

import logging
import os
import re
import secrets
import socket
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from test_framework.backends.base import RunContext
from test_framework.backends.process import ServiceProcess, describe_exit
from test_framework.backends.process_records import (
    ProcessRecord,
    end_leftovers,
    remove_record,
    write_record,
)
from test_framework.backends.readiness import answers, expected_answer
from test_framework.client.availability import AVAILABILITY
from test_framework.endpoints import Endpoints
from test_framework.errors import ModeUnavailableError, ServiceUnavailableError
from test_framework.launch import (
    LOOPBACK,
    Launch,
    describe,
    placeholder_values,
    resolve,
    working_dir,
)
from test_framework.service import NO_SERVICE, TABLE, ServiceSettings
from test_framework.settings import Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Spawned:
    """A service process started and recorded, not yet known to be ready."""

    process: ServiceProcess
    launch: Launch
    port: int


class LocalServiceBackend:
    """``start`` runs the service and returns once it is ready; ``stop`` ends its group."""

    def __init__(self, settings: Settings, run: RunContext) -> None:
        self.settings = settings
        self.run = run
        self._process: ServiceProcess | None = None
        self._last: ServiceProcess | None = None  # for the logs of a start that failed
        self._record: ProcessRecord | None = None
        self._endpoints: Endpoints | None = None
        self._exit_message: str | None = None
        self._start_failure: str | None = None
        self._spawned: _Spawned | None = None  # by ``begin``, not yet waited for
        self._starts = 0

    # -- the Backend protocol, and its early start ---------------------------------------------

    def begin(self) -> None:
        """Spawn the service and return at once; ``start`` then waits until it is ready.
        What goes wrong here (no such command, no such folder) is raised by ``start``."""
        begun = self._spawned or self._endpoints or self._start_failure
        if begun is not None or self.settings.service.start_kind is None:
            return
        try:
            self._spawned = self._spawn()
        except ServiceUnavailableError as exc:
            self._start_failure = str(exc)

    def start(self) -> Endpoints:
        if self._endpoints is not None:
            return self._endpoints
        if self._start_failure is not None:
            # Every later test of this worker fails at once with the first failure's words,
            # instead of waiting out ready_timeout_s again.
            raise ServiceUnavailableError(self._start_failure)
        service = self.settings.service
        if service.start_kind is None:
            raise ModeUnavailableError(NO_SERVICE)
        try:
            spawned, self._spawned = self._spawned or self._spawn(), None
            return self._until_ready(service, spawned)
        except ServiceUnavailableError as exc:
            self._start_failure = str(exc)
            raise

    def abandon(self) -> None:
        """The run was interrupted before a test waited for what ``begin`` spawned: end its
        group, saying so in one line (as an interrupted ``start`` does)."""
        spawned, self._spawned = self._spawned, None
        if spawned is not None:
            self._stop_process()
            _say_interrupted(spawned.launch)

    def _spawn(self) -> _Spawned:
        for line in end_leftovers(self.settings.report_dir):
            log.warning("minimal: a run left a service behind: %s", line)
        launch, port = self._launch()
        self._exit_message = None
        process = ServiceProcess(launch, on_exit=self._exited)
        self._process = self._last = process
        self._record = ProcessRecord(
            run_id=self.run.run_id,
            worker_id=self.run.worker_id,
            pid=process.pid,
            pgid=process.pgid,
            marker=launch.marker,
            owner_pid=os.getpid(),
            started_at=process.started_at,
            command=launch.name,
            log=str(launch.log_path),
        )
        write_record(self.settings.report_dir, self._record)
        return _Spawned(process, launch, port)

    def _until_ready(self, service: ServiceSettings, spawned: _Spawned) -> Endpoints:
        process, launch, port = spawned.process, spawned.launch, spawned.port
        http_url = f"http://{LOOPBACK}:{port}"
        ready_log = re.compile(service.ready_log) if service.ready_log else None
        try:
            seconds = process.wait_ready(
                lambda: answers(http_url, service, timeout_s=1.0),
                expected_answer(service),
                ready_log,
                service.ready_timeout_s,
            )
        except ServiceUnavailableError:
            self._stop_process()
            raise
        except KeyboardInterrupt:
            self._stop_process()
            _say_interrupted(launch)
            raise
        log.info("%s ready on %s in %.3f s", launch.name, http_url, seconds)
        self._endpoints = Endpoints(
            ws_url=f"ws://{LOOPBACK}:{port}{service.ws_path}",
            http_url=http_url,
            auth_url=http_url + service.auth_path,
            details={
                "kind": service.start_kind.value if service.start_kind else "",
                "command": launch.name,
                "port": str(port),
                "pid": str(process.pid),
                "process_group": str(process.pgid),
                "log": str(launch.log_path),
                "ready_s": f"{seconds:.3f}",
            },
        )
        if process.returncode is not None:  # exited between its ready answer and now
            self._exited(process.returncode)
        return self._endpoints

    def stop(self) -> None:
        """Stop this worker's service (SIGTERM to its group, SIGKILL after stop_timeout_s)."""
        self._endpoints = None
        self._spawned = None
        self._stop_process()

    def end_run(self) -> None:
        """The controller's safety net: end any group of this run still recorded (a worker
        killed before its ``stop``, whose watchdog was killed too)."""
        for line in end_leftovers(self.settings.report_dir, run_prefix=self.run.run_id):
            log.warning("minimal: %s", line)

    # -- deployment control --------------------------------------------------------------------

    def terminate(self) -> None:
        """SIGTERM, as an orchestrator stops a service, and wait until the group is gone."""
        self.stop()

    def restart(self) -> Endpoints:
        self._start_failure = None
        return self.start()

    # -- what the plugin asks of a running service ---------------------------------------------

    def service_logs(self, tail: int = 200) -> str:
        process = self._process or self._last
        if process is None:
            return "(the service was not started)"
        return process.log_tail(tail)

    def exit_message(self) -> str | None:
        """Why the remaining tests cannot run, once the service exited on its own mid-run."""
        return self._exit_message

    # -- internals -------------------------------------------------------------------------------

    def _launch(self) -> tuple[Launch, int]:
        service = self.settings.service
        cwd = working_dir(service, self.settings.root)
        name = describe(service)
        if not cwd.is_dir():
            raise ServiceUnavailableError(
                f"{name}: command_cwd {service.command_cwd!r} is not a folder under"
                f" {self.settings.root}: fix command_cwd in {TABLE}"
            )
        port = _free_port()
        values = placeholder_values(
            port,
            test_token=self.run.test_token,
            test_password=self.run.test_password,
            jwt_secret=self.run.jwt_secret,
        )
        resolved = resolve(service, self.settings.root, values, os.environ)
        executable = resolved.executable
        if executable is None:
            raise ServiceUnavailableError(
                f"{name}: {resolved.argv[0]!r} is not on PATH (nor a file in {cwd}): install it,"
                f" or fix command in {TABLE}"
            )
        self._starts += 1
        marker = f"{self.run.run_id}-{self.run.worker_id}-{self._starts}-{secrets.token_hex(4)}"
        launch = Launch(
            argv=resolved.argv,
            executable=executable,
            env=resolved.env,
            cwd=cwd,
            log_path=self._log_path(),
            marker=marker,
            stop_timeout_s=service.stop_timeout_s,
            name=name,
        )
        return launch, port

    def _log_path(self) -> Path:
        """``service.log`` (one process), ``service-gw0.log`` per worker; a private deployment
        of a ``deployment_control`` test gets its own."""
        name = "service" if self.run.worker_id == "master" else f"service-{self.run.worker_id}"
        if self.run.shared_dir.name.startswith("control-"):
            name += "-" + self.run.shared_dir.name
        if self._starts > 1:
            name += f"-start{self._starts}"
        return self.settings.report_dir / "minimal" / f"{name}.log"

    def _exited(self, status: int) -> None:
        """The service exited on its own: fail the rest fast, saying when and how. (Before it
        was ready, the start itself says so.)"""
        if self._endpoints is None:
            return
        process = self._process
        at = time.strftime("%H:%M:%S", time.localtime(process.exited_at if process else None))
        name = process.launch.name if process else "the service"
        message = f"{name}: service exited with {describe_exit(status)} at {at}"
        if process is not None:
            message += f" (log: {process.launch.log_path})"
        self._exit_message = message
        AVAILABILITY.mark_down(self._endpoints.ws_url, message)
        print(f"\n{message}", file=sys.stderr)

    def _stop_process(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        how = process.stop()
        process.redact_log()
        log.info("%s %s", process.launch.name, how)
        if self._record is not None:
            remove_record(self.settings.report_dir, self._record)
            self._record = None


def _say_interrupted(launch: Launch) -> None:
    print(f"\ninterrupted while starting {launch.name}: its process group was ended")


def _free_port() -> int:
    """A loopback port nobody listens on now, for the service to bind."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])

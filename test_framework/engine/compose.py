"""One Compose project's lifecycle through the Compose v2 command line: build, start, ports,
logs, stop and down (``compose_command`` finds Compose). Standard library only.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from test_framework.engine.compose_command import ComposeCommand
from test_framework.engine.step_clock import StepClock
from test_framework.errors import ConfigError, ServiceUnavailableError

log = logging.getLogger(__name__)
Progress = Callable[[str], None]
# The project images are built under (see ComposeStack.up).
BUILD_PROJECT = "mission-critical-build"


def print_progress(line: str) -> None:
    """Default progress sink: the real stderr, so pytest's capture does not swallow it."""
    stream = sys.__stderr__
    if stream is not None:
        stream.write(line + "\n")
        stream.flush()


@dataclass(frozen=True)
class Published:
    host: str
    port: int


class StackStartError(ServiceUnavailableError):
    """The stack did not come up healthy. ``logs`` holds the service logs for the report."""

    def __init__(self, message: str, logs: str) -> None:
        super().__init__(message)
        self.logs = logs


@dataclass
class StartingStack:
    """A ``compose up --detach`` running in a thread: ``finished`` is set when Compose exits."""

    args: tuple[str, ...] | list[str]
    finished: threading.Event = field(default_factory=threading.Event)
    code: int = -1
    output: str = ""


@dataclass
class ComposeStack:
    """One Compose project: build, ``up`` (with or without ``--wait``), ports, logs, ``down``."""

    command: ComposeCommand
    file: Path
    project: str
    env: Mapping[str, str] = field(default_factory=dict, repr=False)
    progress: Progress = print_progress

    def _argv(self, *args: str) -> list[str]:
        return self._argv_for(self.project, *args)

    def _argv_for(self, project: str, *args: str) -> list[str]:
        return [*self.command.run_argv, "--project-name", project, "--file", str(self.file), *args]

    def _environment(self) -> dict[str, str]:
        return {**os.environ, **self.env}

    def run(self, *args: str, timeout: float) -> subprocess.CompletedProcess[str]:
        try:
            return subprocess.run(
                self._argv(*args),
                capture_output=True,
                text=True,
                timeout=timeout,
                env=self._environment(),
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise ServiceUnavailableError(
                f"`compose {' '.join(args)}` for {self.project} took over {timeout:g} s:"
                " check `docker info` and the daemon log"
            ) from None

    def build(self, deadline: float, services: Sequence[str] = ()) -> None:
        """Build the images (cached layers make an unchanged build quick).

        The build runs under the fixed project ``BUILD_PROJECT``: Compose labels an image it
        builds with the project's name, so building under each run's project would make a new
        image for every run (and leave the previous one dangling) even when nothing changed.
        """
        self.progress(f"docker_local: building the images of {self.file}")
        code, output = self._stream(
            [*self._argv_for(BUILD_PROJECT, "--progress", "plain", "build", *services)],
            deadline,
            "building",
        )
        if code != 0:
            why = _last_error(output) or f"compose exited with status {code}"
            raise StackStartError(
                f"building the images of {self.file.name} failed ({why}): see the build"
                " output in the report",
                logs=f"$ compose build\n{output}",
            )

    def up(
        self,
        timeout_s: float,
        services: Sequence[str] = (),
        build: bool = True,
        clock: StepClock | None = None,
    ) -> float:
        """Build the images, start the stack and wait (``up --wait``) until every service is
        healthy by its own healthcheck; returns seconds. Progress lines with the elapsed time
        go to ``progress`` while Compose works."""
        started = time.monotonic()
        if build:
            self.build(started + timeout_s, services)
            if clock is not None:
                clock.done("build")
        remaining = max(int(timeout_s - (time.monotonic() - started)), 1)
        args = ["--progress", "plain", "up", "--detach", "--no-build", "--wait"]
        args += ["--wait-timeout", str(remaining), *services]
        self.progress(f"docker_local: starting {self.project}")
        # Compose's own --wait-timeout answers first; this deadline only catches a hung Compose.
        code, output = self._stream(
            self._argv(*args), time.monotonic() + remaining + 15, "starting"
        )
        elapsed = time.monotonic() - started
        if clock is not None:
            clock.done("up --wait")
        # Trust, but check: a wrapper may have hidden a failure, and a container that exits
        # right after starting can slip through `--wait`.
        problems = self.not_healthy() if code == 0 else []
        if clock is not None:
            clock.done("ps check")
        if code == 0 and not problems:
            self.progress(f"docker_local: {self.project} healthy after {elapsed:.1f} s")
            return elapsed
        raise self.start_failed(f"within {timeout_s:g} s", args, output, problems, code)

    def start_detached(
        self, deadline: float, services: Sequence[str] = (), recreate: bool = False
    ) -> StartingStack:
        """``up --detach --no-build`` in a thread, without ``--wait``: the caller decides when
        the service is ready (``backends.docker`` polls its published port meanwhile).
        ``recreate``: new containers even where the configuration did not change."""
        args = ["--progress", "plain", "up", "--detach", "--no-build"]
        args += ["--force-recreate", *services] if recreate else [*services]
        self.progress(f"docker_local: starting {self.project}")
        starting = StartingStack(args)

        def run() -> None:
            try:
                starting.code, starting.output = self._stream(
                    self._argv(*args), deadline, "starting"
                )
            finally:
                starting.finished.set()

        threading.Thread(target=run, name=f"compose-up-{self.project}", daemon=True).start()
        return starting

    def start_failed(
        self, within: str, args: Sequence[str], output: str, problems: Sequence[str], code: int
    ) -> StackStartError:
        """The error for a start that failed, with Compose's output and the service logs."""
        logs = self.logs(tail=200)
        why = "; ".join(problems) or _last_error(output)
        why = why or f"compose exited with status {code}"
        return StackStartError(
            f"{self.project} did not become healthy {within} ({why}):"
            " see the service logs in the report, and `docker compose logs`",
            logs=f"$ compose {' '.join(args)}\n{output}\n--- service logs ---\n{logs}",
        )

    def _stream(self, argv: list[str], deadline: float, what: str) -> tuple[int, str]:
        """Run Compose, noting progress every 5 s; returns its status and its last lines."""
        started = time.monotonic()
        process = subprocess.Popen(
            argv,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=self._environment(),
            start_new_session=True,  # so a timeout can stop compose and its build children
        )
        tail: deque[str] = deque(maxlen=40)
        reader = threading.Thread(target=_collect, args=(process, tail), daemon=True)
        reader.start()
        next_note = started + 5
        try:
            while process.poll() is None:
                now = time.monotonic()
                if now > deadline:
                    tail.append(f"(stopped: still {what} at the deadline)\n")
                    break
                if now >= next_note:
                    last = tail[-1].strip()[:100] if tail else ""
                    self.progress(
                        f"docker_local: {what} {self.project}: {now - started:.0f} s  {last}"
                    )
                    next_note = now + 5
                with contextlib.suppress(subprocess.TimeoutExpired):
                    process.wait(min(next_note, deadline) - now)
        finally:
            # On a timeout or Ctrl-C, compose (in its own session) must not go on without us.
            if process.poll() is None:
                _stop_group(process)
            reader.join(5)
            if process.stdout is not None:
                process.stdout.close()
        return process.returncode, "".join(tail)

    def check_service(self, service: str) -> str:
        """Refuse an unreadable compose file, or one without ``service``, before anything
        starts; returns the image ``service`` runs ("" when the file names none)."""
        done = self.run("config", "--format", "json", timeout=30)
        if done.returncode != 0:
            why = _last_error(done.stderr) or f"compose exited with status {done.returncode}"
            raise ConfigError(f"{self.file}: compose cannot read it ({why}): fix the file")
        services = json.loads(done.stdout).get("services") or {}
        if service not in services:
            raise ConfigError(
                f"{self.file} has no service {service!r} (it has: {', '.join(services) or 'none'}):"
                " set compose_service in [tool.test_framework.service]"
            )
        return str(services[service].get("image") or "")

    def not_healthy(self) -> list[str]:
        """Every container of the stack that is not running, or running but not healthy."""
        done = self.run("ps", "--all", "--format", "json", timeout=30)
        if done.returncode != 0:
            return [f"compose ps failed: {_last_error(done.stderr)}"]
        text = done.stdout.strip()
        # Compose before 2.21 prints one JSON array; later versions one object per line.
        if text.startswith("["):
            entries = json.loads(text)
        else:
            entries = [json.loads(line) for line in text.splitlines() if line.startswith("{")]
        problems: list[str] = []
        for entry in entries:
            state, health = entry.get("State", ""), entry.get("Health", "")
            if state != "running" or health not in ("", "healthy"):
                status = entry.get("Status") or f"{state} {health}".strip()
                problems.append(f"{entry.get('Name', '?')} is {status}")
        return problems if entries else ["no containers were created"]

    def published(self, service: str, container_port: int) -> Published:
        """The host address a service's container port is published on; loopback only."""
        done = self.run("port", service, str(container_port), timeout=30)
        text = done.stdout.strip().splitlines()[0] if done.stdout.strip() else ""
        host, _, port = text.rpartition(":")
        if done.returncode != 0 or not port.isdigit():
            raise ServiceUnavailableError(
                f"{self.project}: service {service!r} publishes no port for {container_port}"
                f" ({done.stderr.strip() or text or 'no answer'}): add ports:"
                f" ['127.0.0.1::{container_port}'] to {self.file.name}"
            )
        host = host.strip("[]")
        if host not in ("127.0.0.1", "::1"):
            raise ConfigError(
                f"{self.file.name}: service {service!r} publishes {container_port} on {host},"
                f" not loopback: use ports: ['127.0.0.1::{container_port}']"
            )
        return Published(host, int(port))

    def logs(self, service: str | None = None, tail: int = 200) -> str:
        args = ["logs", "--no-color", "--timestamps", "--tail", str(tail)]
        try:
            done = self.run(*args, *([service] if service else []), timeout=30)
        except ServiceUnavailableError as exc:
            return f"(no logs: {exc})"
        return done.stdout + done.stderr

    def stop(self, timeout_s: float, services: Sequence[str] = ()) -> None:
        """Stop containers (SIGTERM, then SIGKILL after ``timeout_s``) without removing them."""
        done = self.run("stop", "--timeout", str(int(timeout_s)), *services, timeout=timeout_s + 30)
        if done.returncode != 0:
            raise ServiceUnavailableError(
                f"compose stop of {self.project} failed: {_last_error(done.stderr)}"
            )

    def down(self, timeout_s: float = 60.0) -> float:
        """Remove the stack's containers, networks and volumes; returns seconds taken."""
        started = time.monotonic()
        done = self.run("down", "--volumes", "--remove-orphans", timeout=timeout_s)
        if done.returncode != 0:
            raise ServiceUnavailableError(
                f"compose down of {self.project} failed ({_last_error(done.stderr)}):"
                f" run `python -m test_framework cleanup`"
            )
        return time.monotonic() - started


def _stop_group(process: subprocess.Popen[str]) -> None:
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def _collect(process: subprocess.Popen[str], tail: deque[str]) -> None:
    assert process.stdout is not None
    for line in process.stdout:
        tail.append(line)


def _last_error(output: str) -> str:
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    for line in reversed(lines):
        if "error" in line.lower() or "unhealthy" in line.lower() or "exited" in line.lower():
            return line[:300]
    return lines[-1][:300] if lines else ""

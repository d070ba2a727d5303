"""A local service process the harness owns from start to reap.

It runs in a process group of its own (``start_new_session``), with its standard output and
error in a log file; a watchdog (``backends.watchdog``) ends the group if this process goes
away without stopping it. Readiness is polled, never slept for. ``stop`` is SIGTERM to the
group, then SIGKILL after the grace period, and it returns once nothing of the group is left;
it tells the watchdog so, and does not wait for the watchdog to exit.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO

from test_framework.backends import watchdog
from test_framework.client.redaction import redact_text
from test_framework.errors import ServiceUnavailableError
from test_framework.launch import Launch

# How often the start looks at the service: a refused connection on loopback costs well under
# a millisecond, and a service's own start takes tens of them at least.
POLL_S = 0.005
TAIL_LINES = 40
WATCHDOG = Path(watchdog.__file__)


def describe_exit(status: int) -> str:
    """``status 3`` or ``signal SIGKILL``, as ``Popen.returncode`` gives it."""
    if status < 0:
        try:
            return f"signal {signal.Signals(-status).name}"
        except ValueError:
            return f"signal {-status}"
    return f"status {status}"


class ServiceProcess:
    """One started service. ``on_exit`` is called (from a thread of its own) when the process
    ends without ``stop`` having been asked, with the exit status."""

    def __init__(self, launch: Launch, on_exit: Callable[[int], None] | None = None) -> None:
        self.launch = launch
        self._on_exit = on_exit
        self._stopping = False
        self._exited = threading.Event()
        self.exited_at: float | None = None
        launch.log_path.parent.mkdir(parents=True, exist_ok=True)
        env = {**launch.env, watchdog.MARKER_ENV: launch.marker}
        with open(launch.log_path, "wb") as log:
            self._process = subprocess.Popen(
                list(launch.argv),
                executable=launch.executable,
                cwd=launch.cwd,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.pid = self._process.pid
        self.pgid = self.pid  # a new session's leader leads its group
        self.started_at = time.time()
        self._watchdog = _start_watchdog(self.pgid, launch.marker, launch.stop_timeout_s)
        self._monitor = threading.Thread(
            target=self._wait, name=f"mc-service-{self.pid}", daemon=True
        )
        self._monitor.start()

    @property
    def returncode(self) -> int | None:
        return self._process.returncode if self._exited.is_set() else None

    def wait_ready(
        self,
        look: Callable[[], tuple[bool, str]],
        waiting_for: str,
        ready_log: re.Pattern[str] | None,
        timeout_s: float,
    ) -> float:
        """Poll until ``look`` says ready (and a log line matches ``ready_log``, if given).
        Returns the seconds it took. Raises ``ServiceUnavailableError`` naming the exit
        status or the timeout, what it waited for, and the log's last lines."""
        started = time.monotonic()
        deadline = started + timeout_s
        answered = False
        logged = ready_log is None
        last = "no answer yet"
        wanted = waiting_for + (
            f" and a log line matching {ready_log.pattern!r}" if ready_log else ""
        )
        with open(self.launch.log_path, "rb") as log:
            pending = b""
            while True:
                if not logged and ready_log is not None:
                    logged, pending = _log_matches(log, pending, ready_log)
                if not answered:
                    answered, last = look()
                if answered and logged:
                    return time.monotonic() - started
                if self._exited.wait(0):
                    status = self._process.returncode
                    raise ServiceUnavailableError(
                        f"{self.launch.name} exited with {describe_exit(status)} before it was"
                        f" ready (waited for {wanted}){self.tail_block()}"
                    )
                if time.monotonic() >= deadline:
                    raise ServiceUnavailableError(
                        f"{self.launch.name} was not ready within {timeout_s:g} s (waited for"
                        f" {wanted}; last: {last}): raise ready_timeout_s, or check the service"
                        f"{self.tail_block()}"
                    )
                time.sleep(POLL_S)

    def stop(self) -> str:
        """SIGTERM to the group; SIGKILL after ``stop_timeout_s``. Returns how it ended."""
        self._stopping = True
        grace = self.launch.stop_timeout_s
        deadline = time.monotonic() + grace
        how = "had exited"
        if not self._exited.is_set():
            _killpg(self.pgid, signal.SIGTERM)
            how = "stopped"
            if not self._exited.wait(grace):
                _killpg(self.pgid, signal.SIGKILL)
                how = "killed"
                self._exited.wait()
        # What the service left in its group (a shell's or npm's children) goes too.
        if watchdog.group_members(self.pgid, self.launch.marker):
            left = max(deadline - time.monotonic(), 0.0)
            if watchdog.end_group(self.pgid, self.launch.marker, left) == "killed":
                how = "killed"
        self._release_watchdog()
        return how

    def log_tail(self, lines: int = TAIL_LINES) -> str:
        """The log's last ``lines`` lines, secrets redacted."""
        try:
            data = self.launch.log_path.read_bytes()
        except OSError as exc:
            return f"(no log: {exc})"
        text = data.decode("utf-8", "replace")
        return redact_text("\n".join(text.splitlines()[-lines:]))

    def tail_block(self) -> str:
        """The log's tail as a message's end; a note when the service printed nothing."""
        tail = self.log_tail()
        where = self.launch.log_path
        if not tail.strip():
            return f"; it printed nothing (log: {where})"
        return f"; the last {TAIL_LINES} lines of {where}:\n{tail}"

    def redact_log(self) -> None:
        """Rewrite the log with secrets masked: the report folder is often a CI artifact."""
        with contextlib.suppress(OSError):
            text = self.launch.log_path.read_bytes().decode("utf-8", "replace")
            self.launch.log_path.write_text(redact_text(text), "utf-8")

    def _wait(self) -> None:
        status = self._process.wait()
        self.exited_at = time.time()
        self._exited.set()
        if not self._stopping and self._on_exit is not None:
            self._on_exit(status)
        # The watchdog exits once ``stop`` tells it the group is ended; reaped here, so that
        # ``stop`` neither waits for it nor starts a thread to (both cost a scheduling round on
        # a busy machine).
        self._watchdog.wait()

    def _release_watchdog(self) -> None:
        """Tell it the group is ended, so it exits without looking; the monitor thread reaps
        it. The stop's caller waits for the service, not for this bookkeeping."""
        dog = self._watchdog
        if dog.stdin is not None and not dog.stdin.closed:
            with contextlib.suppress(OSError):  # it died already: nothing to tell
                dog.stdin.write(watchdog.GROUP_ENDED)
                dog.stdin.close()


def _start_watchdog(pgid: int, marker: str, grace_s: float) -> subprocess.Popen[bytes]:
    # -I -S: no site packages, no user environment; it imports nothing but the stdlib. Its
    # own session: Ctrl-C at a terminal must not end it before the service.
    return subprocess.Popen(
        [sys.executable, "-I", "-S", str(WATCHDOG), str(pgid), marker, f"{grace_s:g}"],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def _killpg(pgid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signum)


def _log_matches(log: IO[bytes], pending: bytes, pattern: re.Pattern[str]) -> tuple[bool, bytes]:
    """Read what the log gained; whether a whole line of it matches ``pattern``."""
    data = pending + log.read()
    *lines, rest = data.split(b"\n")
    # The unfinished last line too: a prompt-like "listening on 8080" may never get its newline.
    for line in [*lines, rest]:
        if pattern.search(line.decode("utf-8", "replace")):
            return True, b""
    return False, rest

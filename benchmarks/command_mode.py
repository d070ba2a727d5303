"""Minimal mode's ``command`` kind on examples/node-chat (``run_all.py --only command``).

- start to ready: the harness's ``LocalServiceBackend.start()`` beside a bare loop that spawns
  the same ``node server.js`` and polls its ``/healthz`` every 5 ms; target: at most 1.15x the
  bare loop plus 30 ms (each repetition's harness time less 1.15x its bare time, the median).
- stop: ``stop()`` (SIGTERM to the group, to its exit) beside the bare loop's SIGTERM and wait,
  each after the service has run for ``HOLD_S``; target: at most 1.2x.
- suite: the example's suite in minimal beside the same suite in staging_fallback pointed at
  the same server started by hand for the round, outside the timed run (plain ws:// on loopback,
  the minimal profile's timeouts and pacing); target: at most 1.1x. A node kept up across
  rounds has compiled its handlers by the second round, which makes each test's first messages
  faster than a new node's; that run is shown beside the pair, not judged.
- orphans: pytest SIGKILLed in the middle of the example's suite, 10 tries: no service process
  alive 2 s later, with no cleanup command run.

Each pair is measured side by side in one repetition, alternating which goes first.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import select
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks.figures import Figure, median, paired_ratios, ratio_text, with_range

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "node-chat"
BARE_POLL_S = 0.005
START_TIMEOUT_S = 20.0
STOP_TIMEOUT_S = 15.0
ORPHAN_TRIES = 10
ORPHAN_WAIT_S = 2.0
START_RATIO, START_SLACK_S = 1.15, 0.030
STOP_RATIO = 1.2
# How long each service runs between its start and its stop: a service stopped the instant it
# answered would time the harness's watchdog still starting, not a stop after a suite.
HOLD_S = 0.25
SUITE_RATIO = 1.1


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as response:
            return 200 <= response.status < 300
    except (urllib.error.URLError, OSError):
        return False


@dataclass
class BareServer:
    """``node server.js`` as a team's own script would run it: spawned, polled every 5 ms."""

    env: Mapping[str, str]
    token: str = field(default_factory=lambda: secrets.token_urlsafe(24), repr=False)
    port: int = 0
    process: subprocess.Popen[bytes] | None = None

    def start(self) -> float:
        """Seconds from the spawn to the first 2xx of /healthz."""
        self.port = free_port()
        env = {
            **self.env,
            "NODE_CHAT_HOST": "127.0.0.1",
            "NODE_CHAT_PORT": str(self.port),
            "NODE_CHAT_TOKEN": self.token,
        }
        url = f"http://127.0.0.1:{self.port}/healthz"
        began = time.perf_counter()
        self.process = subprocess.Popen(
            ["node", "server.js"],
            cwd=EXAMPLE,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        while not healthy(url):
            if self.process.poll() is not None or time.perf_counter() - began > START_TIMEOUT_S:
                raise RuntimeError(f"node server.js did not start on port {self.port}")
            time.sleep(BARE_POLL_S)
        return time.perf_counter() - began

    def stop(self) -> float:
        """Seconds from SIGTERM to the group to the process's exit."""
        assert self.process is not None
        # Woken by the exit itself: ``Popen.wait(timeout)`` polls at doubling intervals (0.5,
        # 1, 2, 4, 8 ms...), which would round the floor up to its next poll.
        exited = os.pidfd_open(self.process.pid)
        try:
            began = time.perf_counter()
            os.killpg(self.process.pid, signal.SIGTERM)
            if not select.select([exited], [], [], STOP_TIMEOUT_S)[0]:
                raise RuntimeError(f"node server.js did not exit within {STOP_TIMEOUT_S:g} s")
            seconds = time.perf_counter() - began
        finally:
            os.close(exited)
        self.process.wait()
        return seconds


@dataclass
class HarnessServer:
    """The same command started and stopped by minimal mode's backend, in this process."""

    env: Mapping[str, str]
    reports: Path
    backend: object = None

    def start(self) -> float:
        from test_framework.backends.local_service import LocalServiceBackend
        from test_framework.settings import load_settings
        from tests.support.runs import run_context

        settings = load_settings(EXAMPLE, environ={**self.env, "MC_REPORT_DIR": str(self.reports)})
        backend = LocalServiceBackend(settings, run_context(self.reports, "bench-command"))
        self.backend = backend
        began = time.perf_counter()
        backend.start()
        return time.perf_counter() - began

    def stop(self) -> tuple[float, float]:
        """(seconds of ``stop()``, seconds from its SIGTERM to the service's exit)."""
        from test_framework.backends.local_service import LocalServiceBackend

        assert isinstance(self.backend, LocalServiceBackend)
        wall = time.time()
        began = time.perf_counter()
        self.backend.stop()
        whole = time.perf_counter() - began
        # The process the backend last ran (no public handle): when its monitor saw the exit.
        exited_at = self.backend._last.exited_at  # type: ignore[union-attr]
        return whole, (exited_at or wall) - wall


@dataclass
class StartStop:
    harness_start: list[float] = field(default_factory=list)
    harness_stop: list[float] = field(default_factory=list)
    harness_exit: list[float] = field(default_factory=list)
    bare_start: list[float] = field(default_factory=list)
    bare_stop: list[float] = field(default_factory=list)


def start_and_stop(env: Mapping[str, str], reps: int, scratch: Path) -> StartStop:
    """``reps`` starts and stops of each, side by side, alternating which goes first."""
    found = StartStop()

    def harness(index: int) -> None:
        server = HarnessServer(env, scratch / f"start-{index}")
        found.harness_start.append(server.start())
        time.sleep(HOLD_S)
        whole, exited = server.stop()
        found.harness_stop.append(whole)
        found.harness_exit.append(exited)

    def bare(index: int) -> None:
        server = BareServer(env)
        found.bare_start.append(server.start())
        time.sleep(HOLD_S)
        found.bare_stop.append(server.stop())

    for index in range(reps):
        for measure in (harness, bare) if index % 2 == 0 else (bare, harness):
            measure(index)
    return found


def suite_argv(mode: str) -> list[str]:
    return [sys.executable, "-m", "pytest", "--mc-mode", mode, "-p", "no:cacheprovider", "-q"]


def run_suite(argv: Sequence[str], env: Mapping[str, str]) -> tuple[float, str]:
    """Seconds the example's suite took, and its output when it failed ("" when it passed)."""
    began = time.perf_counter()
    done = subprocess.run(
        list(argv), cwd=EXAMPLE, env=dict(env), capture_output=True, text=True, check=False
    )
    seconds = time.perf_counter() - began
    return seconds, "" if done.returncode == 0 else (done.stdout + done.stderr)


def service_processes(marker_env: str, run_dir: Path) -> list[int]:
    """Live processes started by the harness for a run under ``run_dir``: those whose
    environment holds the harness's service marker and whose working folder is the example."""
    found: list[int] = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            environ = (entry / "environ").read_bytes()
            cwd = os.readlink(entry / "cwd")
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        reports = f"MC_REPORT_DIR={run_dir}".encode()
        ours = marker_env.encode() + b"=" in environ and reports in environ
        if ours and state != "Z" and Path(cwd) == EXAMPLE:
            found.append(int(entry.name))
    return found


def orphan_try(env: Mapping[str, str], run_dir: Path) -> tuple[bool, list[int], str]:
    """pytest SIGKILLed once a test has begun and before the suite ends. (killed mid-suite,
    the service processes alive 2 s later, what went wrong)."""
    from test_framework.backends.watchdog import MARKER_ENV

    env = {**env, "MC_REPORT_DIR": str(run_dir)}
    pytest = subprocess.Popen(
        suite_argv("minimal"),
        cwd=EXAMPLE,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    transcripts = run_dir / "minimal" / "transcripts"
    deadline = time.monotonic() + START_TIMEOUT_S
    # Mid-suite: the service answers and the first test's transcript is written.
    while time.monotonic() < deadline and pytest.poll() is None:
        if transcripts.is_dir() and any(transcripts.iterdir()):
            break
        time.sleep(0.002)
    started = service_processes(MARKER_ENV, run_dir)
    if pytest.poll() is not None or not started:
        pytest.kill()
        pytest.wait()
        return False, [], f"not mid-suite (pytest exit {pytest.returncode}, {len(started)} up)"
    pytest.send_signal(signal.SIGKILL)
    pytest.wait()
    time.sleep(ORPHAN_WAIT_S)
    left = service_processes(MARKER_ENV, run_dir)
    for pid in left:  # the benchmark's own tidying, after the count
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    return True, left, ""


def node_missing() -> str | None:
    if shutil.which("node") is None:
        return "node is not installed"
    if not (EXAMPLE / "node_modules" / "ws").is_dir():
        return "examples/node-chat has no node_modules: run npm ci there"
    return None


def bench_command(
    reps: int, scratch: Path, env: Mapping[str, str], profile: Mapping[str, str]
) -> list[Figure]:
    """The four rows; ``env`` is the clean environment, ``profile`` the minimal profile's
    ``MC_*`` values (for the staging side of the suite pair)."""
    section = "command kind (examples/node-chat)"
    missing = node_missing()
    if missing is not None:
        return [Figure(section, "node-chat", f"not measured: {missing}")]
    print(f"[bench] command: start and stop, {reps} pairs", flush=True)
    pairs = start_and_stop(env, reps, scratch / "command")
    margins = [
        h - START_RATIO * b for h, b in zip(pairs.harness_start, pairs.bare_start, strict=True)
    ]
    start_ratios = paired_ratios(pairs.harness_start, pairs.bare_start)
    stop_ratios = paired_ratios(pairs.harness_stop, pairs.bare_stop)
    figures = [
        Figure(
            section,
            "bare loop: spawn to /healthz 2xx (5 ms polls)",
            with_range(pairs.bare_start, "ms"),
        ),
        Figure(section, "harness: start() to ready", with_range(pairs.harness_start, "ms")),
        Figure(
            section,
            "start: harness - 1.15x bare",
            f"{median(margins) * 1000:+.1f} ms (ratio {ratio_text(start_ratios)})",
            "<= +30 ms",
            median(margins) <= START_SLACK_S,
        ),
        Figure(section, "bare loop: SIGTERM to exit", with_range(pairs.bare_stop, "ms")),
        Figure(section, "harness: stop() returns", with_range(pairs.harness_stop, "ms")),
        Figure(
            section,
            "harness: stop()'s SIGTERM to the service's exit",
            with_range(pairs.harness_exit, "ms"),
        ),
        Figure(
            section,
            "stop: harness / bare",
            ratio_text(stop_ratios),
            f"<= {STOP_RATIO}x",
            median(stop_ratios) <= STOP_RATIO,
        ),
    ]
    figures += suite_figures(section, reps, scratch, env, profile)
    figures.append(orphan_figure(section, scratch, env))
    return figures


def suite_figures(
    section: str, reps: int, scratch: Path, env: Mapping[str, str], profile: Mapping[str, str]
) -> list[Figure]:
    """Each round: the suite in minimal; in staging_fallback at a node started by hand for the
    round (untimed), so that both sides meet a node as new, whose JIT has not yet compiled the
    handlers; and, for comparison only, in staging_fallback at one node kept up for every round."""
    minimal: list[float] = []
    staging: list[float] = []
    warm: list[float] = []
    failures: list[str] = []
    kept = BareServer(env)
    kept.start()

    def staging_at(server: BareServer) -> dict[str, str]:
        return {
            **env,
            **profile,
            "STAGING_WEBSOCKET_URL": f"ws://127.0.0.1:{server.port}/chat",
            "STAGING_AUTH_TOKEN": server.token,
        }

    def run(samples: list[float], name: str, argv: list[str], side_env: dict[str, str]) -> None:
        print(f"[bench] command: suite round {len(samples) + 1}/{reps}: {name}", flush=True)
        reports = scratch / "command-suite" / f"{name}-{len(samples)}"
        seconds, failed = run_suite(argv, {**side_env, "MC_REPORT_DIR": str(reports)})
        samples.append(seconds)
        if failed:
            failures.append(f"{name}: {failed[-300:]}")

    def by_hand() -> None:
        server = BareServer(env)
        server.start()
        try:
            run(staging, "staging_fallback", suite_argv("staging_fallback"), staging_at(server))
        finally:
            server.stop()

    def in_minimal() -> None:
        run(minimal, "minimal", suite_argv("minimal"), dict(env))

    try:
        for index in range(reps):
            for side in (in_minimal, by_hand) if index % 2 == 0 else (by_hand, in_minimal):
                side()
            run(warm, "staging_fallback-warm", suite_argv("staging_fallback"), staging_at(kept))
    finally:
        kept.stop()
    rows = [
        Figure(section, "suite in minimal (harness starts node)", with_range(minimal)),
        Figure(
            section,
            "suite in staging_fallback at node started by hand for the round",
            with_range(staging),
        ),
        Figure(
            section,
            "(for comparison) the same at one node kept up across rounds",
            with_range(warm),
        ),
    ]
    target = f"<= {SUITE_RATIO}x"
    if failures:
        rows.append(
            Figure(
                section, "suite: minimal / by hand", f"not comparable: {failures[0]}", target, False
            )
        )
        return rows
    ratios = paired_ratios(minimal, staging)
    rows.append(
        Figure(
            section,
            "suite: minimal / by hand",
            ratio_text(ratios),
            target,
            median(ratios) <= SUITE_RATIO,
        )
    )
    return rows


def orphan_figure(section: str, scratch: Path, env: Mapping[str, str]) -> Figure:
    alive = 0
    killed = 0
    notes: list[str] = []
    for index in range(ORPHAN_TRIES):
        print(f"[bench] command: orphans, try {index + 1}/{ORPHAN_TRIES}", flush=True)
        mid, left, note = orphan_try(env, scratch / "command-orphans" / str(index))
        killed += mid
        alive += len(left)
        if note:
            notes.append(note)
    value = f"{alive} alive {ORPHAN_WAIT_S:g} s after SIGKILL, in {killed}/{ORPHAN_TRIES} tries"
    if notes:
        value += f" ({len(notes)} not mid-suite: {notes[0]})"
    return Figure(
        section,
        "orphans: pytest SIGKILLed mid-suite, no cleanup run",
        value,
        f"0 alive in {ORPHAN_TRIES}/{ORPHAN_TRIES}",
        alive == 0 and killed == ORPHAN_TRIES,
    )

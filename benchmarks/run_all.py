"""Every benchmark in one run, printed as one table (``nox -s bench``).

    python benchmarks/run_all.py [--reps N] [--markdown FILE]
        [--only probe,stack,suite,nox,mainjob,load,baseline,command]

Each figure is the median of ``--reps`` repetitions (at least 5, the default; the main job,
which takes minutes a run, 2 by default and at least 1). Whatever is compared is
measured side by side in the same repetition, alternating which goes first, so a change in the
shared machine's load hits both sides; ratios and differences are medians of the per-repetition
ratios and differences. Sections:

- probe: ``python -m test_framework probe --json`` (its own ``elapsed_ms``: settings, every
  probe, the choice, in a fresh process) and the whole process, with (a) no daemon and no
  staging, (b) the daemon up, (c) staging blackholed; beside ``docker info`` (run side by side,
  target: the whole process at most 2.0x) and the SDK's ping.
- stack: ``DockerBackend`` start to healthy and stop, beside pytest-docker's fixture code
  (``docker compose up --build --wait``, ``port``, poll ``/health``; ``down -v``), image cached,
  on the project's compose file (1 s healthcheck interval) and on the same file with a 10 s
  interval; targets: start at most 0.6x pytest-docker's, teardown at most 1.0x.
- suite: tests/mission_critical, ``-n 2``, ``-m "not deployment_control"`` (the tests every mode
  runs) in minimal, docker_local, staging through nginx + TLS, and minimal's test functions
  against an already-running ``python -m agent_backend`` with the plugin only passing the URL
  through (the harness-overhead baseline; see docs/performance.md).
- nox: ``nox -R -s "mission_critical(mode='minimal')"`` beside the same session's pytest called
  directly with the same arguments.
- mainjob: the main job with all three modes available (the daemon, the loopback TLS staging
  deployment of tests/support/staging_deployment.py, minimal): ``nox -R -s mission_critical``
  (one mode after another) beside ``nox -R -t mission_critical --parallel 3``, after an untimed
  ``--install-only`` run; target: parallel at most 0.7x sequential, each pair comparable only
  when both runs' gates passed with the same table and every mode ran.
- load: benchmarks/backend_load.py --connections 1000 --rounds REPS, and
  benchmarks/backend_path.py (the server's CPU per run in process, steadier).
- baseline: the gate over ledgers of 10,000 tests with a 10,000-test baseline, beside the same
  gate without one (benchmarks/baseline_gate.py); target: at most 50 ms more.
- command: minimal's ``command`` kind on examples/node-chat: start to ready and stop beside a
  bare spawn-and-poll loop, its suite in minimal beside staging_fallback at the same server
  started by hand, and orphans after pytest is SIGKILLed mid-suite (benchmarks/command_mode.py).

Runs never write into reports/: every suite gets a report folder of its own under a temporary
directory. Docker resources carry this process's labels and are removed at the end of each round.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import json
import os
import platform
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.command_mode import bench_command  # noqa: E402
from benchmarks.figures import (  # noqa: E402
    MIN_REPETITIONS,
    Figure,
    GateOutcome,
    difference_text,
    median,
    paired_differences,
    paired_ratios,
    parse_gate_output,
    parse_pytest_summary,
    ratio_text,
    render_table,
    with_range,
)

PY = sys.executable
SECTIONS = ("probe", "stack", "suite", "nox", "mainjob", "load", "baseline", "command")
# A section's repetitions when --reps is not given, and the fewest it takes: a main job's run
# takes minutes, the others' seconds.
DEFAULT_REPS = {"mainjob": 2}
LEAST_REPS = {"mainjob": 1}
SUITE = "tests/mission_critical"
LIKE_FOR_LIKE = ["-m", "not deployment_control"]
NO_DAEMON = "unix:///nonexistent"
BLACKHOLE_TIMEOUT_S = 0.5
PROBE_RATIO_TARGET = 2.0
NOX_MINIMAL = "mission_critical(mode='minimal')"
MAIN_JOB_MODES = ("docker_local", "staging_fallback", "minimal")
MAIN_JOB_RATIO_TARGET = 0.7


def clean_env(**extra: str) -> dict[str, str]:
    """This process's environment without the harness's own settings, plus ``extra``."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("STAGING_", "MC_", "TEST_MODE", "USE_STAGING", "FORCE_DOCKER"))
        and key not in ("NOX_CURRENT_SESSION",)
    }
    env.update(extra)
    return env


def timed(
    argv: Sequence[str], env: Mapping[str, str]
) -> tuple[float, subprocess.CompletedProcess[str]]:
    began = time.perf_counter()
    done = subprocess.run(
        list(argv), cwd=ROOT, env=dict(env), capture_output=True, text=True, check=False
    )
    return time.perf_counter() - began, done


def reports_folder(scratch: Path, name: str, index: int) -> Path:
    """A folder of its own under ``scratch`` for run ``index`` of ``name``."""
    slug = "".join(c if c.isalnum() else "_" for c in name).strip("_")
    return scratch / f"{slug}-{index}"


def progress(text: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {text}", flush=True)


def daemon_answers() -> bool:
    done = subprocess.run(
        ["docker", "info", "--format", "{{.ServerVersion}}"],
        capture_output=True,
        text=True,
        check=False,
        env=clean_env(),
    )
    return done.returncode == 0


@contextlib.contextmanager
def daemon_kept_up() -> Iterator[None]:
    from tests.support.dockerd_lock import DOCKERD_LOCK, dockerd_lock

    def waiting() -> None:
        progress(f"waiting for {DOCKERD_LOCK}: someone is restarting dockerd")

    with contextlib.ExitStack() as stack:
        try:
            stack.enter_context(dockerd_lock(shared=True, poll_s=5.0, on_wait=waiting))
        except TimeoutError as exc:
            raise SystemExit(str(exc)) from None
        yield


# -- probe -----------------------------------------------------------------------------------


class Blackhole:
    """A loopback listener that accepts every connection and never sends a byte."""

    def __init__(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.1)
        self.port = int(self._listener.getsockname()[1])
        self._held: list[socket.socket] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, name="blackhole", daemon=True)

    def __enter__(self) -> Blackhole:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        for conn in self._held:
            conn.close()
        self._listener.close()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            self._held.append(conn)


def probe_samples(env: Mapping[str, str], reps: int) -> tuple[list[float], list[float]]:
    """(in-process seconds from ``--json``, whole-process seconds) of ``reps`` probe runs."""
    inside: list[float] = []
    whole: list[float] = []
    for _ in range(reps):
        seconds, done = timed([PY, "-m", "test_framework", "probe", "--json"], env)
        data = json.loads(done.stdout)
        inside.append(float(data["elapsed_ms"]) / 1000)
        whole.append(seconds)
    return inside, whole


def probe_beside_docker_info(
    env: Mapping[str, str], reps: int
) -> tuple[list[float], list[float], list[float]]:
    """(in-process, whole-process, ``docker info``) seconds, the probe and ``docker info`` run
    side by side in each repetition, alternating which goes first."""
    inside: list[float] = []
    whole: list[float] = []
    info: list[float] = []

    def probe() -> None:
        seconds, done = timed([PY, "-m", "test_framework", "probe", "--json"], env)
        inside.append(float(json.loads(done.stdout)["elapsed_ms"]) / 1000)
        whole.append(seconds)

    def docker_info() -> None:
        info.append(timed(["docker", "info"], env)[0])

    for index in range(reps):
        for measure in (probe, docker_info) if index % 2 == 0 else (docker_info, probe):
            measure()
    return inside, whole, info


def command_samples(argv: Sequence[str], env: Mapping[str, str], reps: int) -> list[float]:
    return [timed(argv, env)[0] for _ in range(reps)]


def bench_probe(reps: int) -> list[Figure]:
    section = "mode decision"
    figures: list[Figure] = []
    # An installed harness has its bytecode (pip compiles it; a first run writes it), but this
    # checkout's may be missing where PYTHONDONTWRITEBYTECODE is set, and every probe process
    # would then compile each module it imports (~20 ms). Untimed.
    timed([PY, "-m", "compileall", "-q", "test_framework"], clean_env())
    ping = [PY, "-c", "import docker; docker.from_env().ping()"]
    interpreter = command_samples([PY, "-c", "pass"], clean_env(), reps)
    figures.append(Figure(section, "reference: `python -c pass`", with_range(interpreter, "ms")))

    cases: list[tuple[str, dict[str, str], float]] = [
        ("(a) no daemon, no staging", clean_env(DOCKER_HOST=NO_DAEMON), 0.020)
    ]
    if daemon_answers():
        cases.append(("(b) daemon up, no staging", clean_env(), 0.050))
    else:
        figures.append(Figure(section, "(b) daemon up", "not measured: no daemon answers"))
    for name, env, target in cases:
        progress(f"probe {name}")
        inside, whole, info = probe_beside_docker_info(env, reps)
        figures.append(
            Figure(
                section,
                f"{name}: probe in-process",
                with_range(inside, "ms"),
                f"< {target * 1000:.0f} ms",
                median(inside) < target,
            )
        )
        figures.append(Figure(section, f"{name}: probe whole process", with_range(whole, "ms")))
        figures.append(Figure(section, f"{name}: beside `docker info`", with_range(info, "ms")))
        ratios = paired_ratios(whole, info)
        figures.append(
            Figure(
                section,
                f"{name}: probe whole process / `docker info`",
                ratio_text(ratios),
                f"<= {PROBE_RATIO_TARGET:g}x",
                median(ratios) <= PROBE_RATIO_TARGET,
            )
        )
        pings = command_samples(ping, env, reps)
        figures.append(
            Figure(section, f"{name}: beside `docker.from_env().ping()`", with_range(pings, "ms"))
        )

    progress("probe (c) staging blackholed")
    with Blackhole() as hole:
        env = clean_env(
            DOCKER_HOST=NO_DAEMON,
            STAGING_WEBSOCKET_URL=f"wss://127.0.0.1:{hole.port}/ws",
            STAGING_TEST_USER="bench",
            STAGING_TEST_PASSWORD=secrets.token_urlsafe(12),
            STAGING_FALLBACK_TIMEOUT=str(BLACKHOLE_TIMEOUT_S),
        )
        inside, whole = probe_samples(env, reps)
    bound = BLACKHOLE_TIMEOUT_S * 1.1
    name = f"(c) staging blackholed, step timeout {BLACKHOLE_TIMEOUT_S:g} s"
    figures.append(
        Figure(
            section,
            f"{name}: probe in-process",
            with_range(inside, "ms"),
            f"<= {bound * 1000:.0f} ms (timeout + 10 %)",
            max(inside) <= bound,
        )
    )
    figures.append(Figure(section, f"{name}: probe whole process", with_range(whole, "ms")))
    return figures


# -- stack -----------------------------------------------------------------------------------


@contextlib.contextmanager
def environ(values: Mapping[str, str]) -> Iterator[None]:
    """pytest-docker's commands inherit this process's environment; set it for one stack."""
    saved = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, old in saved.items():
            if old is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = old


def answers_200(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as reply:
            return bool(reply.status == 200)
    except (urllib.error.URLError, OSError):
        return False


START_RATIO_TARGET = 0.6
STOP_RATIO_TARGET = 1.0
SLOW_HEALTHCHECK = "10s"


def slow_healthcheck_file(compose_file: Path, scratch: Path) -> Path:
    """The same compose file with the healthcheck's interval at 10 s, as many teams' files have
    it (Docker runs a container's first check one interval after it starts)."""
    text = compose_file.read_text("utf-8")
    if "interval: 1s" not in text or "context: .." not in text:
        raise SystemExit(f"{compose_file}: no `interval: 1s` or `context: ..` to rewrite")
    text = text.replace("interval: 1s", f"interval: {SLOW_HEALTHCHECK}")
    text = text.replace("context: ..", f"context: {compose_file.parent.parent}")
    path = scratch / "compose-slow-healthcheck.yml"
    path.write_text(text, "utf-8")
    return path


def bench_stack(reps: int, scratch: Path) -> list[Figure]:
    section = "stack start-up"
    if not daemon_answers():
        return [Figure(section, "docker_local start", "not measured: no daemon answers")]
    from test_framework.engine.compose_file import resolve_compose_file
    from test_framework.settings import load_settings

    # A failed start saves the service's log under the report folder: keep it out of reports/.
    settings = load_settings(ROOT, environ=clean_env(MC_REPORT_DIR=str(scratch / "stack")))
    compose_file = resolve_compose_file(settings.service.compose_file, ROOT)
    slow = slow_healthcheck_file(compose_file, scratch)
    return [
        *stack_figures(section, "", settings, compose_file, reps),
        *stack_figures(section, f"healthcheck interval {SLOW_HEALTHCHECK}: ", settings, slow, reps),
    ]


def stack_figures(
    section: str, label: str, settings: Any, compose_file: Path, reps: int
) -> list[Figure]:
    """Ours against pytest-docker's fixture code on ``compose_file``, side by side."""
    import dataclasses

    from pytest_docker.plugin import get_docker_services

    from benchmarks.docker_mode import timed_start_stop
    from test_framework.engine.docker_client import connect
    from test_framework.engine.image_inputs import choose_base_image
    from test_framework.engine.labels import compose_variables

    settings = dataclasses.replace(
        settings,
        service=dataclasses.replace(settings.service, compose_file=str(compose_file)),
    )
    client, address = connect(settings.docker.host, settings.probe_timeout_s)
    client.close()
    base_image = choose_base_image(
        address, settings.docker.base_image, settings.probe_timeout_s
    ).image
    service = settings.service

    def harness_round() -> tuple[float, float]:
        return timed_start_stop(settings)

    def pytest_docker_round() -> tuple[float, float]:
        # What pytest-docker's docker_services fixture does, with the variables DockerBackend
        # gives Compose, then the port and /health poll its README shows.
        run_id = "bench" + secrets.token_hex(3)
        variables = {
            **compose_variables(run_id, os.getpid()),
            "MC_BASE_IMAGE": base_image,
            "AGENT_JWT_SECRET": secrets.token_urlsafe(32),
            "AGENT_TEST_PASSWORD": secrets.token_urlsafe(18),
            # Its own image tag: `up --build` under each run's project labels the image with
            # that project, so sharing the tag would hand the harness a changed image each
            # round (which it would rightly start again from its own build).
            "MC_IMAGE_TAG": "pytest-docker",
        }
        with environ(variables):
            began = time.perf_counter()
            services = get_docker_services(
                "docker compose",
                str(compose_file),
                f"mc-{run_id}",
                ["up --build --wait"],
                ["down -v"],
            )
            try:
                docker_services = services.__enter__()
                port = docker_services.port_for(service.compose_service, service.container_port)
                url = f"http://127.0.0.1:{port}{service.health_path}"
                docker_services.wait_until_responsive(
                    check=lambda: answers_200(url), timeout=30.0, pause=0.1
                )
                started = time.perf_counter() - began
            finally:
                began = time.perf_counter()
                services.__exit__(None, None, None)
            return started, time.perf_counter() - began

    progress(f"stack {label or 'default'}: warm-up (image build if needed)")
    harness_round()
    pytest_docker_round()
    ours: list[tuple[float, float]] = []
    theirs: list[tuple[float, float]] = []
    for index in range(reps):
        progress(f"stack {label or 'default'}: round {index + 1}/{reps}")
        rounds: list[tuple[list[tuple[float, float]], Callable[[], tuple[float, float]]]] = [
            (ours, harness_round),
            (theirs, pytest_docker_round),
        ]
        for sink, measure in rounds if index % 2 == 0 else reversed(rounds):
            sink.append(measure())
    start_ours, stop_ours = [s for s, _ in ours], [t for _, t in ours]
    start_theirs, stop_theirs = [s for s, _ in theirs], [t for _, t in theirs]
    start_ratios = paired_ratios(start_ours, start_theirs)
    stop_ratios = paired_ratios(stop_ours, stop_theirs)
    return [
        Figure(section, f"{label}DockerBackend.start() to healthy", with_range(start_ours)),
        Figure(
            section,
            f"{label}pytest-docker: up --build --wait, port, /health",
            with_range(start_theirs),
        ),
        Figure(
            section,
            f"{label}start: ours / pytest-docker",
            ratio_text(start_ratios),
            f"<= {START_RATIO_TARGET:g}x",
            median(start_ratios) <= START_RATIO_TARGET,
        ),
        Figure(
            section,
            f"{label}DockerBackend.stop() (API teardown + label sweep)",
            with_range(stop_ours),
        ),
        Figure(section, f"{label}pytest-docker: down -v", with_range(stop_theirs)),
        Figure(
            section,
            f"{label}teardown: ours / pytest-docker",
            ratio_text(stop_ratios),
            f"<= {STOP_RATIO_TARGET:g}x",
            median(stop_ratios) <= STOP_RATIO_TARGET,
        ),
    ]


# -- suites ----------------------------------------------------------------------------------


@dataclass
class SuiteRuns:
    """Wall times of one suite configuration, and what went wrong in any run."""

    name: str
    argv: list[str]
    env: dict[str, str]
    seconds: list[float] = field(default_factory=list)
    outcome: str = ""
    failures: list[str] = field(default_factory=list)

    def run(self, scratch: Path) -> None:
        reports = reports_folder(scratch, self.name, len(self.seconds))
        seconds, done = timed(self.argv, {**self.env, "MC_REPORT_DIR": str(reports)})
        self.seconds.append(seconds)
        output = done.stdout + done.stderr
        try:
            self.outcome = parse_pytest_summary(output).short()
        except ValueError as exc:
            self.outcome = str(exc)
        if done.returncode != 0:
            self.failures.append(f"exit {done.returncode}: {self.outcome}")
            (scratch / f"{reports.name}.log").write_text(output)

    def value(self) -> str:
        text = f"{with_range(self.seconds)}; {self.outcome}"
        if self.failures:
            text += f"; {len(self.failures)} run(s) FAILED: {self.failures[0][:160]}"
        return text


def pytest_argv(mode: str, *extra: str) -> list[str]:
    argv = [PY, "-m", "pytest", SUITE, "--mc-mode", mode, "-n", "2", "-p", "no:cacheprovider"]
    return [*argv, "-q", *extra]


@contextlib.contextmanager
def plain_backend() -> Iterator[tuple[str, str]]:
    """``python -m agent_backend`` on loopback, plain ws://: (ws URL, test password)."""
    from tests.support.staging_deployment import free_port

    password = secrets.token_urlsafe(18)
    env = clean_env(
        AGENT_JWT_SECRET=secrets.token_urlsafe(32),
        AGENT_TEST_PASSWORD=password,
        AGENT_ENV="test",
        PYTHONPATH=str(ROOT),
    )
    port = free_port()
    argv = [PY, "-m", "agent_backend", "--host", "127.0.0.1", "--port", str(port)]
    process = subprocess.Popen(
        argv, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        deadline = time.monotonic() + 20
        while not answers_200(f"http://127.0.0.1:{port}/health"):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"agent_backend did not start on port {port}")
            time.sleep(0.1)
        yield f"ws://127.0.0.1:{port}/ws", password
    finally:
        process.terminate()
        process.wait(timeout=15)


def minimal_profile_variables() -> dict[str, str]:
    """``MC_<KEY>`` for every profile setting, at the minimal profile's values: the baseline
    then differs from minimal only in where the server runs and who started it."""
    from test_framework.mode_specs import DEFAULT_PROFILES
    from test_framework.modes import Mode
    from test_framework.profiles import FIELDS

    profile = DEFAULT_PROFILES[Mode.MINIMAL]
    variables = {}
    for field_ in FIELDS.values():
        holder = getattr(profile, field_.group) if field_.group else profile
        variables[field_.setting.env] = str(getattr(holder, field_.attr))
    return variables


def interleave(configs: Sequence[SuiteRuns], reps: int, scratch: Path) -> None:
    for index in range(reps):
        order = list(configs)[index % len(configs) :] + list(configs)[: index % len(configs)]
        for config in order:
            progress(f"suite round {index + 1}/{reps}: {config.name}")
            config.run(scratch)


def bench_suite(reps: int, scratch: Path) -> list[Figure]:
    section = "suite wall time"
    from tests.support.staging_deployment import StagingDeployment, find_nginx

    with contextlib.ExitStack() as stack:
        url, password = stack.enter_context(plain_backend())
        direct = SuiteRuns(
            "test functions against a running server (baseline)",
            pytest_argv("staging_fallback", *LIKE_FOR_LIKE),
            clean_env(
                STAGING_WEBSOCKET_URL=url,
                STAGING_TEST_USER="bench",
                STAGING_TEST_PASSWORD=password,
                **minimal_profile_variables(),
            ),
        )
        minimal = SuiteRuns("minimal", pytest_argv("minimal", *LIKE_FOR_LIKE), clean_env())
        configs = [minimal, direct]
        docker: SuiteRuns | None = None
        staging: SuiteRuns | None = None
        notes: list[Figure] = []
        if daemon_answers():
            docker = SuiteRuns(
                "docker_local", pytest_argv("docker_local", *LIKE_FOR_LIKE), clean_env()
            )
            configs.append(docker)
        else:
            notes.append(Figure(section, "docker_local", "not measured: no daemon answers"))
        if find_nginx() is not None:
            deployment = StagingDeployment(scratch / "staging")
            variables = stack.enter_context(deployment).variables()
            staging = SuiteRuns(
                "staging_fallback (nginx + TLS, pacing on)",
                pytest_argv("staging_fallback", *LIKE_FOR_LIKE),
                clean_env(**variables),
            )
            configs.append(staging)
        else:
            notes.append(Figure(section, "staging_fallback", "not measured: nginx not installed"))
        interleave(configs, reps, scratch)

    figures = [Figure(section, config.name, config.value()) for config in configs] + notes
    if docker is not None and staging is not None:
        ratios = paired_ratios(staging.seconds, docker.seconds)
        figures.append(
            compared(
                section,
                "staging_fallback / docker_local",
                ratio_text(ratios),
                "<= 1.5x",
                median(ratios) <= 1.5,
                [staging, docker],
            )
        )
    overheads = [ratio - 1 for ratio in paired_ratios(minimal.seconds, direct.seconds)]
    figures.append(
        compared(
            "harness overhead",
            "minimal under the plugin / same tests against a running server",
            f"{median(overheads) * 100:+.0f} % ({min(overheads) * 100:+.0f} to"
            f" {max(overheads) * 100:+.0f} %)",
            "< 10 %",
            median(overheads) < 0.10,
            [minimal, direct],
        )
    )
    return figures


def compared(
    section: str, name: str, value: str, target: str, met: bool, runs: Sequence[SuiteRuns]
) -> Figure:
    """A comparison of suite runs; a side with a failed run has no comparable time."""
    broken = [config.name for config in runs if config.failures]
    if broken:
        return Figure(
            section, name, f"not comparable: runs failed in {', '.join(broken)}", target, False
        )
    return Figure(section, name, value, target, met)


def bench_nox(reps: int, scratch: Path) -> list[Figure]:
    section = "harness overhead"
    from test_framework.modes import Mode
    from test_framework.settings import load_settings

    env = clean_env()
    env.pop("VIRTUAL_ENV", None)
    nox = [PY, "-m", "nox", "--no-color"]
    progress("nox: creating or updating the minimal session's environment (untimed)")
    _, prepared = timed([*nox, "-s", NOX_MINIMAL, "--install-only"], env)
    if prepared.returncode != 0:
        return [Figure(section, "nox -R overhead", f"not measured: {prepared.stderr[-300:]}")]
    session_bin = ROOT / ".nox" / "mission_critical-mode-minimal" / "bin"
    workers = load_settings(ROOT, environ=env).profile(Mode.MINIMAL).pacing.workers
    args = [SUITE, "--mc-mode", "minimal", "-p", "no:cacheprovider"]
    args += ["-n", str(workers)] if workers > 0 else []
    via_nox = SuiteRuns(
        "`nox -R -s \"mission_critical(mode='minimal')\"`", [*nox, "-R", "-s", NOX_MINIMAL], env
    )
    direct = SuiteRuns(
        "the session's pytest, same arguments", [str(session_bin / "pytest"), *args], env
    )
    interleave([via_nox, direct], reps, scratch)
    differences = paired_differences(via_nox.seconds, direct.seconds)
    return [
        Figure(section, via_nox.name, via_nox.value()),
        Figure(section, direct.name, direct.value()),
        compared(
            section,
            "nox -R over pytest (probe, gate session included)",
            difference_text(differences),
            "< 1 s",
            median(differences) < 1.0,
            [via_nox, direct],
        ),
    ]


# -- the main job ----------------------------------------------------------------------------


@dataclass
class MainJobRuns:
    """Wall times of one way of running the main job, and each run's gate outcome."""

    name: str
    argv: list[str]
    env: dict[str, str]
    seconds: list[float] = field(default_factory=list)
    outcomes: list[GateOutcome] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def run(self, scratch: Path) -> None:
        reports = reports_folder(scratch, self.name, len(self.seconds))
        seconds, done = timed(self.argv, {**self.env, "MC_REPORT_DIR": str(reports)})
        self.seconds.append(seconds)
        output = done.stdout + done.stderr
        try:
            outcome = parse_gate_output(output)
        except ValueError as exc:
            problem: str | None = f"exit {done.returncode}: {exc}"
        else:
            self.outcomes.append(outcome)
            problem = outcome.problem(done.returncode, MAIN_JOB_MODES)
        if problem is not None:
            self.problems.append(problem)
            (scratch / f"{reports.name}.log").write_text(output)

    def value(self) -> str:
        text = with_range(self.seconds, least=1)
        verdicts = sorted({outcome.verdict for outcome in self.outcomes})
        text += f"; gate: {', '.join(verdicts) or 'none'}"
        if self.problems:
            text += f"; {len(self.problems)} run(s) FAILED: {self.problems[0][:160]}"
        return text


@contextlib.contextmanager
def staging_deployment(directory: Path) -> Iterator[dict[str, str] | str]:
    """The loopback TLS deployment through its own command line: its ``STAGING_*`` variables,
    or why it did not start."""
    command = [PY, "-m", "tests.support.staging_deployment"]
    try:
        _, done = timed([*command, "up", "--dir", str(directory)], clean_env())
        if done.returncode != 0:
            yield f"staging deployment did not start: {done.stderr.strip()[-300:]}"
            return
        variables = {}
        for line in (directory / "env").read_text().splitlines():
            key, _, value = line.partition("=")
            variables[key] = value
        yield variables
    finally:
        timed([*command, "down", "--dir", str(directory)], clean_env())


def bench_mainjob(reps: int, scratch: Path) -> list[Figure]:
    section = "main job"
    name = "three modes: `--parallel 3` / one after another"
    from tests.support.staging_deployment import find_nginx

    absent = [] if daemon_answers() else ["no daemon answers"]
    absent += [] if find_nginx() is not None else ["nginx not installed"]
    if absent:
        return [Figure(section, name, f"not measured: {'; '.join(absent)}")]
    with staging_deployment(scratch / "mainjob-staging") as variables:
        if isinstance(variables, str):
            return [Figure(section, name, f"not measured: {variables}")]
        env = clean_env(**variables)
        env.pop("VIRTUAL_ENV", None)
        nox = [PY, "-m", "nox", "--no-color"]
        progress("main job: creating or updating the mode sessions' environments (untimed)")
        _, prepared = timed([*nox, "-s", "mission_critical", "--install-only"], env)
        if prepared.returncode != 0:
            return [Figure(section, name, f"not measured: {prepared.stderr[-300:]}")]
        sequential = MainJobRuns(
            "`nox -R -s mission_critical`", [*nox, "-R", "-s", "mission_critical"], env
        )
        parallel = MainJobRuns(
            "`nox -R -t mission_critical --parallel 3`",
            [*nox, "-R", "-t", "mission_critical", "--parallel", "3"],
            env,
        )
        for index in range(reps):
            order = (sequential, parallel) if index % 2 == 0 else (parallel, sequential)
            for runs in order:
                progress(f"main job round {index + 1}/{reps}: {runs.name}")
                runs.run(scratch)
    figures = [
        Figure(section, sequential.name, sequential.value()),
        Figure(section, parallel.name, parallel.value()),
    ]
    target = f"<= {MAIN_JOB_RATIO_TARGET:g}x"
    broken = [runs.name for runs in (sequential, parallel) if runs.problems]
    tables = {
        repr(sorted(outcome.table.items()))
        for runs in (sequential, parallel)
        for outcome in runs.outcomes
    }
    if broken:
        why = f"not comparable: runs failed in {', '.join(broken)}"
        figures.append(Figure(section, name, why, target, False))
    elif len(tables) != 1:
        figures.append(
            Figure(section, name, "not comparable: the gates' tables differ", target, False)
        )
    else:
        ratios = paired_ratios(parallel.seconds, sequential.seconds)
        figures.append(
            Figure(
                section,
                name,
                ratio_text(ratios, least=1) + "; gate: PASSED in both, same table",
                target,
                median(ratios, least=1) <= MAIN_JOB_RATIO_TARGET,
            )
        )
    return figures


# -- backend load ----------------------------------------------------------------------------


def bench_load(reps: int) -> list[Figure]:
    section = "backend load"
    progress(f"backend load: 1000 connections, {reps} rounds")
    argv = [PY, "benchmarks/backend_load.py", "--connections", "1000", "--rounds", str(reps)]
    _, done = timed([*argv, "--json"], clean_env(PYTHONPATH=str(ROOT)))
    if not done.stdout.strip().startswith("{"):
        return [Figure(section, "backend_load.py", f"failed: {done.stderr.strip()[-300:]}")]
    data: dict[str, Any] = json.loads(done.stdout)
    rounds: list[dict[str, Any]] = data["rounds"]
    p99 = [row["agent_started_p99_ms"] / 1000 for row in rounds]
    ratio = [float(row["ratio"]) for row in rounds]
    floor = [float(row["floor_ratio"]) for row in rounds]
    ok = done.returncode == 0
    return [
        Figure(
            section,
            "runs/s (1,000 concurrent calc runs)",
            f"{median([row['runs_per_s'] for row in rounds]):.0f} runs/s",
        ),
        Figure(
            section,
            "echo reference, same client load",
            f"{median([row['echo_msgs_per_s'] for row in rounds]):.0f} msgs/s",
        ),
        Figure(
            section,
            "runs/s / echo msgs/s",
            f"{median(ratio):.2f} ({min(ratio):.2f}-{max(ratio):.2f})",
            ">= 0.5",
            median(ratio) >= 0.5 and ok,
        ),
        Figure(
            section,
            "floor: a run's events canned, no work / echo msgs/s",
            f"{median(floor):.2f} ({min(floor):.2f}-{max(floor):.2f})",
        ),
        Figure(
            section,
            "p99 to agent_started",
            with_range(p99, "ms"),
            "< 100 ms",
            median(p99) < 0.100 and ok,
        ),
        Figure(
            section,
            "server CPU per run",
            f"{median([row['server_cpu_ms_per_run'] for row in rounds]):.3f} ms",
        ),
        path_figure(section),
    ]


def path_figure(section: str) -> Figure:
    """benchmarks/backend_path.py: the same run's server CPU in process, steadier."""
    progress("backend path: one connection, in process")
    _, done = timed([PY, "benchmarks/backend_path.py", "--json"], clean_env(PYTHONPATH=str(ROOT)))
    if done.returncode != 0:
        return Figure(section, "backend_path.py", f"failed: {done.stderr.strip()[-300:]}")
    least = json.loads(done.stdout)["least_us"]
    return Figure(section, "server CPU per run in process, no system calls", f"{least:.1f} µs")


# -- main ------------------------------------------------------------------------------------


def header(command: str, load_before: float) -> list[str]:
    load_after = os.getloadavg()[0]
    return [
        f"date: {datetime.datetime.now().astimezone().isoformat(timespec='minutes')}",
        f"machine: {platform.machine()}, {os.cpu_count()} cores,"
        f" Python {platform.python_version()} ({os.path.realpath(sys.executable)}),"
        f" load average (1 min) {load_before:.1f} before, {load_after:.1f} after",
        f"command: {command}",
    ]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--reps",
        type=int,
        default=None,
        help=f"repetitions of every section chosen (default {MIN_REPETITIONS}; mainjob 2)",
    )
    parser.add_argument(
        "--only", default=",".join(SECTIONS), help=f"comma-separated: {', '.join(SECTIONS)}"
    )
    parser.add_argument("--markdown", type=Path, help="also write the table to this file")
    args = parser.parse_args(argv)
    wanted = [name.strip() for name in args.only.split(",") if name.strip()]
    unknown = set(wanted) - set(SECTIONS)
    too_few = [
        f"{name} at least {LEAST_REPS.get(name, MIN_REPETITIONS)}"
        for name in wanted
        if args.reps is not None and args.reps < LEAST_REPS.get(name, MIN_REPETITIONS)
    ]
    if unknown or too_few:
        parser.error(
            f"--only takes {', '.join(SECTIONS)}; --reps: {', '.join(too_few) or 'fine'}"
            f" (got {args.only!r}, {args.reps})"
        )

    def reps(section: str) -> int:
        chosen: int = args.reps or DEFAULT_REPS.get(section, MIN_REPETITIONS)
        return chosen

    command = " ".join(["python benchmarks/run_all.py", *(argv or sys.argv[1:])])
    load_before = os.getloadavg()[0]
    began = time.perf_counter()
    figures: list[Figure] = []
    scratch = Path(tempfile.mkdtemp(prefix="mcbench"))
    try:
        # The load section first, on a quiet machine: the Docker and nox sections leave the
        # engine and the page cache busy for a while after they end.
        load_figures = bench_load(reps("load")) if "load" in wanted else []
        if "baseline" in wanted:
            from benchmarks.baseline_gate import bench as bench_baseline

            load_figures += bench_baseline(reps("baseline"), scratch, progress)
        with daemon_kept_up():
            if "probe" in wanted:
                figures += bench_probe(max(reps("probe"), 7))
            if "stack" in wanted:
                figures += bench_stack(reps("stack"), scratch)
            if "suite" in wanted:
                figures += bench_suite(reps("suite"), scratch)
            if "nox" in wanted:
                figures += bench_nox(reps("nox"), scratch)
            if "mainjob" in wanted:
                figures += bench_mainjob(reps("mainjob"), scratch)
            if "command" in wanted:
                figures += bench_command(
                    reps("command"), scratch, clean_env(), minimal_profile_variables()
                )
        figures += load_figures
    finally:
        # Failed suite runs leave <name>.log here, a failed stack start its log under stack/.
        kept = any(scratch.glob("*.log")) or any((scratch / "stack").rglob("*.log"))
        if kept:
            progress(f"logs of failed runs kept in {scratch}")
        else:
            shutil.rmtree(scratch, ignore_errors=True)
    lines = [*header(command, load_before), f"wall time: {time.perf_counter() - began:.0f} s", ""]
    text = "\n".join([*lines, render_table(figures)])
    print("\n" + text)
    if args.markdown:
        args.markdown.write_text(text + "\n")
    # Targets missed are results, stated in the table; the run itself succeeded.
    missed = [f.name for f in figures if f.met is False]
    print(f"\ntargets not met: {len(missed)}" + (f" ({'; '.join(missed)})" if missed else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())

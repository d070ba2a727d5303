"""Measure the docker_local mode: the probe (daemon down and up), cold and warm start to healthy,
and teardown. Figures go to docs/performance.md.

    .venv/bin/python benchmarks/docker_mode.py probe            # probe, 50 rounds each way
    .venv/bin/python benchmarks/docker_mode.py start --rounds 5 # warm: image cached
    .venv/bin/python benchmarks/docker_mode.py start --cold     # removes the image and build cache

``--cold`` removes ``mission-critical/agent-backend:local`` and the build cache first (not the
base image), so it measures the image build from the wheelhouse plus start-up.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from test_framework.backends.base import RunContext  # noqa: E402
from test_framework.probes.docker import probe_docker  # noqa: E402
from test_framework.settings import Settings, load_settings  # noqa: E402

IMAGE = "mission-critical/agent-backend:local"


def summary(name: str, values_ms: list[float]) -> None:
    values = sorted(values_ms)
    p95 = values[min(len(values) - 1, round(0.95 * (len(values) - 1)))]
    print(
        f"{name:<44} n={len(values):<3} median {statistics.median(values):8.1f} ms"
        f"   p95 {p95:8.1f} ms   max {values[-1]:8.1f} ms"
    )


def bench_probe(rounds: int) -> None:
    settings = load_settings(ROOT)
    with tempfile.TemporaryDirectory(prefix="mcb", dir="/tmp") as folder:
        absent = f"unix://{folder}/none.sock"
        dead = Path(folder) / "dead.sock"
        with socket.socket(socket.AF_UNIX) as sock:  # a stale socket file: connection refused
            sock.bind(str(dead))
        for name, host in (("no socket", absent), ("stale socket, refused", f"unix://{dead}")):
            down = dataclasses.replace(
                settings, docker=dataclasses.replace(settings.docker, host=host)
            )
            summary(
                f"probe, daemon down ({name})",
                [probe_docker(down).elapsed_ms for _ in range(rounds)],
            )
    up = [probe_docker(settings) for _ in range(rounds)]
    if not up[0].available:
        print(f"probe, daemon up: unavailable: {up[0].reason}")
        return
    summary("probe, daemon up (all steps)", [r.elapsed_ms for r in up])
    for index, step in enumerate(up[0].steps):
        summary(f"  step {step.name}", [r.steps[index].elapsed_ms for r in up])


def timed_start_stop(settings: Settings) -> tuple[float, float]:
    """Seconds from a fresh run's ``DockerBackend.start()`` to healthy, and for its ``stop()``."""
    from test_framework.backends.docker import DockerBackend

    with tempfile.TemporaryDirectory(prefix="mcbench") as shared:
        run = RunContext(
            run_id="bench" + secrets.token_hex(3),
            owner_pid=os.getpid(),
            shared_dir=Path(shared),
            test_password=secrets.token_urlsafe(18),
            jwt_secret=secrets.token_urlsafe(32),
            test_token=secrets.token_urlsafe(24),
        )
        backend = DockerBackend(settings, run, progress=lambda line: None)
        began = time.perf_counter()
        try:
            backend.start()
            started = time.perf_counter() - began
        finally:
            began = time.perf_counter()
            backend.stop()
        return started, time.perf_counter() - began


def bench_start(rounds: int, cold: bool) -> None:
    settings = load_settings(ROOT)
    starts: list[float] = []
    stops: list[float] = []
    for _ in range(rounds):
        if cold:
            subprocess.run(["docker", "image", "rm", IMAGE], capture_output=True, check=False)
            subprocess.run(["docker", "builder", "prune", "-af"], capture_output=True, check=True)
        started, stopped = timed_start_stop(settings)
        starts.append(started * 1000)
        stops.append(stopped * 1000)
    kind = "cold (image build)" if cold else "warm (image cached)"
    summary(f"start to healthy, {kind}", starts)
    summary("teardown (API teardown + label sweep)", stops)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", choices=["probe", "start"])
    parser.add_argument("--rounds", type=int, default=0)
    parser.add_argument("--cold", action="store_true")
    args = parser.parse_args()
    if args.what == "probe":
        bench_probe(args.rounds or 50)
    else:
        bench_start(args.rounds or (1 if args.cold else 5), args.cold)


if __name__ == "__main__":
    main()

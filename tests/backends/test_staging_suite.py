"""The mission-critical suite in staging_fallback mode against the loopback nginx deployment:
clean, through a damaged network, and against a blackhole. Each run is a pytest subprocess,
exactly as `nox -s staging` runs it."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.environment import run_captured
from tests.support.fault_proxy import FaultProxy, Faults
from tests.support.requirements import require_nginx
from tests.support.staging_deployment import StagingDeployment, StagingEnvironment

ROOT = Path(__file__).resolve().parents[2]
SUITE = "tests/mission_critical"
# Three base64url segments: a whole JWT, not a test's hand-made fragment of one.
JWT = re.compile(rb"eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}")


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StagingEnvironment]:
    require_nginx()
    with StagingDeployment(tmp_path_factory.mktemp("staging")) as env:
        yield env


def run_suite(
    environment: StagingEnvironment,
    reports: Path,
    *args: str,
    paths: tuple[str, ...] = (SUITE,),
    timeout: float = 600,
    **env: str,
) -> tuple[subprocess.CompletedProcess[str], float]:
    """Run the suite (or ``paths`` of it) in staging_fallback mode with only our settings."""
    inherited = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("STAGING_", "MC_", "PYTEST_"))
        and key not in {"TEST_MODE", "USE_STAGING_FALLBACK"}
    }
    full_env = {**inherited, **environment.variables(), "MC_REPORT_DIR": str(reports), **env}
    argv = [sys.executable, "-m", "pytest", *paths, "--mc-mode", "staging_fallback"]
    started = time.monotonic()
    completed = run_captured(
        [*argv, "-p", "no:cacheprovider", "-q", *args], cwd=ROOT, env=full_env, timeout=timeout
    )
    return completed, time.monotonic() - started


def ledger(reports: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((reports / "staging_fallback" / "ledger.json").read_text())
    return data


def assert_no_secret_in(paths: list[Path], texts: list[str], password: str) -> None:
    for text in texts:
        assert password not in text
        assert not JWT.search(text.encode())
    for path in paths:
        for file in [path] if path.is_file() else path.rglob("*"):
            if file.is_file():
                data = file.read_bytes()
                assert password.encode() not in data, file
                assert not JWT.search(data), file


def test_the_suite_passes_through_nginx_and_tls(
    tmp_path: Path, deployment: StagingEnvironment
) -> None:
    completed, _ = run_suite(deployment, tmp_path, "-n", "2")
    assert completed.returncode == 0, completed.stdout[-3000:]
    tests = ledger(tmp_path)["tests"]
    assert len(tests) >= 60
    outcomes = {test["outcome"] for test in tests}
    assert outcomes <= {"passed", "skipped"}
    for test in tests:
        if test["outcome"] == "skipped":
            assert "no control of the deployment" in test["skip_reason"]
    assert_no_secret_in([tmp_path], [completed.stdout, completed.stderr], deployment.password)


def test_the_suite_passes_through_latency_drops_and_resets_and_names_the_retried_tests(
    tmp_path: Path, deployment: StagingEnvironment
) -> None:
    faults = Faults(latency_s=0.2, drop_probability=0.1, reset_probability=0.2, reset_after_s=1.0)
    upstream = ("127.0.0.1", deployment.https_port)
    with FaultProxy(upstream, faults, seed=5) as proxy:
        completed, _ = run_suite(
            deployment.through(proxy.port),
            tmp_path,
            "-n",
            "2",
            paths=(f"{SUITE}/test_mc_ping_http.py",),
            MC_RETRY_DELAY_S="0.2",
        )
    assert completed.returncode == 0, completed.stdout[-3000:]
    assert proxy.stats.dropped > 0
    assert proxy.stats.reset > 0
    tests = ledger(tmp_path)["tests"]
    retried = [test["nodeid"] for test in tests if test["retried"]]
    assert retried, "a reset mid-test should have made at least one test run again"
    for nodeid in retried:
        assert f": {nodeid}" in completed.stdout  # the terminal names it too
    assert_no_secret_in([tmp_path], [completed.stdout, completed.stderr], deployment.password)


def test_a_blackhole_ends_the_run_with_a_clear_failure_within_the_timeout(
    tmp_path: Path, deployment: StagingEnvironment
) -> None:
    with FaultProxy(("127.0.0.1", deployment.https_port), Faults(blackhole=True)) as proxy:
        completed, elapsed = run_suite(
            deployment.through(proxy.port), tmp_path, STAGING_FALLBACK_TIMEOUT="1", timeout=120
        )
    assert completed.returncode not in (0, 5)
    output = completed.stdout + completed.stderr
    assert "staging_fallback is configured but unhealthy: tls failed after" in output
    assert (
        "no answer to the TLS handshake with localhost within 1 s (STAGING_FALLBACK_TIMEOUT)"
        in output
    )
    assert elapsed < 60  # one step's timeout plus start-up, not a hang
    assert proxy.stats.blackholed >= 1

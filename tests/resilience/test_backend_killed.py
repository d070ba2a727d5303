"""The deployment dies in the middle of a run of the mission-critical suite: the tests after the
kill fail fast with "backend unavailable since ..." instead of each waiting out its timeout, and
none of them takes even half the message timeout.

Each run is ``pytest tests/mission_critical -n 2`` as a child process, with
``tests.resilience.deployment_killer`` (see there why the kill is a plugin) killing the
deployment after a few tests: minimal closes each worker's in-process service, docker_local
``docker kill``s the run's container, staging SIGKILLs ``agent_backend`` behind nginx.
"""

from __future__ import annotations

import http.server
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest

from test_framework.client.availability import Availability
from test_framework.client.http_client import HttpClient
from test_framework.endpoints import Endpoints
from test_framework.errors import ConnectionLostError
from test_framework.mode_specs import DEFAULT_PROFILES
from test_framework.modes import Mode
from test_framework.profiles import RetryPolicy
from tests.support.background import serving
from tests.support.docker_resources import NOTHING, child_environment, require_docker, resources
from tests.support.requirements import require_nginx
from tests.support.staging_deployment import StagingDeployment, StagingEnvironment

ROOT = Path(__file__).resolve().parents[2]
SUITE = "tests/mission_critical"
KILL_AFTER = 20  # tests finished by a process before it kills the deployment
MESSAGE_TIMEOUT_S = 8.0
RUN_TIMEOUT_S = 600.0  # generous: only proves "does not hang" (docker builds on a cold cache)
FAST_FAILURE = "backend unavailable since"


@dataclass(frozen=True)
class KilledRun:
    returncode: int
    output: str
    ended_at: float  # Unix time the pytest process had exited
    kills: list[dict[str, Any]]
    ledger: dict[str, Any]

    @property
    def last_kill(self) -> float:
        return max(float(kill["killed_at"]) for kill in self.kills)

    def failed(self) -> list[dict[str, Any]]:
        return [test for test in self.ledger["tests"] if test["outcome"] in ("failed", "error")]


def run_and_kill(
    tmp_path: Path, mode: str, how: str, *args: str, env: dict[str, str] | None = None
) -> KilledRun:
    reports = tmp_path / "reports"
    kills = tmp_path / "kills"
    kills.mkdir()
    argv = [sys.executable, "-m", "pytest", SUITE, "--mc-mode", mode, "-n", "2"]
    argv += ["--mc-report-dir", str(reports), "-p", "no:cacheprovider", "-q"]
    argv += ["-p", "tests.resilience.deployment_killer"]
    argv += ["--mc-profile", f"message_timeout_s={MESSAGE_TIMEOUT_S:g}"]
    argv += ["--mc-profile", f"connect_timeout_s={MESSAGE_TIMEOUT_S:g}", *args]
    child_env = {
        key: value
        for key, value in child_environment().items()
        if not key.startswith(("STAGING_", "MC_")) and key != "USE_STAGING_FALLBACK"
    }
    child_env |= {"MC_KILL_AFTER": str(KILL_AFTER), "MC_KILL_HOW": how, "MC_KILL_DIR": str(kills)}
    completed = subprocess.run(
        argv,
        cwd=ROOT,
        env=child_env | (env or {}),
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT_S,
        check=False,
    )
    ended_at = time.time()
    output = completed.stdout + completed.stderr
    records = [json.loads(path.read_text()) for path in sorted(kills.glob("gw*.json"))]
    assert records, f"the deployment was never killed:\n{output[-3000:]}"
    ledger = json.loads((reports / mode / "ledger.json").read_text())
    return KilledRun(completed.returncode, output, ended_at, records, ledger)


def assert_the_rest_failed_fast(run: KilledRun) -> None:
    assert run.returncode == 1, run.output[-3000:]
    assert run.ledger["complete"] is True
    failed = run.failed()
    fast = [test for test in failed if FAST_FAILURE in (test["message"] or "")]
    # Most of the suite was still to run after the kill; all but the tests in flight at the
    # kill (and their reruns) fail at once, naming the outage.
    assert len(fast) >= 20, [test["message"] for test in failed][:5]
    assert len(failed) - len(fast) <= 4, [t["message"] for t in failed if t not in fast]
    for test in failed:
        assert "timed out after" not in (test["message"] or ""), test
    # Each fast failure took a fraction of the timeout it would otherwise have waited out. The
    # run's whole time after the kill is printed, not asserted: it is mostly the machine's
    # (pytest, xdist and the stack's teardown), and on a loaded 2-core machine it has reached
    # 19-23 s where a quiet one takes 7-11 s.
    slow = [test for test in fast if test["duration_s"] >= MESSAGE_TIMEOUT_S / 2]
    assert not slow, [(test["nodeid"], test["duration_s"]) for test in slow]
    after_kill = run.ended_at - run.last_kill
    print(f"{len(fast)} of {len(failed)} failures fast; exited {after_kill:.1f} s after the kill")


def test_closing_the_in_process_service_mid_run_fails_the_rest_fast(tmp_path: Path) -> None:
    run = run_and_kill(tmp_path, "minimal", "inprocess")
    assert {kill["worker"] for kill in run.kills} == {"gw0", "gw1"}  # each had its own service
    assert_the_rest_failed_fast(run)


def test_docker_kill_of_the_container_mid_run_fails_the_rest_fast(tmp_path: Path) -> None:
    require_docker()
    # Tests of deployment_control start a private stack each, which the kill does not touch:
    # left in, they would measure Compose start-ups, not how the others fail.
    run = run_and_kill(tmp_path, "docker_local", "docker", "-m", "not deployment_control")
    assert len(run.kills) == 1
    assert_the_rest_failed_fast(run)
    assert resources(run.ledger["run_id"]) == NOTHING


@pytest.fixture
def staging(tmp_path: Path) -> Iterator[tuple[StagingDeployment, StagingEnvironment]]:
    require_nginx()
    deployment = StagingDeployment(tmp_path / "staging")
    with deployment as environment:
        yield deployment, environment


def test_sigkill_of_the_backend_behind_nginx_mid_run_fails_the_rest_fast(
    tmp_path: Path, staging: tuple[StagingDeployment, StagingEnvironment]
) -> None:
    deployment, environment = staging
    deployment.save_state()
    state = json.loads((deployment.directory / "state.json").read_text())
    backend = next(p for p in state["processes"] if p["name"] == "backend")
    # The staging profile's retries (5, from 2 s, doubling) would stretch the first failure.
    run = run_and_kill(
        tmp_path,
        "staging_fallback",
        f"pid:{backend['pid']}",
        "--mc-profile",
        "retry_delay_s=0.2",
        env=environment.variables(),
    )
    assert len(run.kills) == 1
    assert_the_rest_failed_fast(run)


class _Gateway(http.server.BaseHTTPRequestHandler):
    """Answers every GET with the status in its path, as nginx does for a dead upstream (502)."""

    def do_GET(self) -> None:
        self.send_response(int(self.path.strip("/")))
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        return None


@pytest.fixture
def gateway() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Gateway)
    with serving(server, "gateway"):
        yield f"http://127.0.0.1:{server.server_address[1]}"


async def test_a_proxys_502_or_504_is_no_answer_but_the_services_503_is_one(gateway: str) -> None:
    endpoints = Endpoints(ws_url="ws://unused/ws", http_url=gateway, auth_url=gateway + "/auth")
    retry = RetryPolicy(attempts=2, delay_s=0.01, backoff=1)
    profile = replace(DEFAULT_PROFILES[Mode.STAGING_FALLBACK], retry=retry)
    answer = await HttpClient(endpoints, profile, availability=Availability()).get("/503")
    assert answer.status == 503
    for status in (502, 504):
        client = HttpClient(endpoints, profile, availability=Availability())
        with pytest.raises(ConnectionLostError, match=f"failed 2 time.*HTTP {status}"):
            await client.get(f"/{status}")
        assert client.attempts == 2
        with pytest.raises(ConnectionLostError, match=FAST_FAILURE):
            await client.get("/200")  # the deployment is now known to be down
        assert client.attempts == 2

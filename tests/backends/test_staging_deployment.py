"""The loopback staging deployment (nginx + TLS + a service: agent_backend, or another) and the
staging backend on it."""

from __future__ import annotations

import json
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from test_framework.backends.staging import StagingBackend
from test_framework.client.redaction import redact_text
from test_framework.errors import ServiceUnavailableError
from test_framework.probes.staging import probe_staging
from test_framework.settings import load_settings
from tests.support.fault_proxy import FaultProxy, Faults
from tests.support.projects import agent_events_project
from tests.support.requirements import require_nginx
from tests.support.runs import run_context
from tests.support.staging_deployment import (
    Auth,
    Service,
    StagingDeployment,
    StagingEnvironment,
)

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "chat-service"
# The example's chat service: a static bearer token, its port from the environment, /healthz.
CHAT_SERVICE = (
    "--service-command",
    f"{sys.executable} -m chat_service",
    "--service-env",
    f"PYTHONPATH={EXAMPLE}",
    "--service-env",
    "CHAT_PORT={port}",
    "--service-env",
    "MC_TEST_TOKEN={secret}",
    "--health-path",
    "/healthz",
    "--auth",
    "bearer",
)


def cli(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tests.support.staging_deployment", *argv],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StagingEnvironment]:
    require_nginx()
    with StagingDeployment(tmp_path_factory.mktemp("staging")) as env:
        yield env


def env_file(folder: Path) -> dict[str, str]:
    """The variables ``up`` wrote for the deployment in ``folder``."""
    return dict(line.split("=", 1) for line in (folder / "env").read_text().splitlines())


def test_the_cli_starts_the_deployment_in_the_background_and_stops_it(tmp_path: Path) -> None:
    require_nginx()
    up = cli("up", "--dir", str(tmp_path))
    try:
        assert up.returncode == 0, up.stderr
        variables = env_file(tmp_path)
        assert set(variables) == {
            "STAGING_WEBSOCKET_URL",
            "STAGING_CA_BUNDLE",
            "STAGING_TEST_USER",
            "STAGING_TEST_PASSWORD",
        }
        assert variables["STAGING_WEBSOCKET_URL"].startswith("wss://localhost:")
        assert stat.S_IMODE((tmp_path / "env").stat().st_mode) == 0o600
        # The console shows the variables, never the password.
        assert variables["STAGING_TEST_PASSWORD"] not in up.stdout + up.stderr
        assert "STAGING_TEST_PASSWORD=***" in up.stdout
        result = probe_staging(load_settings(agent_events_project(tmp_path), environ=variables))
        assert result.available, result.reason
        pids = [
            entry["pid"] for entry in json.loads((tmp_path / "state.json").read_text())["processes"]
        ]
        assert len(pids) == 2
        assert all(alive(pid) for pid in pids)
    finally:
        down = cli("down", "--dir", str(tmp_path))
    assert down.returncode == 0, down.stderr
    assert not any(alive(pid) for pid in pids)
    after = probe_staging(load_settings(agent_events_project(tmp_path), environ=variables))
    assert after.reason.startswith("tcp failed")
    # No log the deployment wrote holds the password (env holds it on purpose, mode 0600).
    for path in tmp_path.rglob("*"):
        if path.is_file() and path.name != "env":
            assert variables["STAGING_TEST_PASSWORD"].encode() not in path.read_bytes(), path


def test_the_cli_fronts_another_service_with_a_bearer_token_as_told(tmp_path: Path) -> None:
    require_nginx()
    up = cli("up", "--dir", str(tmp_path), *CHAT_SERVICE)
    try:
        assert up.returncode == 0, up.stderr
        variables = env_file(tmp_path)
        assert set(variables) == {
            "STAGING_WEBSOCKET_URL",
            "STAGING_CA_BUNDLE",
            "STAGING_AUTH_TOKEN",
        }
        assert variables["STAGING_AUTH_TOKEN"] not in up.stdout + up.stderr
        assert "STAGING_AUTH_TOKEN=***" in up.stdout
        # The example's own adapter (bearer, /healthz, no ready message) finds it usable.
        result = probe_staging(load_settings(EXAMPLE, environ=variables))
        assert result.available, result.reason
        assert [step.name for step in result.steps if step.name == "health"] == ["health"]
        wrong = {**variables, "STAGING_AUTH_TOKEN": "not-the-token"}
        refused = probe_staging(load_settings(EXAMPLE, environ=wrong))
        assert not refused.available
        assert refused.reason.startswith("websocket failed"), refused.reason
        assert "401" in refused.reason, refused.reason
    finally:
        down = cli("down", "--dir", str(tmp_path))
    assert down.returncode == 0, down.stderr
    assert '"GET /healthz" 200' in (tmp_path / "access.log").read_text()


def test_service_options_without_a_service_command_are_refused(tmp_path: Path) -> None:
    up = cli("up", "--dir", str(tmp_path), "--auth", "bearer")
    assert up.returncode == 2
    assert "need --service-command" in up.stderr
    assert not (tmp_path / "env").exists()


def test_a_bearer_deployment_hands_its_secret_to_the_service_as_a_token(tmp_path: Path) -> None:
    require_nginx()
    service = Service(
        "chat_service",
        (sys.executable, "-m", "chat_service"),
        env={"PYTHONPATH": str(EXAMPLE), "CHAT_PORT": "{port}", "MC_TEST_TOKEN": "{secret}"},
        health_path="/healthz",
        auth=Auth.BEARER,
    )
    with StagingDeployment(tmp_path, service=service, password="s3cret-token") as env:
        assert env.variables() == {
            "STAGING_WEBSOCKET_URL": f"wss://localhost:{env.https_port}/ws",
            "STAGING_CA_BUNDLE": str(env.ca_bundle),
            "STAGING_AUTH_TOKEN": "s3cret-token",
        }
        assert "s3cret-token" not in repr(env) + repr(service)
        assert env.through(4242).ws_url == "wss://localhost:4242/ws"


def test_down_without_up_says_there_is_nothing_to_stop(tmp_path: Path) -> None:
    down = cli("down", "--dir", str(tmp_path))
    assert down.returncode == 0
    assert "nothing to stop" in down.stderr


def test_the_staging_backend_hands_back_the_endpoints_without_secrets(
    tmp_path: Path, deployment: StagingEnvironment
) -> None:
    settings = load_settings(agent_events_project(tmp_path), environ=deployment.variables())
    backend = StagingBackend(settings, run_context(tmp_path, "staging-tests"))
    endpoints = backend.start()
    assert endpoints.ws_url == deployment.ws_url
    assert endpoints.http_url == f"https://localhost:{deployment.https_port}"
    assert endpoints.auth_url == f"https://localhost:{deployment.https_port}/auth"
    assert endpoints.ca_bundle == deployment.ca_bundle
    assert endpoints.details["server_version"]
    assert endpoints.details["tls_version"].startswith("TLSv1.")
    assert deployment.password not in repr(endpoints)
    assert backend.start() is endpoints  # validated once per backend
    backend.stop()
    backend.stop()  # safe twice


def test_the_staging_backend_credentials_are_redacted_everywhere(
    tmp_path: Path, deployment: StagingEnvironment
) -> None:
    env = {**deployment.variables(), "STAGING_AUTH_TOKEN": "ready-token-for-tests"}
    credentials = StagingBackend(
        load_settings(agent_events_project(tmp_path), environ=env),
        run_context(tmp_path, "staging-tests"),
    )
    ready = credentials.credentials()
    assert ready.user_prefix == deployment.user
    assert ready.password == deployment.password
    assert deployment.password not in repr(ready)
    text = f"password {deployment.password} token ready-token-for-tests"
    assert redact_text(text) == "password *** token ***"


def test_the_staging_backend_refuses_to_start_and_names_the_failing_step(
    tmp_path: Path, deployment: StagingEnvironment
) -> None:
    wrong = {**deployment.variables(), "STAGING_TEST_PASSWORD": "not-the-password"}
    backend = StagingBackend(
        load_settings(agent_events_project(tmp_path), environ=wrong),
        run_context(tmp_path, "staging-tests"),
    )
    with pytest.raises(ServiceUnavailableError, match="is not usable: token failed after"):
        backend.start()


def test_the_staging_backend_tries_again_when_the_network_failed_its_probe(
    tmp_path: Path, deployment: StagingEnvironment
) -> None:
    # Three drops fail the probe's TLS step; the backend's second probe gets through.
    with FaultProxy(("127.0.0.1", deployment.https_port), Faults(drop_first=3)) as proxy:
        env = {**deployment.through(proxy.port).variables(), "MC_RETRY_DELAY_S": "0.05"}
        endpoints = StagingBackend(
            load_settings(agent_events_project(tmp_path), environ=env),
            run_context(tmp_path, "staging-tests"),
        )
        assert endpoints.start().details["probe_attempts"] == "2"
    assert proxy.stats.dropped == 3


def test_the_deployment_proxies_the_websocket_upgrade_through_tls(
    tmp_path: Path, deployment: StagingEnvironment
) -> None:
    # The probe's websocket and ping steps go through nginx; nginx logs paths, never tokens.
    result = probe_staging(
        load_settings(agent_events_project(tmp_path), environ=deployment.variables())
    )
    assert result.available, result.reason
    log_dir = deployment.ca_bundle.parent
    access = (log_dir / "access.log").read_text()
    assert '"GET /ws" 101' in access
    assert "token" not in access.replace("/auth/token", "")

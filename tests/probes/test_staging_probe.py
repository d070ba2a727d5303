"""The staging probe against real servers on loopback, one per way a deployment can fail."""

from __future__ import annotations

import dataclasses
import json
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import trustme

from test_framework.endpoints import Endpoints
from test_framework.errors import ConfigError
from test_framework.probes.result import ProbeResult, ProbeStatus
from test_framework.probes.staging import probe_staging
from test_framework.settings import Settings, load_settings
from tests.support.fake_staging import Behaviour, FakeStaging
from tests.support.fault_proxy import FaultProxy, Faults
from tests.support.projects import agent_events_project
from tests.support.requirements import require_nginx
from tests.support.runs import run_context, serving_in_process
from tests.support.staging_deployment import StagingDeployment, StagingEnvironment

PASSWORD = "probe-test-password-0451"
SHORT = "0.5"
# Generous: a blackhole must end near the short timeout, and this proves it does not hang.
BOUND_S = 10.0


def settings(tmp_path: Path, **env: str) -> Settings:
    environ = {"STAGING_TEST_USER": "probe-user", "STAGING_TEST_PASSWORD": PASSWORD}
    environ.update(env)
    return load_settings(
        agent_events_project(tmp_path), environ={k: v for k, v in environ.items() if v is not None}
    )


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def timed_probe(staging: Settings) -> tuple[ProbeResult, float]:
    """The probe's result, and the seconds it took."""
    started = time.monotonic()
    result = probe_staging(staging)
    return result, time.monotonic() - started


def failed_step(result: ProbeResult) -> str:
    assert not result.available
    failed = [step for step in result.steps if not step.ok]
    assert len(failed) == 1
    assert result.reason.startswith(f"{failed[0].name} failed after ")
    return failed[0].name


@pytest.fixture(scope="module")
def backend(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Endpoints]:
    """The real agent_backend, in-process on plain ws://127.0.0.1:<port>."""
    root = Path(__file__).resolve().parents[2]
    run = run_context(tmp_path_factory.mktemp("shared"), "probe-tests", test_password=PASSWORD)
    with serving_in_process(root, run) as endpoints:
        yield endpoints


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StagingEnvironment]:
    require_nginx()
    with StagingDeployment(tmp_path_factory.mktemp("staging"), password=PASSWORD) as env:
        yield env


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


def test_probe_says_the_mode_is_disabled_when_use_staging_fallback_is_false(
    tmp_path: Path,
) -> None:
    result = probe_staging(
        settings(tmp_path, USE_STAGING_FALLBACK="false", STAGING_WEBSOCKET_URL="ws://x/ws")
    )
    assert not result.available
    assert result.reason == "disabled by USE_STAGING_FALLBACK=false"


def test_probe_says_not_configured_and_names_the_variables_to_set(tmp_path: Path) -> None:
    result = probe_staging(load_settings(agent_events_project(tmp_path), environ={}))
    assert not result.available
    assert result.reason.startswith("not configured")
    for variable in ("STAGING_WEBSOCKET_URL", "STAGING_TEST_USER", "STAGING_AUTH_TOKEN"):
        assert variable in result.reason
    assert result.steps == ()


def test_probe_names_the_credential_variables_when_none_are_given(tmp_path: Path) -> None:
    env = {"STAGING_WEBSOCKET_URL": "ws://localhost:1/ws"}
    result = probe_staging(load_settings(agent_events_project(tmp_path), environ=env))
    assert not result.available
    assert result.reason == (
        "no credentials: set STAGING_TEST_USER and STAGING_TEST_PASSWORD, or STAGING_AUTH_TOKEN"
    )
    # A URL was set: someone meant to test that deployment, so it is broken, not absent.
    assert result.status is ProbeStatus.BROKEN


def test_an_unconfigured_or_disabled_staging_is_absent_not_broken(tmp_path: Path) -> None:
    unconfigured = probe_staging(load_settings(agent_events_project(tmp_path), environ={}))
    disabled = probe_staging(
        settings(tmp_path, USE_STAGING_FALLBACK="false", STAGING_WEBSOCKET_URL="ws://x/ws")
    )
    assert unconfigured.status is disabled.status is ProbeStatus.ABSENT


def test_probe_names_a_wrong_nonce_in_the_ping_step_without_waiting_out_its_timeout(
    tmp_path: Path,
) -> None:
    with FakeStaging(Behaviour(websocket="wrong-nonce")) as fake:
        result, elapsed = timed_probe(settings(tmp_path, STAGING_WEBSOCKET_URL=fake.ws_url))
    assert failed_step(result) == "ping"
    assert "wrong nonce: the protocol pong carried 'not-the-nonce-that-was-sent'" in result.reason
    assert "no answer" not in result.reason
    assert elapsed < 5.0  # STAGING_FALLBACK_TIMEOUT's default: the answer, not the timeout
    assert result.status is ProbeStatus.BROKEN
    assert result.verdict == f"configured but unhealthy: {result.reason}"


@pytest.mark.parametrize(
    ("url", "fragment"),
    [
        ("https://staging.example.com/ws", "has scheme 'https': use wss:// or ws://"),
        ("wss:///ws", "has no host"),
        ("wss://staging.example.com:99999/ws", "cannot be parsed"),
    ],
)
def test_a_websocket_url_that_cannot_be_right_is_refused_before_any_connection(
    tmp_path: Path, url: str, fragment: str
) -> None:
    with pytest.raises(ConfigError, match="STAGING_WEBSOCKET_URL") as raised:
        settings(tmp_path, STAGING_WEBSOCKET_URL=url)
    assert fragment in str(raised.value)
    assert "wss://host[:port]/path" in str(raised.value)
    # Settings built by hand (not through the environment) are checked by the probe itself.
    good = settings(tmp_path, STAGING_WEBSOCKET_URL="wss://staging.example.com/ws")
    bad = dataclasses.replace(good, staging=dataclasses.replace(good.staging, ws_url=url))
    result = probe_staging(bad)
    assert not result.available
    assert fragment in result.reason
    assert result.steps == ()


def test_probe_refuses_a_user_and_password_in_hand_built_settings_without_echoing_them(
    tmp_path: Path,
) -> None:
    good = settings(tmp_path, STAGING_WEBSOCKET_URL="wss://staging.example.com/ws")
    url = "wss://ci:Hand-Built-Secret-9@staging.example.com/ws"
    bad = dataclasses.replace(good, staging=dataclasses.replace(good.staging, ws_url=url))
    result = probe_staging(bad)
    assert result.status is ProbeStatus.BROKEN
    assert result.reason.startswith("STAGING_WEBSOCKET_URL (environment) has a user and password")
    assert "Hand-Built-Secret-9" not in json.dumps(result.to_json())
    assert result.steps == ()


def test_probe_fails_the_tcp_step_when_nothing_listens(tmp_path: Path) -> None:
    port = closed_port()
    result = probe_staging(settings(tmp_path, STAGING_WEBSOCKET_URL=f"wss://localhost:{port}/ws"))
    assert failed_step(result) == "tcp"
    assert f"connection to localhost:{port} refused" in result.reason
    assert [step.name for step in result.steps] == ["dns", "tcp"]


def test_probe_ends_at_the_tls_step_within_its_timeout_against_a_blackhole(
    tmp_path: Path,
) -> None:
    with FaultProxy(("127.0.0.1", closed_port()), Faults(blackhole=True)) as blackhole:
        env = {"STAGING_WEBSOCKET_URL": f"wss://localhost:{blackhole.port}/ws"}
        result, elapsed = timed_probe(settings(tmp_path, STAGING_FALLBACK_TIMEOUT=SHORT, **env))
    assert failed_step(result) == "tls"
    assert "no answer to the TLS handshake with localhost within 0.5 s" in result.reason
    assert 0.4 < elapsed < BOUND_S
    assert result.details["failure"] == "timeout"
    assert blackhole.stats.blackholed == 1


def test_probe_ends_at_the_health_step_within_its_timeout_against_a_plain_blackhole(
    tmp_path: Path,
) -> None:
    with FaultProxy(("127.0.0.1", closed_port()), Faults(blackhole=True)) as blackhole:
        env = {"STAGING_WEBSOCKET_URL": f"ws://localhost:{blackhole.port}/ws"}
        result, elapsed = timed_probe(settings(tmp_path, STAGING_FALLBACK_TIMEOUT=SHORT, **env))
    assert failed_step(result) == "health"
    assert re.search(r"no answer to GET http://\S+/health within 0.5 s", result.reason)
    assert elapsed < BOUND_S
    assert result.steps[2].detail == "skipped: plain ws:// URL"


def test_probe_fails_tls_for_a_certificate_issued_for_another_host(
    tmp_path: Path, ca: trustme.CA
) -> None:
    bundle = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(bundle))
    with FakeStaging(Behaviour(), ca.issue_cert("other.example")) as fake:
        result = probe_staging(
            settings(tmp_path, STAGING_WEBSOCKET_URL=fake.ws_url, STAGING_CA_BUNDLE=str(bundle))
        )
    assert failed_step(result) == "tls"
    assert "certificate verification failed: Hostname mismatch" in result.reason


def test_probe_fails_tls_for_a_certificate_from_an_untrusted_ca(
    tmp_path: Path, ca: trustme.CA
) -> None:
    trusted = trustme.CA()
    bundle = tmp_path / "other-ca.pem"
    trusted.cert_pem.write_to_path(str(bundle))
    with FakeStaging(Behaviour(), ca.issue_cert("localhost")) as fake:
        with_bundle = probe_staging(
            settings(tmp_path, STAGING_WEBSOCKET_URL=fake.ws_url, STAGING_CA_BUNDLE=str(bundle))
        )
        system_default = probe_staging(settings(tmp_path, STAGING_WEBSOCKET_URL=fake.ws_url))
    for result in (with_bundle, system_default):
        assert failed_step(result) == "tls"
        assert "certificate verification failed: unable to get local issuer" in result.reason
    assert with_bundle.details["ca_bundle"] == str(bundle)
    assert system_default.details["ca_bundle"] == "system default"


@pytest.mark.parametrize(
    ("status", "body", "fragment"),
    [
        (404, {"error": "not_found"}, "answered 404 Not Found"),
        (503, {"status": "draining"}, 'answered 503 Service Unavailable {"status": "draining"}'),
        (200, {"status": "degraded"}, 'answered 200 with {"status": "degraded"}'),
    ],
)
def test_under_agent_events_the_health_step_fails_unless_it_answers_2xx_with_status_ok(
    tmp_path: Path, status: int, body: dict[str, object], fragment: str
) -> None:
    with FakeStaging(Behaviour(health_status=status, health_body=body)) as fake:
        result = probe_staging(settings(tmp_path, STAGING_WEBSOCKET_URL=fake.ws_url))
    assert failed_step(result) == "health"
    assert fragment in result.reason
    assert "(expected 2xx with JSON status ok (health_status_ok))" in result.reason


@pytest.mark.parametrize("status", [200, 204])
def test_without_health_status_ok_any_2xx_with_a_plain_body_is_healthy(
    tmp_path: Path, status: int
) -> None:
    agent_events_project(tmp_path)
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text(pyproject.read_text() + "health_status_ok = false\n")
    with FakeStaging(Behaviour(health_status=status, health_text="ok", websocket="refuse")) as fake:
        environ = {"STAGING_TEST_USER": "probe-user", "STAGING_TEST_PASSWORD": PASSWORD}
        result = probe_staging(
            load_settings(tmp_path, environ={**environ, "STAGING_WEBSOCKET_URL": fake.ws_url})
        )
    health = next(step for step in result.steps if step.name == "health")
    assert (health.ok, health.detail) == (True, str(status))
    assert failed_step(result) == "websocket"  # the walk went on past the health step


def test_without_health_status_ok_a_non_2xx_fails_the_health_step(tmp_path: Path) -> None:
    agent_events_project(tmp_path)
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text(pyproject.read_text() + "health_status_ok = false\n")
    with FakeStaging(Behaviour(health_status=503, health_text="draining")) as fake:
        environ = {"STAGING_TEST_USER": "probe-user", "STAGING_TEST_PASSWORD": PASSWORD}
        result = probe_staging(
            load_settings(tmp_path, environ={**environ, "STAGING_WEBSOCKET_URL": fake.ws_url})
        )
    assert failed_step(result) == "health"
    assert "answered 503 Service Unavailable" in result.reason
    assert "(expected a 2xx)" in result.reason


def test_probe_fails_the_websocket_step_within_its_timeout_when_the_upgrade_is_never_answered(
    tmp_path: Path,
) -> None:
    with FakeStaging(Behaviour(websocket="hang")) as fake:
        result, elapsed = timed_probe(
            settings(tmp_path, STAGING_WEBSOCKET_URL=fake.ws_url, STAGING_FALLBACK_TIMEOUT=SHORT)
        )
    assert failed_step(result) == "websocket"
    assert re.search(r"no answer to the WebSocket upgrade of \S+/ws within 0.5 s", result.reason)
    assert elapsed < BOUND_S
    assert [step.name for step in result.steps if step.ok] == [
        "dns",
        "tcp",
        "tls",
        "health",
        "token",
    ]


def test_probe_fails_the_token_step_on_a_wrong_password(tmp_path: Path, backend: Endpoints) -> None:
    result = probe_staging(
        settings(tmp_path, STAGING_WEBSOCKET_URL=backend.ws_url, STAGING_TEST_PASSWORD="wrong-pw")
    )
    assert failed_step(result) == "token"
    assert "refused STAGING_TEST_USER='probe-user'" in result.reason
    assert "401" in result.reason
    assert "check STAGING_TEST_PASSWORD" in result.reason
    assert result.details["failure"] == "answer"
    assert "wrong-pw" not in json.dumps(result.to_json())


def test_probe_fails_the_websocket_step_when_the_token_is_refused(
    tmp_path: Path, backend: Endpoints
) -> None:
    env = {"STAGING_TEST_USER": "", "STAGING_TEST_PASSWORD": "", "STAGING_AUTH_TOKEN": "forged"}
    result = probe_staging(settings(tmp_path, STAGING_WEBSOCKET_URL=backend.ws_url, **env))
    assert failed_step(result) == "websocket"
    assert "the upgrade was refused: 401" in result.reason
    assert result.steps[4].detail == "skipped: using STAGING_AUTH_TOKEN"


def test_probe_passes_against_the_real_backend_over_plain_ws(
    tmp_path: Path, backend: Endpoints
) -> None:
    result = probe_staging(settings(tmp_path, STAGING_WEBSOCKET_URL=backend.ws_url))
    assert result.available, result.reason
    assert [(step.name, step.ok) for step in result.steps] == [
        ("dns", True),
        ("tcp", True),
        ("tls", True),
        ("health", True),
        ("token", True),
        ("websocket", True),
        ("ping", True),
    ]
    assert all(step.elapsed_ms >= 0 for step in result.steps)
    assert result.details["server_version"]


def test_probe_skips_health_when_the_health_check_is_disabled(
    tmp_path: Path, backend: Endpoints
) -> None:
    result = probe_staging(
        settings(
            tmp_path, STAGING_WEBSOCKET_URL=backend.ws_url, STAGING_HEALTH_CHECK_ENABLED="false"
        )
    )
    assert result.available, result.reason
    health = next(step for step in result.steps if step.name == "health")
    assert health.detail == "skipped: STAGING_HEALTH_CHECK_ENABLED=false"


def test_probe_tries_a_step_again_when_its_connection_is_dropped(
    tmp_path: Path, backend: Endpoints
) -> None:
    upstream = ("127.0.0.1", int(backend.details["port"]))
    with FaultProxy(upstream, Faults(drop_first=1)) as proxy:
        env = {"STAGING_WEBSOCKET_URL": f"ws://localhost:{proxy.port}/ws"}
        result = probe_staging(settings(tmp_path, **env))
    assert result.available, result.reason
    health = next(step for step in result.steps if step.name == "health")
    assert health.detail.endswith("(attempt 2: earlier connections were dropped)")
    assert proxy.stats.dropped == 1


def test_probe_gives_up_on_a_step_after_three_dropped_connections(
    tmp_path: Path, backend: Endpoints
) -> None:
    upstream = ("127.0.0.1", int(backend.details["port"]))
    with FaultProxy(upstream, Faults(drop_probability=1.0)) as proxy:
        env = {"STAGING_WEBSOCKET_URL": f"ws://localhost:{proxy.port}/ws"}
        result = probe_staging(settings(tmp_path, **env))
    assert failed_step(result) == "health"
    assert "the server dropped the connection" in result.reason
    assert result.reason.endswith("(3 attempts)")
    assert result.details["failure"] == "dropped"
    assert proxy.stats.dropped == 3


def test_probe_passes_through_nginx_and_tls_and_reports_no_secret(
    tmp_path: Path, deployment: StagingEnvironment
) -> None:
    result = probe_staging(settings(tmp_path, **deployment.variables()))
    assert result.available, result.reason
    assert result.reason.startswith("healthy: 7 steps in ")
    assert all(step.ok and not step.detail.startswith("skipped") for step in result.steps)
    assert result.details["tls_version"].startswith("TLSv1.")
    text = json.dumps(result.to_json())
    assert deployment.password not in text
    assert "eyJ" not in text  # no JWT


def test_probe_refuses_a_wrong_password_through_nginx(
    tmp_path: Path, deployment: StagingEnvironment
) -> None:
    variables = {**deployment.variables(), "STAGING_TEST_PASSWORD": "not-the-password"}
    result = probe_staging(settings(tmp_path, **variables))
    assert failed_step(result) == "token"
    assert "401" in result.reason


def test_an_unconfigured_staging_probe_loads_neither_the_walk_nor_the_redaction(
    tmp_path: Path,
) -> None:
    # Most probes end at "not configured": a fresh process must not pay for what only a
    # configured deployment needs.
    script = (
        "import sys\n"
        "from pathlib import Path\n"
        "from test_framework.probes.staging import probe_staging\n"
        "from test_framework.settings import load_settings\n"
        "result = probe_staging(load_settings(Path(sys.argv[1]), environ={}))\n"
        "assert result.reason.startswith('not configured'), result.reason\n"
        "print(sorted(m for m in sys.modules if m.startswith('test_framework.')))\n"
    )
    project = agent_events_project(tmp_path)
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run(
        [sys.executable, "-c", script, str(project)],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    loaded = done.stdout
    assert "test_framework.probes.staging" in loaded
    assert "test_framework.probes.staging_walk" not in loaded
    assert "test_framework.client.redaction" not in loaded

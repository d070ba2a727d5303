"""The staging probe follows the service adapter: against a real service that does not speak
docs/protocol.md (tests/support/echo_service.py: static bearer token or none, no health path, no
ready message unless asked, no protocol ping), on real loopback sockets."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from test_framework.probes.result import ProbeResult, ProbeStatus
from test_framework.probes.staging import NO_BEARER_TOKEN, probe_staging
from test_framework.settings import Settings, load_settings
from tests.support.runs import run_context, serving_in_process

TOKEN = "echo-staging-token-8832"


def project(folder: Path, service: str) -> Path:
    (folder / "pyproject.toml").write_text(f"[tool.test_framework.service]\n{service}", "utf-8")
    return folder


def settings(folder: Path, service: str, url: str, **env: str) -> Settings:
    environ = {"STAGING_WEBSOCKET_URL": url, "STAGING_FALLBACK_TIMEOUT": "0.5", **env}
    return load_settings(project(folder, service), environ=environ)


def steps(result: ProbeResult) -> dict[str, str]:
    return {step.name: step.detail for step in result.steps}


def serve(tmp_path: Path, factory: str) -> Iterator[str]:
    """The echo service, in-process, started by the harness's own backend; yields its ws URL."""
    run = run_context(tmp_path, "adapter", test_token=TOKEN)
    root = project(tmp_path, f'factory = "tests.support.echo_service:{factory}"\n')
    with serving_in_process(root, run) as endpoints:
        yield endpoints.ws_url


@pytest.fixture
def bearer_service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    yield from serve(tmp_path_factory.mktemp("bearer"), "start")


@pytest.fixture
def open_service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    yield from serve(tmp_path_factory.mktemp("open"), "start_open")


@pytest.fixture
def ready_service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    yield from serve(tmp_path_factory.mktemp("ready"), "start_with_ready")


def test_bearer_auth_without_a_health_path_passes_and_every_step_says_what_it_did(
    tmp_path: Path, bearer_service: str
) -> None:
    result = probe_staging(
        settings(tmp_path, 'auth = "bearer"\n', bearer_service, STAGING_AUTH_TOKEN=TOKEN)
    )
    assert result.available, result.reason
    assert steps(result) == {
        "dns": "127.0.0.1",
        "tcp": steps(result)["tcp"],
        "tls": "skipped: plain ws:// URL",
        "health": "skipped: no health_path in [tool.test_framework.service]",
        "token": "skipped: auth = bearer: STAGING_AUTH_TOKEN is sent as it is",
        "websocket": "upgraded (101); no ready_message configured, so the open socket is ready",
        "ping": 'WebSocket pong (protocol_ping is off: no {"type": "ping"} sent)',
    }
    assert TOKEN not in repr(result)


def test_bearer_auth_can_send_the_token_in_the_query(tmp_path: Path, bearer_service: str) -> None:
    service = 'auth = "bearer"\ntoken_via = "query"\n'
    result = probe_staging(settings(tmp_path, service, bearer_service, STAGING_AUTH_TOKEN=TOKEN))
    assert result.available, result.reason
    assert TOKEN not in repr(result)


def test_a_bearer_token_the_service_refuses_fails_the_websocket_step(
    tmp_path: Path, bearer_service: str
) -> None:
    result = probe_staging(
        settings(tmp_path, 'auth = "bearer"\n', bearer_service, STAGING_AUTH_TOKEN="wrong-token-00")
    )
    assert result.status is ProbeStatus.BROKEN
    assert result.reason.startswith("websocket failed after ")
    assert "the upgrade was refused: 401 Unauthorized" in result.reason


def test_bearer_auth_without_staging_auth_token_is_broken_naming_the_variable(
    tmp_path: Path, bearer_service: str
) -> None:
    result = probe_staging(settings(tmp_path, 'auth = "bearer"\n', bearer_service))
    assert result.status is ProbeStatus.BROKEN
    assert result.reason == NO_BEARER_TOKEN


def test_no_auth_needs_no_credentials_and_skips_the_token_step(
    tmp_path: Path, open_service: str
) -> None:
    result = probe_staging(settings(tmp_path, 'auth = "none"\n', open_service))
    assert result.available, result.reason
    assert steps(result)["token"] == "skipped: auth = none"


def test_no_auth_against_a_service_that_wants_a_token_fails_the_upgrade(
    tmp_path: Path, bearer_service: str
) -> None:
    result = probe_staging(settings(tmp_path, "", bearer_service))
    assert result.status is ProbeStatus.BROKEN
    assert "the upgrade was refused: 401" in result.reason


def test_a_ready_message_that_never_comes_is_named_in_the_websocket_failure(
    tmp_path: Path, bearer_service: str
) -> None:
    service = 'auth = "bearer"\nready_message = "hello"\n'
    result = probe_staging(settings(tmp_path, service, bearer_service, STAGING_AUTH_TOKEN=TOKEN))
    assert result.status is ProbeStatus.BROKEN
    assert result.reason.startswith("websocket failed after ")
    assert result.reason.endswith(
        ": no 'hello' message within 0.5 s after the upgrade (STAGING_FALLBACK_TIMEOUT)"
    )


def test_a_ready_message_that_comes_passes_the_websocket_step(
    tmp_path: Path, ready_service: str
) -> None:
    service = 'auth = "bearer"\nready_message = "hello"\n'
    result = probe_staging(settings(tmp_path, service, ready_service, STAGING_AUTH_TOKEN=TOKEN))
    assert result.available, result.reason
    assert steps(result)["websocket"] == "upgraded (101), then hello"


def test_a_protocol_ping_the_service_does_not_answer_is_named_in_the_ping_failure(
    tmp_path: Path, bearer_service: str
) -> None:
    # The echo service sends the ping back as it is: a message, never a pong.
    service = 'auth = "bearer"\nprotocol_ping = true\n'
    result = probe_staging(settings(tmp_path, service, bearer_service, STAGING_AUTH_TOKEN=TOKEN))
    assert result.status is ProbeStatus.BROKEN
    assert result.reason.startswith("ping failed after ")
    assert 'no {"type": "pong"} within 0.5 s after the ping' in result.reason


def test_an_auth_function_makes_the_upgrades_credentials(
    tmp_path: Path, bearer_service: str
) -> None:
    service = 'auth = "tests.support.auth_functions:bearer_header"\n'
    result = probe_staging(settings(tmp_path, service, bearer_service, STAGING_AUTH_TOKEN=TOKEN))
    assert result.available, result.reason
    assert steps(result)["token"] == (
        "auth by tests.support.auth_functions:bearer_header: 1 header(s), 0 query parameter(s);"
        " checked by the upgrade"
    )


def test_an_auth_function_not_importable_here_is_left_to_the_session_but_broken_in_it(
    tmp_path: Path, bearer_service: str
) -> None:
    service = 'auth = "not_installed_auth_xyz:auth"\n'
    configured = settings(tmp_path, service, bearer_service, STAGING_AUTH_TOKEN=TOKEN)
    outside = probe_staging(configured)
    inside = probe_staging(configured, in_session=True)
    assert outside.available, outside.reason
    assert steps(outside)["websocket"] == (
        "skipped: auth by not_installed_auth_xyz:auth: not_installed_auth_xyz is not importable"
        " here; the session checks it"
    )
    assert inside.status is ProbeStatus.BROKEN
    assert "cannot load auth not_installed_auth_xyz:auth" in inside.reason

"""The catalogue of bad configuration: each case runs the user-facing entry point as a real
subprocess in a small project of its own and expects exactly one actionable line, no traceback,
and the documented exit status.

The cases are the source of ``docs/errors.md``: ``python -m tests.resilience.test_error_catalogue``
rewrites its table, and a test fails when the file and this list disagree.
"""

from __future__ import annotations

import dataclasses
import json
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import jwt
import pytest
import trustme

from test_framework.endpoints import Endpoints
from test_framework.engine.compose_command import find_compose
from test_framework.errors import HarnessError
from test_framework.settings import DEFAULT_BASE_IMAGE
from tests.support.environment import isolated_environment, run_captured
from tests.support.fake_docker_daemon import DaemonScript, fake_daemon_unix
from tests.support.fake_staging import Behaviour, FakeStaging
from tests.support.ledger_samples import ledger, record
from tests.support.runs import run_context, serving_in_process

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs" / "errors.md"
PASSWORD = "catalogue-password-7781"
JWT_SECRET = "catalogue-jwt-secret-of-at-least-32-bytes"
HARNESS_USAGE = 2  # test_framework.errors.EXIT_USAGE
PYTEST_USAGE = 4
TESTS_FAILED = 1
RUN_TIMEOUT_S = 120.0  # generous: the machine is shared; this only proves "does not hang"

PYPROJECT = """\
[tool.test_framework]
report_dir = "out"
"""
# The staging cases run against FakeStaging, which speaks docs/protocol.md.
AGENT_EVENTS = PYPROJECT + '[tool.test_framework.service]\npreset = "agent-events"\n'
OK_COMPOSE = "services:\n  web:\n    image: local/python-base:bookworm\n"
TEST_FILE = "def test_uses_the_deployment(mc_endpoints):\n    assert mc_endpoints.ws_url\n"
# The docker_local cases talk to a fake daemon, not to whatever daemon this machine has (or
# lacks): what they test is the harness's handling of the compose file, not the daemon.
FAKE_DAEMON = {"DOCKER_HOST": "{fake_docker_host}"}
WITH_BASELINE = PYPROJECT + 'baseline = "BASELINE"\n'
LEDGER_V1 = '{"schema": "mission-critical-ledger/0", "mode": "minimal"}'
PASSING_LEDGER = json.dumps(ledger("minimal", [record("test_passes")]).to_json())
LONG_HOST_URL = "wss://" + "a" * 10_000 + "/ws"
# Beside TEST_FILE: thirty tests that need a mode, refused together in one line.
MORE_TESTS = (
    "import pytest\n\n@pytest.mark.parametrize('n', range(30))\n"
    "def test_each(mc_endpoints, n):\n    assert mc_endpoints.ws_url\n"
)


@dataclass(frozen=True)
class Case:
    """One bad configuration. ``message`` is the exact line printed, with ``<project>``,
    ``<port>`` and ``<n> ms`` standing for what changes from run to run."""

    name: str
    # "probe", "gate", "pytest", "baseline" or "plain pytest" (neither --mc-mode nor TEST_MODE)
    entry: str
    message: str
    status: int
    args: tuple[str, ...] = ()
    env: Mapping[str, str] = field(default_factory=dict)
    pyproject: str = PYPROJECT
    files: Mapping[str, str] = field(default_factory=dict)
    needs_compose: bool = False  # runs the Compose CLI (against a fake daemon): skip without it


def _staging(url: str, **extra: str) -> dict[str, str]:
    return {
        "STAGING_WEBSOCKET_URL": url,
        "STAGING_TEST_USER": "catalogue",
        "STAGING_TEST_PASSWORD": PASSWORD,
        "STAGING_FALLBACK_TIMEOUT": "3",
        **extra,
    }


_UNAVAILABLE = (
    "ERROR: mode {mode} cannot run here: {why}"
    " (fix that, or choose another mode with --mc-mode / TEST_MODE)"
)


def _unavailable(
    name: str,
    mode: str,
    why: str,
    *,
    env: Mapping[str, str] | None = None,
    pyproject: str = PYPROJECT,
    broken: bool = False,
) -> Case:
    """A mode asked for by ``--mc-mode`` that cannot run here, absent or (``broken``)
    configured and failing a step: pytest stops at once."""
    return Case(
        name,
        "pytest",
        _broken(mode, why) if broken else _UNAVAILABLE.format(mode=mode, why=why),
        PYTEST_USAGE,
        args=("--mc-mode", mode),
        env=env or {},
        pyproject=pyproject,
    )


def _compose_problem(name: str, message: str, *, compose_yml: str) -> Case:
    """docker_local, against the fake daemon, with a docker/compose.yml the run reads and
    rejects: the tests start and fail."""
    return Case(
        name,
        "pytest",
        message,
        TESTS_FAILED,
        args=("--mc-mode", "docker_local"),
        env=FAKE_DAEMON,
        pyproject=PYPROJECT
        + '[tool.test_framework.service]\ncompose_file = "docker/compose.yml"\n',
        needs_compose=True,
        files={"docker/compose.yml": compose_yml},
    )


def _broken(mode: str, why: str) -> str:
    """A mode that was configured, asked for by name and failing a step."""
    return (
        f"ERROR: mode {mode} is configured but unhealthy: {why} (fix that, or stop configuring it)"
    )


CASES: tuple[Case, ...] = (
    # -- modes ------------------------------------------------------------------------------
    Case(
        "unknown mode in TEST_MODE",
        "probe",
        "error: TEST_MODE='bogus' (environment): unknown mode 'bogus':"
        " use one of docker_local, staging_fallback, minimal, auto",
        HARNESS_USAGE,
        env={"TEST_MODE": "bogus"},
    ),
    Case(
        "unknown mode in --mc-mode",
        "pytest",
        "ERROR: --mc-mode='dockr' (option): unknown mode 'dockr':"
        " use one of docker_local, staging_fallback, minimal, auto",
        PYTEST_USAGE,
        args=("--mc-mode", "dockr"),
    ),
    Case(
        "unknown mode in MC_REQUIRED_MODES",
        "probe",
        "error: MC_REQUIRED_MODES='minimal,stagin' (environment): unknown mode 'stagin':"
        " use one of docker_local, staging_fallback, minimal",
        HARNESS_USAGE,
        env={"MC_REQUIRED_MODES": "minimal,stagin"},
    ),
    Case(
        "unknown mode in the gate's --required",
        "gate",
        "error: --required: unknown mode 'auto':"
        " use one of docker_local, staging_fallback, minimal",
        HARNESS_USAGE,
        args=("--required", "auto", "out"),
        files={"out/minimal/ledger.json": "{}"},
    ),
    Case(
        "unknown mode in MC_REQUIRED_MODES, read by the gate",
        "gate",
        "error: MC_REQUIRED_MODES: unknown mode 'nope':"
        " use one of docker_local, staging_fallback, minimal",
        HARNESS_USAGE,
        args=("out",),
        env={"MC_REQUIRED_MODES": "nope"},
        files={"out/minimal/ledger.json": "{}"},
    ),
    # -- pyproject.toml ---------------------------------------------------------------------
    Case(
        "malformed pyproject.toml",
        "probe",
        "error: <project>/pyproject.toml: invalid TOML (Expected '=' after a key in a key/value"
        " pair (at line 2, column 6)): fix the syntax",
        HARNESS_USAGE,
        pyproject='[tool.test_framework]\nmode "minimal"\n',
    ),
    Case(
        "[tool.test_framework] that is not a table",
        "probe",
        "error: <project>/pyproject.toml: [tool.test_framework] must be a table",
        HARNESS_USAGE,
        pyproject="[tool]\ntest_framework = 1\n",
    ),
    Case(
        "mode of the wrong type in pyproject.toml",
        "probe",
        "error: <project>/pyproject.toml: mode must be a string, not 3",
        HARNESS_USAGE,
        pyproject="[tool.test_framework]\nmode = 3\n",
    ),
    Case(
        "unknown key in [tool.test_framework.service]",
        "probe",
        "error: <project>/pyproject.toml: unknown key(s) compose in [tool.test_framework.service]:"
        " use preset, factory, command, command_env, command_cwd, asgi_app, ready_log,"
        " ready_timeout_s, stop_timeout_s, compose_file, compose_service, container_port,"
        " ws_path, health_path, health_status_ok, auth, auth_path, token_via, ready_message,"
        " protocol_ping, wait_for_compose_healthcheck",
        HARNESS_USAGE,
        pyproject=PYPROJECT + '[tool.test_framework.service]\ncompose = "x.yml"\n',
    ),
    Case(
        "unknown service preset",
        "probe",
        "error: <project>/pyproject.toml: [tool.test_framework.service] preset = 'agent_events'"
        " is unknown: use 'agent-events', or leave it out and set the keys yourself",
        HARNESS_USAGE,
        pyproject=PYPROJECT + '[tool.test_framework.service]\npreset = "agent_events"\n',
    ),
    Case(
        "unknown auth kind",
        "probe",
        "error: <project>/pyproject.toml: [tool.test_framework.service] auth = 'jwt' is unknown:"
        " use none, bearer, token_endpoint, module:function",
        HARNESS_USAGE,
        pyproject=PYPROJECT + '[tool.test_framework.service]\nauth = "jwt"\n',
    ),
    Case(
        "service setting of the wrong type",
        "probe",
        "error: <project>/pyproject.toml: [tool.test_framework.service] container_port must be"
        " an integer, not '8000'",
        HARNESS_USAGE,
        pyproject=PYPROJECT + '[tool.test_framework.service]\ncontainer_port = "8000"\n',
    ),
    Case(
        "profile for an unknown mode",
        "probe",
        "error: unknown mode 'fast': use one of docker_local, staging_fallback, minimal",
        HARNESS_USAGE,
        pyproject=PYPROJECT + "[tool.test_framework.profiles.fast]\nworkers = 4\n",
    ),
    Case(
        "unknown profile setting in pyproject.toml",
        "probe",
        "error: unknown profile setting 'timeout': use one of connect_timeout_s,"
        " connections_per_s, heartbeat_s, latency_budget_s, max_connections, message_timeout_s,"
        " messages_per_s, retry_attempts, retry_backoff, retry_delay_s, workers",
        HARNESS_USAGE,
        pyproject=PYPROJECT + "[tool.test_framework.profiles.minimal]\ntimeout = 4\n",
    ),
    Case(
        "negative profile value in pyproject.toml",
        "probe",
        "error: workers=-1 (<project>/pyproject.toml [tool.test_framework.profiles.minimal]) must"
        " be 0 (one process, no pytest-xdist workers) or more",
        HARNESS_USAGE,
        pyproject=PYPROJECT + "[tool.test_framework.profiles.minimal]\nworkers = -1\n",
    ),
    # -- environment: booleans, timeouts, profile overrides ----------------------------------
    Case(
        "bad boolean in USE_STAGING_FALLBACK",
        "probe",
        "error: USE_STAGING_FALLBACK='maybe' (environment) is not a boolean: use true or false",
        HARNESS_USAGE,
        env={"USE_STAGING_FALLBACK": "maybe"},
    ),
    Case(
        "bad boolean in FORCE_DOCKER_UNAVAILABLE",
        "probe",
        "error: FORCE_DOCKER_UNAVAILABLE='si' (environment) is not a boolean: use true or false",
        HARNESS_USAGE,
        env={"FORCE_DOCKER_UNAVAILABLE": "si"},
    ),
    Case(
        "bad boolean in STAGING_HEALTH_CHECK_ENABLED",
        "probe",
        "error: STAGING_HEALTH_CHECK_ENABLED='2' (environment) is not a boolean: use true or false",
        HARNESS_USAGE,
        env={"STAGING_HEALTH_CHECK_ENABLED": "2"},
    ),
    Case(
        "staging timeout that is not a number",
        "probe",
        "error: STAGING_FALLBACK_TIMEOUT='5s' (environment) is not a number of seconds:"
        " give e.g. 5",
        HARNESS_USAGE,
        env={"STAGING_FALLBACK_TIMEOUT": "5s"},
    ),
    Case(
        "staging timeout of zero",
        "probe",
        "error: STAGING_FALLBACK_TIMEOUT='0' (environment) must be more than 0 seconds",
        HARNESS_USAGE,
        env={"STAGING_FALLBACK_TIMEOUT": "0"},
    ),
    Case(
        "negative Docker start timeout",
        "probe",
        "error: MC_DOCKER_START_TIMEOUT_S='-1' (environment) must be more than 0 seconds",
        HARNESS_USAGE,
        env={"MC_DOCKER_START_TIMEOUT_S": "-1"},
    ),
    Case(
        "profile override from the environment that is not a number",
        "probe",
        "error: MC_CONNECT_TIMEOUT_S='soon' (environment) is not a number of seconds: give e.g. 5",
        HARNESS_USAGE,
        env={"MC_CONNECT_TIMEOUT_S": "soon"},
    ),
    Case(
        "retry attempts that are not whole",
        "probe",
        "error: MC_RETRY_ATTEMPTS='1.5' (environment) is not a whole number: give e.g. 3",
        HARNESS_USAGE,
        env={"MC_RETRY_ATTEMPTS": "1.5"},
    ),
    Case(
        "--mc-profile without '='",
        "pytest",
        "ERROR: --mc-profile 'workers' is not KEY=VALUE: e.g. connect_timeout_s=5",
        PYTEST_USAGE,
        args=("--mc-mode", "minimal", "--mc-profile", "workers"),
    ),
    Case(
        "--mc-profile with an unknown key",
        "pytest",
        "ERROR: unknown profile setting 'speed': use one of connect_timeout_s,"
        " connections_per_s, heartbeat_s, latency_budget_s, max_connections, message_timeout_s,"
        " messages_per_s, retry_attempts, retry_backoff, retry_delay_s, workers",
        PYTEST_USAGE,
        args=("--mc-mode", "minimal", "--mc-profile", "speed=9"),
    ),
    Case(
        "connect timeout of zero from the environment",
        "probe",
        "error: MC_CONNECT_TIMEOUT_S='0' (environment) must be more than 0 seconds",
        HARNESS_USAGE,
        env={"MC_CONNECT_TIMEOUT_S": "0"},
    ),
    Case(
        "retry delay of zero in pyproject.toml",
        "probe",
        "error: retry_delay_s=0 (<project>/pyproject.toml [tool.test_framework.profiles.minimal])"
        " must be more than 0 seconds",
        HARNESS_USAGE,
        pyproject=PYPROJECT + "[tool.test_framework.profiles.minimal]\nretry_delay_s = 0\n",
    ),
    Case(
        "negative rate from --mc-profile",
        "pytest",
        "ERROR: --mc-profile messages_per_s='-5' (option) must be 0 (unlimited) or more",
        PYTEST_USAGE,
        args=("--mc-mode", "minimal", "--mc-profile", "messages_per_s=-5"),
    ),
    Case(
        "retry attempts of zero",
        "probe",
        "error: MC_RETRY_ATTEMPTS='0' (environment) must be 1 or more",
        HARNESS_USAGE,
        env={"MC_RETRY_ATTEMPTS": "0"},
    ),
    Case(
        "report folder that cannot be created",
        "pytest",
        "ERROR: MC_REPORT_DIR='/proc/nope' (environment): cannot create the report folder"
        " '/proc/nope' (No such file or directory): choose a writable folder",
        PYTEST_USAGE,
        args=("--mc-mode", "minimal"),
        env={"MC_REPORT_DIR": "/proc/nope"},
    ),
    Case(
        "report folder given as an option that is a file",
        "pytest",
        "ERROR: --mc-report-dir='pyproject.toml' (option): cannot create the report folder"
        " '<project>/pyproject.toml' (it is a file): choose a writable folder",
        PYTEST_USAGE,
        args=("--mc-mode", "auto", "--mc-report-dir", "pyproject.toml"),
    ),
    # -- sharding ---------------------------------------------------------------------------
    Case(
        "--shard 5/4",
        "pytest",
        "ERROR: --shard '5/4' has i=5: give 1 <= i <= 4",
        PYTEST_USAGE,
        args=("--mc-mode", "minimal", "--shard", "5/4"),
    ),
    Case(
        "--shard that is not i/N",
        "pytest",
        "ERROR: --shard 'half' is not of the form i/N: give e.g. 2/4",
        PYTEST_USAGE,
        args=("--mc-mode", "minimal", "--shard", "half"),
    ),
    Case(
        "--shard 1/0",
        "pytest",
        "ERROR: --shard '1/0' has N=0: the number of shards must be 1 or more",
        PYTEST_USAGE,
        args=("--mc-mode", "minimal", "--shard", "1/0"),
    ),
    # -- staging URLs and credentials -------------------------------------------------------
    Case(
        "staging URL with a wrong scheme",
        "probe",
        "error: STAGING_WEBSOCKET_URL='https://staging.example.com/ws' (environment) has scheme"
        " 'https': use wss:// or ws://, e.g. wss://host[:port]/path",
        HARNESS_USAGE,
        env={"STAGING_WEBSOCKET_URL": "https://staging.example.com/ws"},
        pyproject=AGENT_EVENTS,
    ),
    Case(
        "staging backend URL with a WebSocket scheme",
        "probe",
        "error: STAGING_BACKEND_URL='wss://staging.example.com' (environment) has scheme 'wss':"
        " use https:// or http://, e.g. https://host[:port]/path",
        HARNESS_USAGE,
        env={"STAGING_BACKEND_URL": "wss://staging.example.com"},
        pyproject=AGENT_EVENTS,
    ),
    Case(
        "staging URL with no host",
        "probe",
        "error: STAGING_WEBSOCKET_URL='wss:///ws' (environment) has no host:"
        " use wss://host[:port]/path",
        HARNESS_USAGE,
        env={"STAGING_WEBSOCKET_URL": "wss:///ws"},
        pyproject=AGENT_EVENTS,
    ),
    Case(
        "staging URL with port 0",
        "probe",
        "error: STAGING_WEBSOCKET_URL='ws://staging.example.com:0/ws' (environment) has port 0:"
        " give the deployment's port",
        HARNESS_USAGE,
        env={"STAGING_WEBSOCKET_URL": "ws://staging.example.com:0/ws"},
        pyproject=AGENT_EVENTS,
    ),
    Case(
        "staging URL with a user and password in it",
        "probe",
        "error: STAGING_WEBSOCKET_URL (environment) has a user and password in it (an '@'):"
        " they are never sent from a URL; set STAGING_TEST_USER and STAGING_TEST_PASSWORD, or"
        " STAGING_AUTH_TOKEN, instead (an '@' in a path or query is written %40)",
        HARNESS_USAGE,
        env={"STAGING_WEBSOCKET_URL": "wss://ci:Catalogue-Secret-1@staging.example.com/ws"},
        pyproject=AGENT_EVENTS,
    ),
    Case(
        "staging URL with a wrong scheme and a token in its query",
        "probe",
        "error: STAGING_BACKEND_URL='ws://staging.example.com/?token=***' (environment) has"
        " scheme 'ws': use https:// or http://, e.g. https://host[:port]/path",
        HARNESS_USAGE,
        env={"STAGING_BACKEND_URL": "ws://staging.example.com/?token=catalogue-token-1"},
        pyproject=AGENT_EVENTS,
    ),
    Case(
        "staging URL with a port out of range",
        "probe",
        "error: STAGING_WEBSOCKET_URL='wss://staging.example.com:99999/ws' (environment) cannot"
        " be parsed"
        " (Port out of range 0-65535): use wss://host[:port]/path",
        HARNESS_USAGE,
        env={"STAGING_WEBSOCKET_URL": "wss://staging.example.com:99999/ws"},
        pyproject=AGENT_EVENTS,
    ),
    Case(
        "staging auth URL with a wrong scheme",
        "probe",
        "error: STAGING_AUTH_URL='ftp://staging.example.com/auth' (environment) has scheme 'ftp':"
        " use https:// or http://, e.g. https://host[:port]/path",
        HARNESS_USAGE,
        env={"STAGING_AUTH_URL": "ftp://staging.example.com/auth"},
    ),
    Case(
        "CA bundle missing",
        "probe",
        "error: STAGING_CA_BUNDLE='<project>/missing-ca.pem' (environment) is not a file:"
        " give the path of a PEM CA bundle",
        HARNESS_USAGE,
        env={"STAGING_CA_BUNDLE": "{project}/missing-ca.pem"},
    ),
    _unavailable(
        "staging requested but not configured",
        "staging_fallback",
        "not configured: set STAGING_WEBSOCKET_URL (e.g. wss://staging.example.com/ws) or"
        " STAGING_BACKEND_URL, with STAGING_TEST_USER and STAGING_TEST_PASSWORD or"
        " STAGING_AUTH_TOKEN",
        pyproject=AGENT_EVENTS,
    ),
    _unavailable(
        "staging requested but disabled",
        "staging_fallback",
        "disabled by USE_STAGING_FALLBACK=false",
        env=_staging("{ws_url}", USE_STAGING_FALLBACK="false"),
        pyproject=AGENT_EVENTS,
    ),
    _unavailable(
        "staging without credentials",
        "staging_fallback",
        "no credentials: set STAGING_TEST_USER and STAGING_TEST_PASSWORD, or STAGING_AUTH_TOKEN",
        broken=True,
        env={"STAGING_WEBSOCKET_URL": "{ws_url}"},
        pyproject=AGENT_EVENTS,
    ),
    _unavailable(
        "bearer staging without STAGING_AUTH_TOKEN",
        "staging_fallback",
        "no credentials: auth = 'bearer' in [tool.test_framework.service] needs STAGING_AUTH_TOKEN",
        broken=True,
        env=_staging("{ws_url}"),
        pyproject=PYPROJECT + '[tool.test_framework.service]\nauth = "bearer"\n',
    ),
    _unavailable(
        "unresolvable staging host",
        "staging_fallback",
        "dns failed after <n> ms: cannot resolve 'mc-catalogue-no-such-host.invalid':"
        " Name or service not known",
        broken=True,
        env=_staging("wss://mc-catalogue-no-such-host.invalid/ws"),
        pyproject=AGENT_EVENTS,
    ),
    _unavailable(
        "nothing listening at the staging URL",
        "staging_fallback",
        "tcp failed after <n> ms: connection to 127.0.0.1:<port> refused: nothing is"
        " listening there",
        broken=True,
        env=_staging("ws://127.0.0.1:{closed_port}/ws"),
        pyproject=AGENT_EVENTS,
    ),
    _unavailable(
        "TLS name mismatch",
        "staging_fallback",
        "tls failed after <n> ms: certificate verification failed: Hostname mismatch,"
        " certificate is not valid for 'localhost'; trusted: STAGING_CA_BUNDLE=<ca>",
        broken=True,
        env=_staging("{tls_ws_url}", STAGING_CA_BUNDLE="{ca}"),
        pyproject=AGENT_EVENTS,
    ),
    _unavailable(
        "wrong staging password",
        "staging_fallback",
        "token failed after <n> ms: GET http://127.0.0.1:<port>/auth/token refused"
        " STAGING_TEST_USER='catalogue': 401 Unauthorized {\"error\":"
        ' "invalid_credentials"}; check STAGING_TEST_PASSWORD',
        broken=True,
        env=_staging("{ws_url}", STAGING_TEST_PASSWORD="not-the-password"),
        pyproject=AGENT_EVENTS,
    ),
    _unavailable(
        "expired staging token",
        "staging_fallback",
        "websocket failed after <n> ms: the upgrade was refused: 401 Unauthorized"
        ' {"error": "invalid_token"}: the token is expired or not from this deployment:'
        " renew STAGING_AUTH_TOKEN, or check STAGING_AUTH_URL",
        broken=True,
        env={"STAGING_WEBSOCKET_URL": "{ws_url}", "STAGING_AUTH_TOKEN": "{expired_token}"},
        pyproject=AGENT_EVENTS,
    ),
    # -- docker_local -----------------------------------------------------------------------
    _unavailable(
        "no compose file configured",
        "docker_local",
        "no compose file configured: set compose_file in [tool.test_framework.service]"
        " (see docs/adopting.md)",
    ),
    _unavailable(
        "malformed DOCKER_HOST",
        "docker_local",
        "DOCKER_HOST='ftp://nowhere' is not supported here: use unix:///path/to/docker.sock"
        " or tcp://host:port (ssh:// and npipe:// daemons need a local socket forward)",
        broken=True,
        env={"DOCKER_HOST": "ftp://nowhere"},
    ),
    _unavailable(
        "compose file missing",
        "docker_local",
        "compose file 'docker/absent.yml' not found; looked in: <project>/docker/absent.yml,"
        " <project>/absent.yml: set compose_file in [tool.test_framework.service] to where"
        " it is",
        broken=True,
        env=FAKE_DAEMON,
        pyproject=PYPROJECT + '[tool.test_framework.service]\ncompose_file = "docker/absent.yml"\n',
    ),
    _compose_problem(
        "compose file that is not valid YAML",
        "<project>/docker/compose.yml: compose cannot read it (failed to parse"
        " <project>/docker/compose.yml: yaml: line 1: did not find expected ',' or ']'):"
        " fix the file",
        compose_yml="services:\n  backend: [unclosed\n",
    ),
    _compose_problem(
        "compose service name absent",
        "<project>/docker/compose.yml has no service 'backend' (it has: web):"
        " set compose_service in [tool.test_framework.service]",
        compose_yml=OK_COMPOSE,
    ),
    # -- minimal ----------------------------------------------------------------------------
    _unavailable(
        "service factory that is not module:callable",
        "minimal",
        "service factory 'agent_backend.testing' is not 'module:callable': set factory in"
        " [tool.test_framework.service]",
        broken=True,
        pyproject=PYPROJECT + '[tool.test_framework.service]\nfactory = "agent_backend.testing"\n',
    ),
    _unavailable(
        "no service configured",
        "minimal",
        "no service configured: set command, asgi_app or factory in [tool.test_framework.service]"
        " (see docs/adopting.md)",
    ),
    _unavailable(
        "misspelt service factory",
        "minimal",
        "agent_backend.testing has no top-level 'start_in_proces': define async def"
        " start(*, host: str, port: int, **kwargs) -> service there, or fix the name in"
        " factory",
        broken=True,
        pyproject=PYPROJECT
        + '[tool.test_framework.service]\nfactory = "agent_backend.testing:start_in_proces"\n',
    ),
    _unavailable(
        "service factory not of the documented signature",
        "minimal",
        "factory agent_backend.config:generated_secret does not accept host and port:"
        " it must be callable as async def start(*, host: str, port: int,"
        " **kwargs) -> service",
        broken=True,
        pyproject=PYPROJECT
        + '[tool.test_framework.service]\nfactory = "agent_backend.config:generated_secret"\n',
    ),
    _unavailable(
        "service factory of the wrong kind, bound by a star import",
        "minimal",
        "factory os:getcwd does not accept host and port: it must be callable as async def"
        " start(*, host: str, port: int, **kwargs) -> service",
        broken=True,
        pyproject=PYPROJECT + '[tool.test_framework.service]\nfactory = "os:getcwd"\n',
    ),
    Case(
        "two ways to start the service at once",
        "probe",
        "error: <project>/pyproject.toml: [tool.test_framework.service] sets command and"
        " asgi_app: minimal mode starts the service one way, keep one of them",
        HARNESS_USAGE,
        pyproject=PYPROJECT
        + '[tool.test_framework.service]\ncommand = "node server.js"\nasgi_app = "m:app"\n',
    ),
    Case(
        "unknown placeholder in the command",
        "probe",
        "error: <project>/pyproject.toml: [tool.test_framework.service] command: unknown"
        " placeholder {prot} in '--port={prot}': use {host}, {port}, {test_token},"
        " {test_password}, {jwt_secret}",
        HARNESS_USAGE,
        pyproject=PYPROJECT
        + '[tool.test_framework.service]\ncommand = "node server.js --port={prot}"\n',
    ),
    Case(
        "ready_timeout_s of 0",
        "probe",
        "error: <project>/pyproject.toml: [tool.test_framework.service] ready_timeout_s = 0"
        " must be more than 0 (seconds)",
        HARNESS_USAGE,
        pyproject=PYPROJECT
        + '[tool.test_framework.service]\ncommand = "node server.js"\nready_timeout_s = 0\n',
    ),
    _unavailable(
        "service command not on PATH",
        "minimal",
        "local command: no-such-chat-server --port {port}: 'no-such-chat-server' is not on"
        " PATH (nor a file in <project>): install it, or fix command in"
        " [tool.test_framework.service]",
        broken=True,
        pyproject=PYPROJECT
        + '[tool.test_framework.service]\ncommand = "no-such-chat-server --port {port}"\n',
    ),
    _unavailable(
        "ASGI app whose module is not there",
        "minimal",
        "ASGI app no_such_app.main:app: module 'no_such_app.main' is not importable from"
        " <project>: install the service in the tests' environment, set command_cwd to its"
        " folder, or fix asgi_app in [tool.test_framework.service]",
        broken=True,
        pyproject=PYPROJECT + '[tool.test_framework.service]\nasgi_app = "no_such_app.main:app"\n',
    ),
    # -- the gate's ledgers -----------------------------------------------------------------
    Case(
        "gate given a path that does not exist",
        "gate",
        "error: <project>/nowhere: no such file or folder: give ledger files or folders",
        HARNESS_USAGE,
        args=("{project}/nowhere",),
    ),
    Case(
        "gate given a ledger that is not JSON",
        "gate",
        "error: <project>/out/ledger.json: cannot read the ledger (Expecting value: line 1"
        " column 1 (char 0)): give the ledger*.json files the pytest plugin wrote,"
        " or their folders",
        HARNESS_USAGE,
        args=("{project}/out",),
        files={"out/ledger.json": "<html>not a ledger</html>"},
    ),
    Case(
        "gate given a JSON file that is not a ledger object",
        "gate",
        "error: <project>/out/ledger.json: not a ledger (a JSON object is expected)"
        ": give the ledger*.json files the pytest plugin wrote, or their folders",
        HARNESS_USAGE,
        args=("{project}/out",),
        files={"out/ledger.json": "[1, 2, 3]"},
    ),
    Case(
        "gate given a ledger of another schema",
        "gate",
        "error: <project>/out/ledger.json: not a valid ledger (ValueError: not a"
        " mission-critical-ledger file (schema='mission-critical-ledger/0'))"
        ": give the ledger*.json files the pytest plugin wrote, or their folders",
        HARNESS_USAGE,
        args=("{project}/out",),
        files={"out/ledger.json": LEDGER_V1},
    ),
    Case(
        "gate with required_modes that is not a list",
        "gate",
        "error: [tool.test_framework] required_modes must be a list of modes",
        HARNESS_USAGE,
        args=("out",),
        pyproject=PYPROJECT + 'required_modes = "minimal"\n',
        files={"out/minimal/ledger.json": "{}"},
    ),
    # -- hostile input: a folder the reports cannot go to, URLs no host can have, no mode ----
    Case(
        "tests that need a mode, and no mode chosen",
        "plain pytest",
        "ERROR: no execution mode chosen: run pytest with --mc-mode auto (or minimal,"
        " docker_local, staging_fallback), or set TEST_MODE; `nox -s mission_critical` does"
        " this for you",
        PYTEST_USAGE,
        files={"test_more.py": MORE_TESTS},
    ),
    Case(
        "staging URL with a port of 70000",
        "probe",
        "error: STAGING_WEBSOCKET_URL='ws://127.0.0.1:70000/ws' (environment) cannot be parsed"
        " (Port out of range 0-65535): use wss://host[:port]/path",
        HARNESS_USAGE,
        env=_staging("ws://127.0.0.1:70000/ws"),
        pyproject=AGENT_EVENTS,
    ),
    Case(
        "staging URL with a 10,000-character host name",
        "probe",
        "error: STAGING_WEBSOCKET_URL='wss://" + "a" * 54 + "'… (10009 characters)"
        " (environment) has a host name that cannot be valid (a label of 10000 characters:"
        " at most 63): fix it",
        HARNESS_USAGE,
        env=_staging(LONG_HOST_URL),
        pyproject=AGENT_EVENTS,
    ),
    Case(
        "staging URL with a 10,000-character host name, under pytest",
        "pytest",
        "ERROR: STAGING_WEBSOCKET_URL='wss://" + "a" * 54 + "'… (10009 characters)"
        " (environment) has a host name that cannot be valid (a label of 10000 characters:"
        " at most 63): fix it",
        PYTEST_USAGE,
        args=("--mc-mode", "staging_fallback"),
        env=_staging(LONG_HOST_URL),
        pyproject=AGENT_EVENTS,
    ),
    Case(
        "staging URL whose host name is over 253 characters",
        "probe",
        "error: STAGING_BACKEND_URL='https://" + "abcdefghi." * 5 + "ab'… (318 characters)"
        " (environment) has a host name that cannot be valid (309 characters: at most 253):"
        " fix it",
        HARNESS_USAGE,
        env=_staging("ws://127.0.0.1:1/ws", STAGING_BACKEND_URL="https://" + "abcdefghi." * 31),
        pyproject=AGENT_EVENTS,
    ),
    Case(
        "staging URL with a space in its host name",
        "probe",
        "error: STAGING_WEBSOCKET_URL='wss://staging example.com/ws' (environment) has a host"
        " name that cannot be valid (it holds ' '): fix it",
        HARNESS_USAGE,
        env=_staging("wss://staging example.com/ws"),
        pyproject=AGENT_EVENTS,
    ),
    Case(
        "staging URL with a character no host name holds",
        "probe",
        "error: STAGING_AUTH_URL='https://staging|example.com/auth' (environment) has a host"
        " name that cannot be valid (it holds '|'): fix it",
        HARNESS_USAGE,
        env=_staging("ws://127.0.0.1:1/ws", STAGING_AUTH_URL="https://staging|example.com/auth"),
        pyproject=AGENT_EVENTS,
    ),
    Case(
        "staging URL with an empty label in its host name",
        "probe",
        "error: STAGING_WEBSOCKET_URL='wss://staging..example.com/ws' (environment) has a host"
        " name that cannot be valid (an empty label: a dot at its start, or two in a row):"
        " fix it",
        HARNESS_USAGE,
        env=_staging("wss://staging..example.com/ws"),
        pyproject=AGENT_EVENTS,
    ),
    Case(
        "staging URL with a newline",
        "probe",
        "error: STAGING_WEBSOCKET_URL='ws://127.0.0.1:1/ws\\nX-Injected: yes' (environment)"
        " contains the control character '\\n' (at position 19): remove it",
        HARNESS_USAGE,
        env=_staging("ws://127.0.0.1:1/ws\nX-Injected: yes"),
        pyproject=AGENT_EVENTS,
    ),
    Case(
        "staging URL with a control character",
        "pytest",
        "ERROR: STAGING_WEBSOCKET_URL='ws://127.0.0.1:1/\\x1bws' (environment) contains the"
        " control character '\\x1b' (at position 17): remove it",
        PYTEST_USAGE,
        args=("--mc-mode", "staging_fallback"),
        env=_staging("ws://127.0.0.1:1/\x1bws"),
        pyproject=AGENT_EVENTS,
    ),
    _unavailable(
        "staging host name with a character DNS does not resolve",
        "staging_fallback",
        "dns failed after <n> ms: cannot resolve 'mc-catalogue$host.invalid':"
        " Name or service not known",
        broken=True,
        env=_staging("wss://mc-catalogue$host.invalid/ws"),
        pyproject=AGENT_EVENTS,
    ),
    Case(
        "gate's report folder that cannot be created",
        "gate",
        "error: --reports='/proc/nope' (option): cannot create the report folder '/proc/nope'"
        " (No such file or directory): choose a writable folder",
        HARNESS_USAGE,
        args=("out", "--reports", "/proc/nope"),
        files={"out/minimal/ledger.json": PASSING_LEDGER},
    ),
    Case(
        "gate's report folder that is a file",
        "gate",
        "error: --reports='out/minimal/ledger.json' (option): cannot create the report folder"
        " 'out/minimal/ledger.json' (it is a file): choose a writable folder",
        HARNESS_USAGE,
        args=("out", "--reports", "out/minimal/ledger.json"),
        files={"out/minimal/ledger.json": PASSING_LEDGER},
    ),
    Case(
        "gate's report folder holding a file where a mode's folder goes",
        "gate",
        "error: --reports='html' (option): cannot create the report folder 'html/minimal'"
        " (it is a file): choose a writable folder",
        HARNESS_USAGE,
        args=("out", "--reports", "html"),
        files={"out/minimal/ledger.json": PASSING_LEDGER, "html/minimal": ""},
    ),
    # -- the baseline -------------------------------------------------------------------------
    Case(
        "bad boolean in MC_ALLOW_SUBSET",
        "probe",
        "error: MC_ALLOW_SUBSET='sometimes' (environment) is not a boolean: use true or false",
        HARNESS_USAGE,
        env={"MC_ALLOW_SUBSET": "sometimes"},
    ),
    Case(
        "gate with a configured baseline that does not exist",
        "gate",
        "error: the baseline BASELINE does not exist: write it with"
        " `python -m test_framework baseline` and commit it",
        HARNESS_USAGE,
        args=("out",),
        pyproject=WITH_BASELINE,
        files={"out/minimal/ledger.json": "{}"},
    ),
    Case(
        "gate with an empty baseline",
        "gate",
        "error: the baseline BASELINE lists no test: a baseline with no test guards nothing;"
        " write it with `python -m test_framework baseline`",
        HARNESS_USAGE,
        args=("out",),
        pyproject=WITH_BASELINE,
        files={"BASELINE": "# comments and blank lines only\r\n\r\n   \n", "out/x": ""},
    ),
    Case(
        "baseline command with no baseline configured",
        "baseline",
        'error: no baseline is configured: add baseline = "tests/mission_critical/BASELINE"'
        " (the path you want) to [tool.test_framework] in pyproject.toml",
        HARNESS_USAGE,
    ),
    Case(
        "baseline command with a suite folder that does not exist",
        "baseline",
        "error: the suite tests/mission_critical (suite in [tool.test_framework]) does not exist"
        " in <project>: give the folder of the mission-critical tests",
        HARNESS_USAGE,
        pyproject=WITH_BASELINE,
    ),
    Case(
        "baseline command with a suite that fails to collect",
        "baseline",
        "error: collecting . failed in 1 module (test_broken.py: ModuleNotFoundError: No module"
        " named 'not_installed_anywhere'): fix it, or run this where the suite's dependencies"
        " are installed; a baseline without those tests would drop them",
        HARNESS_USAGE,
        pyproject=WITH_BASELINE + 'suite = "."\n',
        files={"test_broken.py": "import not_installed_anywhere\n"},
    ),
    Case(
        "baseline command with a suite without a mission-critical test",
        "baseline",
        "error: pytest collected no test marked mission_critical in .: a baseline with no test"
        " guards nothing; mark the suite's tests @pytest.mark.mission_critical",
        HARNESS_USAGE,
        pyproject=WITH_BASELINE + 'suite = "."\n',
    ),
)


# -- running a case ------------------------------------------------------------------------


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def backend(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Endpoints]:
    """The real agent_backend, in-process on plain ws://127.0.0.1:<port>."""
    run = run_context(
        tmp_path_factory.mktemp("shared"),
        "catalogue",
        test_password=PASSWORD,
        jwt_secret=JWT_SECRET,
    )
    with serving_in_process(ROOT, run) as endpoints:
        yield endpoints


@pytest.fixture(scope="module")
def wrong_name_tls(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[FakeStaging, Path]]:
    """A TLS server whose certificate names another host, and the CA that signed it."""
    ca = trustme.CA()
    bundle = tmp_path_factory.mktemp("ca") / "ca.pem"
    ca.cert_pem.write_to_path(str(bundle))
    with FakeStaging(Behaviour(), ca.issue_cert("other.example")) as fake:
        yield fake, bundle


@pytest.fixture(scope="module")
def fake_docker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A fake daemon with the default base image, as ``DOCKER_HOST``."""
    socket_path = tmp_path_factory.mktemp("docker") / "docker.sock"
    with fake_daemon_unix(socket_path, DaemonScript(images={DEFAULT_BASE_IMAGE})):
        yield f"unix://{socket_path}"


@pytest.fixture(scope="module")
def values(
    backend: Endpoints, wrong_name_tls: tuple[FakeStaging, Path], fake_docker: str
) -> dict[str, str]:
    fake, bundle = wrong_name_tls
    now = int(time.time())
    expired = jwt.encode(
        {"sub": "catalogue", "iat": now - 7200, "exp": now - 3600}, JWT_SECRET, algorithm="HS256"
    )
    return {
        "ws_url": backend.ws_url,
        "tls_ws_url": fake.ws_url,
        "ca": str(bundle),
        "expired_token": expired,
        "closed_port": str(closed_port()),
        "fake_docker_host": fake_docker,
    }


def command(case: Case, project: Path) -> list[str]:
    if case.entry in ("pytest", "plain pytest"):
        return [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", *case.args]
    return [sys.executable, "-m", "test_framework", case.entry, *case.args]


def normalise(text: str, project: Path, ports: list[str], ca: str) -> str:
    text = text.replace(str(project), "<project>").replace(ca, "<ca>")
    for port in ports:
        text = re.sub(rf"(?<=:){port}\b", "<port>", text)
    return re.sub(r"\b\d+(\.\d+)? ms\b", "<n> ms", text)


def run_case(
    case: Case, project: Path, values: Mapping[str, str]
) -> subprocess.CompletedProcess[str]:
    subst = {**values, "project": str(project)}
    project.mkdir(parents=True, exist_ok=True)
    (project / "pyproject.toml").write_text(case.pyproject, "utf-8")
    (project / "pytest.ini").write_text("[pytest]\nasyncio_default_fixture_loop_scope = function\n")
    (project / "test_catalogue.py").write_text(TEST_FILE, "utf-8")
    for name, text in case.files.items():
        (project / name).parent.mkdir(parents=True, exist_ok=True)
        (project / name).write_text(text, "utf-8")
    env = isolated_environment({k: v.format(**subst) for k, v in case.env.items()})
    args = dataclasses.replace(case, args=tuple(a.format(**subst) for a in case.args))
    return run_captured(command(args, project), cwd=project, env=env, timeout=RUN_TIMEOUT_S)


@pytest.mark.parametrize("case", CASES, ids=[c.name.replace(" ", "-") for c in CASES])
def test_bad_configuration_gets_one_actionable_line_and_the_documented_status(
    case: Case, tmp_path: Path, values: dict[str, str]
) -> None:
    if case.needs_compose:
        try:
            find_compose()
        except HarnessError as exc:
            pytest.skip(f"this case runs Docker Compose v2, which is not installed: {exc}")
    project = tmp_path / "project"
    done = run_case(case, project, values)
    ports = [values["closed_port"], values["ws_url"].split(":")[2].split("/")[0]]
    out = normalise(done.stdout, project, ports, values["ca"])
    err = normalise(done.stderr, project, ports, values["ca"])
    assert "Traceback" not in out + err
    assert "During handling" not in out + err
    assert "Exception in thread" not in out + err
    assert done.returncode == case.status, out + err
    if case.status != TESTS_FAILED:
        # Refused before any verdict: a gate that cannot write its reports passes nothing.
        assert not re.search(r"^gate: (PASSED|FAILED)", out, re.MULTILINE), out
    if case.status == TESTS_FAILED:
        # The deployment could not start: every test errors with the message, pytrace off.
        assert f"\n{case.message}\n" in f"\n{out}", out
        return
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert lines[0] == case.message, f"\nexpected {case.message}\nprinted  {lines[0]}"


# -- docs/errors.md ------------------------------------------------------------------------

BEGIN = "<!-- begin catalogue: generated from tests/resilience/test_error_catalogue.py -->"
END = "<!-- end catalogue -->"
ENTRY_COMMANDS = {
    "probe": "`python -m test_framework probe`",
    "gate": "`python -m test_framework gate`",
    "pytest": "`pytest --mc-mode …`",
    "plain pytest": "`pytest` (no mode)",
    "baseline": "`python -m test_framework baseline`",
}


def render_table() -> str:
    rows = [
        "| # | bad configuration | entry point | exit | message |",
        "| --- | --- | --- | --- | --- |",
    ]
    for number, case in enumerate(CASES, 1):
        message = case.message.replace("|", "\\|")
        rows.append(
            f"| {number} | {case.name} | {ENTRY_COMMANDS[case.entry]} | {case.status}"
            f" | `{message}` |"
        )
    return "\n".join([BEGIN, *rows, END])


def test_docs_errors_md_lists_every_case_with_its_message() -> None:
    text = DOCS.read_text("utf-8")
    start, end = text.index(BEGIN), text.index(END) + len(END)
    assert text[start:end] == render_table(), (
        "docs/errors.md is out of date: run python -m tests.resilience.test_error_catalogue"
    )


def test_the_catalogue_has_at_least_25_distinct_cases() -> None:
    assert len({c.name for c in CASES}) == len(CASES) >= 25


def write_docs() -> None:
    text = DOCS.read_text("utf-8")
    start, end = text.index(BEGIN), text.index(END) + len(END)
    DOCS.write_text(text[:start] + render_table() + text[end:], "utf-8")


if __name__ == "__main__":
    write_docs()

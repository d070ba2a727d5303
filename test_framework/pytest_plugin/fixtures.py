"""The fixtures of mission-critical tests (registered by ``test_framework.pytest_plugin.hooks``).

The session fixtures give the run's decision (``HarnessState``) and its deployment: each
fails, with the fix, when no mode was chosen (``no_mode.MODE_FIXTURES`` names them):

- ``mc_settings``, ``mc_mode``, ``mc_profile``, ``mc_run``, ``mc_credentials``,
  ``mc_transcript_dir``;
- ``mc_endpoints``: the run's shared deployment, started on first use;
- ``mc_control``: a private deployment a ``deployment_control`` test may terminate and restart
  (a ``DeploymentControl``; skipped in modes that give no control).

The others build on them:

- ``mc_user``: a factory of unique, valid user ids;
- ``mc_http``: GET requests to the deployment (``/health``, ``/metrics``, anything);
- ``mc_auth``: tokens from the token endpoint, and its raw answers for negative cases;
- ``mc_connect``: ``await mc_connect(user_id=None, *, token=None, via="header")`` returns a
  connected ``AgentClient`` that has read ``connection_ready``; all are closed at teardown;
- ``mc_connector``: the ``Connector`` behind ``mc_connect`` (handshakes that must be refused);
- ``mc_websocket``: for any protocol, ``await mc_websocket(user_id=None, *, path=None,
  headers=None, authenticate=True)`` returns a ``McWebSocket`` authenticated as the service
  adapter says (``[tool.test_framework.service]``), after its ``ready_message`` if one is set;
  all are closed at teardown;
- ``mc_authenticator``: the credentials ``mc_websocket`` presents, per the adapter's ``auth``.

``mc_connect`` and ``mc_websocket`` are async fixtures declared with ``pytest_asyncio.fixture``,
so they work under pytest-asyncio's strict mode as well as auto mode; they run on the loop of
``asyncio_default_fixture_loop_scope`` (function by default), as tests using them must.

At teardown the test's transcript (all its connections and HTTP requests, redacted) is written
to ``mc_transcript_dir/<nodeid>.json`` and named in the report's ``user_properties``.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import json
import os
import re
import secrets
from collections.abc import AsyncIterator, Awaitable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import NoReturn, Protocol

import pytest
import pytest_asyncio

from test_framework.backends.base import ControllableBackend, RunContext
from test_framework.backends.factory import make_backend
from test_framework.backends.staging import staging_credentials
from test_framework.client.agent import AgentClient, Connector, Via
from test_framework.client.auth import TokenClient
from test_framework.client.authenticator import Authenticator, AuthRequest
from test_framework.client.credentials import DEFAULT_USER_PREFIX, Credentials
from test_framework.client.http_client import HttpClient
from test_framework.client.pacing import Pacer
from test_framework.client.transcript import Transcript
from test_framework.client.websocket import McWebSocket, websocket_url
from test_framework.endpoints import Endpoints
from test_framework.errors import HarnessError
from test_framework.mode_specs import MODE_SPECS
from test_framework.modes import Mode
from test_framework.profiles import Profile
from test_framework.pytest_plugin.no_mode import NOT_ACTIVE
from test_framework.pytest_plugin.state import STATE, HarnessState
from test_framework.settings import Settings

USER_ID_PATTERN = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")
# Per process: with the worker id and a counter, user ids never repeat across workers or runs.
_PROCESS_NONCE = secrets.token_hex(3)
_USER_COUNTER = itertools.count(1)


class UserFactory:
    """``mc_user()`` -> a fresh id such as ``mc.gw0.a1b2c3.u7``; ``mc_user("bob")`` labels it."""

    def __init__(self, prefix: str) -> None:
        worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
        self.base = _UNSAFE.sub("-", f"{prefix}.{worker}.{_PROCESS_NONCE}").strip(".-")[:40]

    def __call__(self, label: str = "u") -> str:
        tail = _UNSAFE.sub("-", label)[:12] or "u"
        user_id = f"{self.base}.{tail}{next(_USER_COUNTER)}"
        assert USER_ID_PATTERN.match(user_id), user_id
        return user_id


class ConnectFactory(Protocol):
    def __call__(
        self,
        user_id: str | None = None,
        *,
        token: str | None = None,
        via: Via = "header",
        endpoints: Endpoints | None = None,
    ) -> Awaitable[AgentClient]: ...


class WebSocketFactory(Protocol):
    def __call__(
        self,
        user_id: str | None = None,
        *,
        path: str | None = None,
        headers: Mapping[str, str] | None = None,
        authenticate: bool = True,
    ) -> Awaitable[McWebSocket]: ...


@dataclass
class Recording:
    """What one test saw: its transcript and the connectors and HTTP clients that wrote to it."""

    transcript: Transcript = field(default_factory=Transcript)
    connectors: list[Connector] = field(default_factory=list)
    http_clients: list[HttpClient] = field(default_factory=list)

    @property
    def retries(self) -> int:
        """Connections and HTTP requests that failed and were tried again."""
        return sum(c.retries for c in self.connectors) + sum(h.retries for h in self.http_clients)


def transcript_name(nodeid: str) -> str:
    """A file name for ``nodeid``: readable, safe, unique (a digest keeps long ids apart)."""
    readable = _UNSAFE.sub("_", nodeid).strip("_")
    if readable != nodeid or len(readable) > 150:
        # Sanitizing can map two ids to one name ("(1 + 2) * 3" and "1 + 2 * 3").
        digest = hashlib.sha256(nodeid.encode()).hexdigest()[:10]
        readable = f"{readable[:139]}-{digest}"
    return f"{readable}.json"


def _skip(reason: str) -> NoReturn:
    pytest.skip(reason)


# The fixtures that read the run's decision (no_mode.MODE_FIXTURES) -------------------------


def _active(request: pytest.FixtureRequest) -> HarnessState:
    state = request.config.stash.get(STATE, None)
    if state is None:
        pytest.fail(NOT_ACTIVE, pytrace=False)
    return state


@pytest.fixture(scope="session")
def mc_settings(request: pytest.FixtureRequest) -> Settings:
    return _active(request).settings


@pytest.fixture(scope="session")
def mc_mode(request: pytest.FixtureRequest) -> Mode:
    return _active(request).mode


@pytest.fixture(scope="session")
def mc_profile(request: pytest.FixtureRequest) -> Profile:
    return _active(request).profile


@pytest.fixture(scope="session")
def mc_run(request: pytest.FixtureRequest) -> RunContext:
    return _active(request).run


@pytest.fixture(scope="session")
def mc_credentials(request: pytest.FixtureRequest) -> Credentials:
    state = _active(request)
    if state.mode is Mode.STAGING_FALLBACK:
        return staging_credentials(state.settings)
    return Credentials(
        user_prefix=DEFAULT_USER_PREFIX,
        password=state.run.test_password,
        token=state.run.test_token,
    )


@pytest.fixture(scope="session")
def mc_transcript_dir(request: pytest.FixtureRequest) -> Path:
    path = _active(request).mode_dir / "transcripts"
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(scope="session")
def mc_endpoints(request: pytest.FixtureRequest) -> Endpoints:
    """The shared deployment of this run, started on first use and stopped at session end."""
    state = _active(request)
    if state.endpoints is None:
        if state.backend is None:
            state.backend = make_backend(state.mode, state.settings, state.run)
        # Capture off while starting: a docker build and start-up show progress, not silence.
        capture = request.config.pluginmanager.getplugin("capturemanager")
        failure: str | None = None
        try:
            with capture.global_and_fixture_disabled() if capture else contextlib.nullcontext():
                state.endpoints = state.backend.start()
        except HarnessError as exc:
            failure = str(exc)
        if failure is not None or state.endpoints is None:
            # Outside the except block: otherwise pytest prints the message twice, chained.
            pytest.fail(failure or "the backend started without endpoints", pytrace=False)
        os.environ["TEST_WEBSOCKET_URL"] = state.endpoints.ws_url
        record = state.run.shared_dir / f"endpoints-{state.run.worker_id}.json"
        record.write_text(json.dumps(state.endpoints.to_json()), "utf-8")
    return state.endpoints


@dataclass
class DeploymentControl:
    """A private deployment a ``deployment_control`` test may terminate and restart."""

    backend: ControllableBackend
    endpoints: Endpoints

    def terminate(self) -> None:
        self.backend.terminate()

    def restart(self) -> Endpoints:
        self.endpoints = self.backend.restart()
        return self.endpoints


@pytest.fixture
def mc_control(request: pytest.FixtureRequest) -> Iterator[DeploymentControl]:
    state = _active(request)
    if not MODE_SPECS[state.mode].controllable:
        pytest.skip(f"{state.mode} gives no control of the deployment")
    state.control_count += 1
    private = replace(
        state.run,
        run_id=f"{state.run.run_id}c{state.run.worker_id}{state.control_count}".lower(),
        shared_dir=state.run.shared_dir / f"control-{state.run.worker_id}-{state.control_count}",
        worker_count=1,
    )
    private.shared_dir.mkdir(parents=True, exist_ok=True)
    backend = make_backend(state.mode, state.settings, private)
    if not isinstance(backend, ControllableBackend):
        pytest.skip(f"the {state.mode} backend offers no control of its deployment")
    try:
        endpoints = backend.start()
    except HarnessError as exc:
        backend.stop()
        pytest.fail(str(exc), pytrace=False)
    try:
        yield DeploymentControl(backend, endpoints)
    finally:
        backend.stop()


# The fixtures built on them ---------------------------------------------------------------


@pytest.fixture(scope="session")
def mc_pacer(mc_profile: Profile, mc_run: RunContext) -> Pacer:
    """The profile's pacing, shared by all workers of the run through the run's folder."""
    return Pacer(mc_profile.pacing, mc_run.shared_dir)


@pytest.fixture
def mc_record(request: pytest.FixtureRequest, mc_transcript_dir: Path) -> Iterator[Recording]:
    record = Recording()
    yield record
    # Fixtures that write to the record are torn down before this one, so it is complete.
    if len(record.transcript):
        name = transcript_name(request.node.nodeid)
        record.transcript.write(mc_transcript_dir / name)
        request.node.user_properties.append(("mc_transcript", name))
    request.node.user_properties.append(("mc_connection_retries", record.retries))


@pytest.fixture
def mc_user(mc_credentials: Credentials) -> UserFactory:
    return UserFactory(mc_credentials.user_prefix)


@pytest.fixture
def mc_http(mc_endpoints: Endpoints, mc_profile: Profile, mc_record: Recording) -> HttpClient:
    client = HttpClient(mc_endpoints, mc_profile, mc_record.transcript)
    mc_record.http_clients.append(client)
    return client


@pytest.fixture
def mc_auth(mc_http: HttpClient, mc_credentials: Credentials) -> TokenClient:
    """Tokens for made-up users; tests that need them skip when only a ready token exists."""
    return TokenClient(mc_http, mc_credentials, on_cannot_mint=_skip)


@pytest.fixture
def mc_connector(
    mc_endpoints: Endpoints, mc_profile: Profile, mc_pacer: Pacer, mc_record: Recording
) -> Connector:
    connector = Connector(mc_endpoints, mc_profile, mc_pacer, mc_record.transcript)
    mc_record.connectors.append(connector)
    return connector


@pytest_asyncio.fixture
async def mc_connect(
    mc_connector: Connector,
    mc_auth: TokenClient,
    mc_user: UserFactory,
    mc_credentials: Credentials,
    mc_profile: Profile,
    mc_pacer: Pacer,
    mc_record: Recording,
) -> AsyncIterator[ConnectFactory]:
    """An async factory of connected clients; each has read ``connection_ready``.

    Without ``user_id`` or ``token`` the client is a fresh user (or, with only a ready token
    configured, that token's user). ``endpoints`` connects to another deployment (the private
    one of ``mc_control``) with the same profile, pacing and transcript.
    """
    connectors: dict[str, Connector] = {mc_connector.endpoints.ws_url: mc_connector}

    async def connect(
        user_id: str | None = None,
        *,
        token: str | None = None,
        via: Via = "header",
        endpoints: Endpoints | None = None,
    ) -> AgentClient:
        connector = mc_connector
        auth = mc_auth
        if endpoints is not None and endpoints.ws_url != mc_connector.endpoints.ws_url:
            if endpoints.ws_url not in connectors:
                connectors[endpoints.ws_url] = Connector(
                    endpoints, mc_profile, mc_pacer, mc_record.transcript
                )
                mc_record.connectors.append(connectors[endpoints.ws_url])
            connector = connectors[endpoints.ws_url]
            http = HttpClient(endpoints, mc_profile, mc_record.transcript)
            auth = TokenClient(http, mc_credentials, on_cannot_mint=_skip)
        if token is None:
            if user_id is None and not auth.can_mint and mc_credentials.token is not None:
                token = mc_credentials.token
            else:
                token = await auth.token(user_id or mc_user())
        return await connector.connect(token, via=via)

    try:
        yield connect
    finally:
        for connector in connectors.values():
            await connector.close_all()


@pytest.fixture
def mc_authenticator(
    mc_settings: Settings,
    mc_credentials: Credentials,
    mc_endpoints: Endpoints,
    mc_auth: TokenClient,
    mc_user: UserFactory,
) -> Authenticator:
    return Authenticator(mc_settings.service, mc_credentials, mc_endpoints, mc_auth, mc_user)


@pytest_asyncio.fixture
async def mc_websocket(
    mc_settings: Settings,
    mc_connector: Connector,
    mc_authenticator: Authenticator,
) -> AsyncIterator[WebSocketFactory]:
    """An async factory of open ``McWebSocket`` connections, for a service of any protocol.

    ``path`` replaces the WebSocket URL's path; ``headers`` are added to the handshake (and win
    over the adapter's); ``authenticate=False`` sends no credentials (for refusals, which raise
    ``HandshakeRefused`` with the status).
    """
    opened: list[McWebSocket] = []

    async def open_websocket(
        user_id: str | None = None,
        *,
        path: str | None = None,
        headers: Mapping[str, str] | None = None,
        authenticate: bool = True,
    ) -> McWebSocket:
        request = await mc_authenticator.request(user_id) if authenticate else AuthRequest()
        url = websocket_url(mc_connector.endpoints.ws_url, path, request.query)
        socket = await McWebSocket.open(
            mc_connector,
            url,
            {**request.headers, **(headers or {})},
            ready_message=mc_settings.service.ready_message,
        )
        opened.append(socket)
        return socket

    try:
        yield open_websocket
    finally:
        for socket in opened:
            await socket.close()

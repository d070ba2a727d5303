"""McWebSocket and the Authenticator against a real service that does not speak
docs/protocol.md (tests/support/echo_service.py): static bearer token, no ready message."""

from __future__ import annotations

import dataclasses
import json
import socket
from collections.abc import AsyncIterator

import pytest

from test_framework.client.agent import Connector, HandshakeRefused
from test_framework.client.auth import TokenClient
from test_framework.client.authenticator import Authenticator, AuthRequest
from test_framework.client.availability import Availability
from test_framework.client.credentials import Credentials
from test_framework.client.http_client import HttpClient
from test_framework.client.pacing import Pacer
from test_framework.client.transcript import Transcript
from test_framework.client.websocket import McWebSocket, websocket_url
from test_framework.endpoints import Endpoints
from test_framework.errors import ConfigError, ConnectionLostError
from test_framework.mode_specs import DEFAULT_PROFILES
from test_framework.modes import Mode
from test_framework.profiles import Profile, RetryPolicy, Timeouts
from test_framework.service import ServiceSettings
from tests.support.echo_service import EchoService, serve_echo

TOKEN = "echo-static-token-4411"
PROFILE: Profile = dataclasses.replace(
    DEFAULT_PROFILES[Mode.MINIMAL],
    timeouts=Timeouts(connect_s=1.0, message_s=0.5),
    retry=RetryPolicy(attempts=3, delay_s=0.05, backoff=2.0),
)


def endpoints_for(port: int) -> Endpoints:
    base = f"http://127.0.0.1:{port}"
    return Endpoints(ws_url=f"ws://127.0.0.1:{port}/ws", http_url=base, auth_url=base + "/auth")


def connector_for(port: int) -> Connector:
    return Connector(
        endpoints_for(port),
        PROFILE,
        Pacer(PROFILE.pacing),
        Transcript(),
        availability=Availability(),
    )


def authenticator(service: ServiceSettings, connector: Connector) -> Authenticator:
    credentials = Credentials(user_prefix="mc", password=None, token=TOKEN)
    http = HttpClient(connector.endpoints, PROFILE, connector.transcript)
    return Authenticator(
        service, credentials, connector.endpoints, TokenClient(http, credentials), lambda: "u1"
    )


async def open_socket(
    connector: Connector, service: ServiceSettings, *, path: str | None = None
) -> McWebSocket:
    request = await authenticator(service, connector).request()
    url = websocket_url(connector.endpoints.ws_url, path, request.query)
    return await McWebSocket.open(
        connector, url, request.headers, ready_message=service.ready_message
    )


@pytest.fixture
async def echo() -> AsyncIterator[EchoService]:
    service = await serve_echo(token=TOKEN)
    yield service
    await service.close()


@pytest.fixture
async def echo_with_ready() -> AsyncIterator[EchoService]:
    service = await serve_echo(token=TOKEN, ready="hello")
    yield service
    await service.close()


async def test_a_bearer_token_in_the_header_opens_the_socket_and_messages_echo(
    echo: EchoService,
) -> None:
    connector = connector_for(echo.port)
    ws = await open_socket(connector, ServiceSettings(auth="bearer"))
    await ws.send_json({"type": "anything", "n": 1})
    assert await ws.recv_json() == {"type": "anything", "n": 1}
    await ws.send(b"\x00\x01")
    assert await ws.recv() == b"\x00\x01"
    assert ws.ready is None
    await ws.close()


async def test_a_bearer_token_in_the_query_opens_the_socket(echo: EchoService) -> None:
    connector = connector_for(echo.port)
    ws = await open_socket(connector, ServiceSettings(auth="bearer", token_via="query"))
    assert "token=" in ws.connection.request.path  # type: ignore[union-attr]
    await ws.send("hi")
    assert await ws.recv() == "hi"
    await ws.close()


async def test_no_credentials_are_refused_with_the_status(echo: EchoService) -> None:
    connector = connector_for(echo.port)
    with pytest.raises(HandshakeRefused) as refused:
        await open_socket(connector, ServiceSettings(auth="none"))
    assert refused.value.status == 401
    # A refusal is an answer: not retried.
    assert connector.retries == 0


async def test_a_wrong_token_is_refused(echo: EchoService) -> None:
    connector = connector_for(echo.port)
    with pytest.raises(HandshakeRefused) as refused:
        await McWebSocket.open(
            connector, connector.endpoints.ws_url, {"Authorization": "Bearer not-the-token-1"}
        )
    assert refused.value.status == 401


async def test_the_ready_message_is_read_when_the_adapter_names_one(
    echo_with_ready: EchoService,
) -> None:
    connector = connector_for(echo_with_ready.port)
    ws = await open_socket(connector, ServiceSettings(auth="bearer", ready_message="hello"))
    assert ws.ready == {"type": "hello", "service": "echo"}
    await ws.send("after ready")
    assert await ws.recv() == "after ready"
    await ws.close()


async def test_a_missing_ready_message_fails_naming_what_it_waited_for(
    echo_with_ready: EchoService,
) -> None:
    connector = connector_for(echo_with_ready.port)
    service = ServiceSettings(auth="bearer", ready_message="hello")
    with pytest.raises(AssertionError) as caught:
        await open_socket(connector, service, path="/quiet")
    assert str(caught.value) == (
        "ws1: no 'hello' message after the upgrade (ready_message) within 0.5 s"
        " (the minimal profile's message timeout)"
    )


async def test_without_a_ready_message_the_first_message_is_the_tests(
    echo_with_ready: EchoService,
) -> None:
    connector = connector_for(echo_with_ready.port)
    ws = await open_socket(connector, ServiceSettings(auth="bearer"))
    assert ws.ready is None
    assert json.loads(await ws.recv()) == {"type": "hello", "service": "echo"}
    await ws.close()


async def test_a_recv_that_gets_nothing_says_what_it_waited_for(echo: EchoService) -> None:
    ws = await open_socket(connector_for(echo.port), ServiceSettings(auth="bearer"))
    with pytest.raises(AssertionError, match=r"^ws1: no echo within 0.2 s \(given\)$"):
        await ws.recv(0.2, what="echo")
    await ws.close()


async def test_every_frame_is_transcribed_and_the_token_never_is(echo: EchoService) -> None:
    connector = connector_for(echo.port)
    ws = await open_socket(connector, ServiceSettings(auth="bearer", token_via="query"))
    await ws.send("ping me")
    await ws.recv()
    await ws.close()
    text = json.dumps(connector.transcript.entries())
    assert TOKEN not in text
    kinds = [(e["dir"], e["kind"]) for e in connector.transcript.entries()]
    assert kinds == [
        ("note", "open"),
        ("note", "opened"),
        ("out", "text"),
        ("in", "text"),
        ("out", "close"),
    ]
    assert "token=***" in text


async def test_a_closed_port_is_retried_by_the_profile_then_lost() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    connector = connector_for(port)
    with pytest.raises(ConnectionLostError, match="in 3 attempt"):
        await McWebSocket.open(connector, connector.endpoints.ws_url, {})
    assert connector.attempts == 3
    assert connector.retries == 2


async def test_a_connection_the_service_drops_is_lost_not_a_failed_assertion(
    echo: EchoService,
) -> None:
    ws = await open_socket(connector_for(echo.port), ServiceSettings(auth="bearer"))
    await echo.close()
    with pytest.raises(ConnectionLostError, match=r"connection closed .* while waiting for"):
        await ws.recv()
    await ws.close()


async def test_an_auth_function_supplies_headers_and_query(echo: EchoService) -> None:
    functions = "tests.support.auth_functions"
    connector = connector_for(echo.port)
    ws = await open_socket(connector, ServiceSettings(auth=f"{functions}:token_and_user_query"))
    assert "user=u1" in ws.connection.request.path  # type: ignore[union-attr]
    await ws.close()
    wrong = ServiceSettings(auth=f"{functions}:a_dict_not_a_request")
    with pytest.raises(ConfigError, match="returned dict, not an AuthRequest"):
        await authenticator(wrong, connector).request()


def test_an_auth_request_is_empty_by_default() -> None:
    assert AuthRequest() == AuthRequest(headers={}, query={})


def test_the_websocket_url_takes_a_path_and_adds_the_query() -> None:
    base = "wss://h:8443/ws?tenant=a"
    assert websocket_url(base, None, {}) == base
    assert websocket_url(base, "/other", {"token": "t"}) == "wss://h:8443/other?tenant=a&token=t"

"""The harness's WebSocket test client: retries, fast failure, refusals, bounded waits, redaction.

Real sockets throughout: the reference backend in-process, a closed port, and a blackhole (a
loopback listener that accepts and never answers).
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import socket
import time
from collections.abc import AsyncIterator, Iterator

import pytest

from agent_backend.testing import RunningServer, start_in_process
from test_framework.client.agent import Connector
from test_framework.client.auth import TokenClient
from test_framework.client.availability import Availability
from test_framework.client.credentials import Credentials
from test_framework.client.http_client import HttpClient
from test_framework.client.pacing import Pacer
from test_framework.client.transcript import Transcript
from test_framework.endpoints import Endpoints
from test_framework.errors import ConnectionLostError
from test_framework.mode_specs import DEFAULT_PROFILES
from test_framework.modes import Mode
from test_framework.profiles import Profile, RetryPolicy, Timeouts

PASSWORD = "client-test-password"


def quick_profile(**changes: object) -> Profile:
    profile = dataclasses.replace(
        DEFAULT_PROFILES[Mode.MINIMAL],
        timeouts=Timeouts(connect_s=0.5, message_s=2.0),
        retry=RetryPolicy(attempts=3, delay_s=0.05, backoff=2.0),
    )
    return dataclasses.replace(profile, **changes)


def endpoints_for(port: int) -> Endpoints:
    base = f"http://127.0.0.1:{port}"
    return Endpoints(ws_url=f"ws://127.0.0.1:{port}/ws", http_url=base, auth_url=base + "/auth")


def connector(endpoints: Endpoints, profile: Profile, availability: Availability) -> Connector:
    return Connector(
        endpoints, profile, Pacer(profile.pacing), Transcript(), availability=availability
    )


@pytest.fixture
def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def blackhole() -> Iterator[int]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(16)
        yield int(sock.getsockname()[1])


@pytest.fixture
async def server() -> AsyncIterator[RunningServer]:
    running = await start_in_process(test_password=PASSWORD)
    yield running
    await running.close()


async def token_for(server: RunningServer, user: str) -> str:
    endpoints = endpoints_for(server.port)
    http = HttpClient(endpoints, quick_profile(), availability=Availability())
    return await TokenClient(http, Credentials("t", password=PASSWORD)).token(user)


async def test_a_closed_port_fails_after_every_retry_with_backoff(closed_port):
    profile = quick_profile()
    opener = connector(endpoints_for(closed_port), profile, Availability())
    started = time.monotonic()
    with pytest.raises(ConnectionLostError, match="in 3 attempt"):
        await opener.connect("token")
    assert opener.attempts == 3
    assert opener.retries == 2
    assert time.monotonic() - started >= sum(profile.retry.delays())


async def test_later_connections_to_a_dead_deployment_fail_fast_saying_since_when(closed_port):
    availability = Availability()
    profile = quick_profile(retry=RetryPolicy(attempts=2, delay_s=0.3))
    with pytest.raises(ConnectionLostError):
        await connector(endpoints_for(closed_port), profile, availability).connect("token")
    later = connector(endpoints_for(closed_port), profile, availability)
    started = time.monotonic()
    with pytest.raises(ConnectionLostError, match=r"backend unavailable since \d\d:\d\d:\d\d: "):
        await later.connect("token")
    assert later.attempts == 0
    assert time.monotonic() - started < 0.3  # less than one retry delay


async def test_a_blackhole_times_out_with_the_connect_timeout(blackhole):
    profile = quick_profile(
        timeouts=Timeouts(connect_s=0.3, message_s=1.0), retry=RetryPolicy(1, 0.1)
    )
    started = time.monotonic()
    with pytest.raises(ConnectionLostError, match="TimeoutError"):
        await connector(endpoints_for(blackhole), profile, Availability()).connect("token")
    assert 0.3 <= time.monotonic() - started < 5


async def test_a_401_refusal_is_an_answer_and_is_not_retried(server):
    opener = connector(endpoints_for(server.port), quick_profile(), Availability())
    assert await opener.connect_expecting_refusal("not-a-token") == 401
    assert opener.attempts == 1
    assert opener.retries == 0


async def test_an_accepted_handshake_fails_a_test_that_expected_a_refusal(server):
    opener = connector(endpoints_for(server.port), quick_profile(), Availability())
    token = await token_for(server, "accepted-user")
    with pytest.raises(AssertionError, match="was accepted"):
        await opener.connect_expecting_refusal(token)


async def test_a_wait_that_times_out_says_what_it_waited_for(server):
    profile = quick_profile(timeouts=Timeouts(connect_s=1.0, message_s=0.2))
    opener = connector(endpoints_for(server.port), profile, Availability())
    client = await opener.connect(await token_for(server, "waiting-user"))
    with pytest.raises(TimeoutError, match=r"after 0.2 s waiting for a message \(pong or error\)"):
        await client.recv()
    await opener.close_all()


async def test_a_connection_the_server_drops_raises_connection_lost(server):
    opener = connector(endpoints_for(server.port), quick_profile(), Availability())
    client = await opener.connect(await token_for(server, "dropped-user"))
    waiting = asyncio.ensure_future(client.recv())
    await asyncio.sleep(0.05)
    await server.close()
    with pytest.raises(ConnectionLostError, match="code 1001"):
        await waiting


async def test_the_transcript_records_frames_without_the_token(server):
    transcript = Transcript()
    profile = quick_profile()
    opener = Connector(
        endpoints_for(server.port),
        profile,
        Pacer(profile.pacing),
        transcript,
        availability=Availability(),
    )
    token = await token_for(server, "recorded-user")
    client = await opener.connect(token, via="query")
    result = await client.run("calc 1 + 1")
    await opener.close_all()
    text = json.dumps(transcript.entries())
    assert token not in text
    kinds = [(e["dir"], e["kind"]) for e in transcript.entries()]
    assert ("out", "text") in kinds
    assert ("out", "close") in kinds
    incoming = [e["data"] for e in transcript.entries() if e["dir"] == "in"]
    assert [m["type"] for m in incoming if m.get("run_id") == result.run_id] == result.types


async def test_after_the_cooldown_one_connection_tries_a_dead_deployment_again(closed_port):
    availability = Availability(cooldown_s=0.2)
    profile = quick_profile(retry=RetryPolicy(attempts=1, delay_s=0.1))
    with pytest.raises(ConnectionLostError, match="in 1 attempt"):
        await connector(endpoints_for(closed_port), profile, availability).connect("token")
    with pytest.raises(ConnectionLostError, match="backend unavailable since"):
        await connector(endpoints_for(closed_port), profile, availability).connect("token")
    await asyncio.sleep(0.25)
    again = connector(endpoints_for(closed_port), profile, availability)
    with pytest.raises(ConnectionLostError, match="in 1 attempt"):
        await again.connect("token")
    assert again.attempts == 1


async def test_a_deployment_that_is_back_is_reachable_after_the_cooldown(server):
    availability = Availability(cooldown_s=0.1)
    endpoints = endpoints_for(server.port)
    availability.mark_down(endpoints.ws_url, "pretend it was down")
    token = await token_for(server, "back-user")
    await asyncio.sleep(0.15)
    opener = connector(endpoints, quick_profile(), availability)
    client = await opener.connect(token)
    assert client.ready["type"] == "connection_ready"
    availability.check(endpoints.ws_url)  # cleared: no outage left
    await opener.close_all()

"""Hostile input gets the documented answer, and the server keeps serving afterwards."""

from __future__ import annotations

import asyncio
import json
import time

import jwt
import pytest
from backend_helpers import (
    PASSWORD,
    SECRET,
    TIMEOUT_S,
    Client,
    completed,
    parse_http_response,
    token_for,
    unsigned_token,
)
from websockets.asyncio.client import connect
from websockets.client import ClientProtocol
from websockets.exceptions import InvalidStatus
from websockets.frames import Close, Frame, Opcode
from websockets.http11 import Response
from websockets.uri import parse_uri

from agent_backend.config import Environment, ServerConfig
from agent_backend.server import AgentServer
from agent_backend.testing import RunningServer, start_in_process

FORGED_SECRET = "an-attackers-secret-that-is-32-bytes-long"


async def still_serving(server: RunningServer) -> None:
    client = await Client.open(server, "after-attack")
    assert completed(await client.run("calc 20+22"))["answer"] == "20+22 = 42"
    await client.close()


async def closed_with(client: Client) -> int | None:
    await client.rest_until_closed()
    return client.ws.close_code


# -- frames ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "frame",
    [
        "",
        "{",
        "not json at all",
        "[1,2,3]",
        '"a string"',
        "17",
        "null",
        "{'single': 'quotes'}",
        "[" * 50_000,
    ],
)
async def test_frames_that_are_not_json_objects_get_invalid_json(
    server: RunningServer, frame: str
) -> None:
    client = await Client.open(server)
    await client.ws.send(frame)
    error = await client.recv()
    assert (error["type"], error["code"], error["ref"]) == ("error", "invalid_json", None)
    await client.ping()  # the connection stays open
    await client.close()
    await still_serving(server)


@pytest.mark.parametrize(
    "message",
    [
        {"type": "user_message", "thread_id": 12, "content": "hi", "client_msg_id": "m"},
        {"type": "user_message", "thread_id": "t", "content": None, "client_msg_id": "m"},
        {"type": "user_message", "thread_id": "t" * 65, "content": "hi", "client_msg_id": "m"},
        {"type": "user_message", "thread_id": "t", "content": "x" * 8001, "client_msg_id": "m"},
        {"type": "user_message", "thread_id": "t", "content": "", "client_msg_id": "m"},
    ],
)
async def test_user_messages_with_bad_fields_get_invalid_message_with_ref(
    client: Client, message: dict[str, object]
) -> None:
    await client.send(message)
    error = await client.recv()
    assert (error["type"], error["code"], error["ref"]) == ("error", "invalid_message", "m")
    await client.ping()
    assert client.backlog == []  # no run was started


@pytest.mark.parametrize(
    "message",
    [
        {"type": "cancel", "run_id": ["r"]},
        {"type": "resume", "run_id": "r"},
        {"type": "resume", "run_id": "r", "after_seq": -1},
        {"type": "resume", "run_id": "r", "after_seq": "0"},
        {"type": "resume", "run_id": "r", "after_seq": False},
        {"type": "resume", "run_id": "r", "after_seq": 1e3},
    ],
)
async def test_cancel_and_resume_with_bad_fields_get_invalid_message(
    client: Client, message: dict[str, object]
) -> None:
    await client.send(message)
    error = await client.recv()
    assert error["code"] == "invalid_message"


@pytest.mark.parametrize(
    "message",
    [{"type": "shutdown"}, {"no_type": 1}, {"type": 7}, {"type": None}, {"type": {"nested": "x"}}],
)
async def test_unknown_types_get_unknown_type(client: Client, message: dict[str, object]) -> None:
    await client.send(message)
    error = await client.recv()
    assert error["code"] == "unknown_type"


async def test_a_frame_of_exactly_64_kib_is_read(client: Client) -> None:
    frame = json.dumps({"type": "ping", "nonce": ""})
    frame = frame[:-2] + "x" * (64 * 1024 - len(frame)) + '"}'
    assert len(frame.encode()) == 64 * 1024
    await client.ws.send(frame)
    pong = await client.recv()
    assert pong["type"] == "pong"
    assert len(pong["nonce"]) > 65_000


async def test_a_frame_over_64_kib_closes_the_connection_with_1009(server: RunningServer) -> None:
    client = await Client.open(server)
    await client.ws.send("x" * (64 * 1024 + 1))
    assert await closed_with(client) == 1009
    await still_serving(server)


async def test_a_binary_frame_closes_the_connection_with_1003(server: RunningServer) -> None:
    client = await Client.open(server)
    await client.ws.send(b'{"type": "ping"}')
    assert await closed_with(client) == 1003
    await still_serving(server)


async def test_a_run_survives_its_connection_being_closed_for_a_binary_frame(
    server: RunningServer,
) -> None:
    client = await Client.open(server, "alice")
    started = await client.start("sleep 200; calc 1+1")
    await client.ws.send(b"\x00")
    assert await closed_with(client) == 1003
    again = await Client.open(server, "alice")
    await again.send({"type": "resume", "run_id": started["run_id"], "after_seq": 0})
    events = await again.until_completed(started["run_id"])
    assert completed(events)["status"] == "succeeded"
    await again.close()


async def test_invalid_utf8_in_a_text_frame_closes_with_1007(server: RunningServer) -> None:
    client = await Client.open(server)
    # websockets validates what it sends, so write the frame through the sans-I/O layer.
    protocol = client.ws.protocol
    protocol.send_frame(Frame(Opcode.TEXT, b"\xff\xfe"))
    for data in protocol.data_to_send():
        client.ws.transport.write(data)
    assert await closed_with(client) == 1007
    await still_serving(server)


async def test_a_flood_is_rate_limited_and_the_connection_survives(server: RunningServer) -> None:
    client = await Client.open(server)
    for _ in range(400):
        await client.ws.send("garbage")
    replies = [await client.recv() for _ in range(400)]
    codes = {r["code"] for r in replies}
    assert codes == {"invalid_json", "rate_limited"}
    await asyncio.sleep(1.1)
    await client.ping()
    await client.close()
    await still_serving(server)


# -- tokens ----------------------------------------------------------------------------------


def claims(offset_exp: int = 60, sub: object = "alice") -> dict[str, object]:
    now = int(time.time())
    return {"sub": sub, "iat": now, "exp": now + offset_exp}


@pytest.mark.parametrize(
    "token",
    [
        jwt.encode(claims(), FORGED_SECRET, algorithm="HS256"),
        jwt.encode(claims(-5), SECRET, algorithm="HS256"),
        unsigned_token(claims()),
        jwt.encode(claims(sub="../../etc"), SECRET, algorithm="HS256"),
        jwt.encode({"sub": "alice"}, SECRET, algorithm="HS256"),
        "garbage",
        "a.b.c",
    ],
    ids=["forged", "expired", "alg-none", "bad-sub", "no-exp-no-iat", "garbage", "three-dots"],
)
async def test_bad_tokens_are_refused_with_401_before_the_upgrade(
    server: RunningServer, token: str
) -> None:
    attempts = [
        (server.ws_url, {"Authorization": f"Bearer {token}"}),
        (f"{server.ws_url}?token={token}", {}),
    ]
    for url, headers in attempts:
        with pytest.raises(InvalidStatus) as refused:
            await connect(url, additional_headers=headers)
        assert refused.value.response.status_code == 401
        assert json.loads(refused.value.response.body or b"{}") == {"error": "invalid_token"}
    await still_serving(server)


async def test_a_bad_header_is_not_rescued_by_a_good_query_token(server: RunningServer) -> None:
    good = await token_for(server, "alice")
    with pytest.raises(InvalidStatus) as refused:
        await connect(
            f"{server.ws_url}?token={good}", additional_headers={"Authorization": "Bearer forged"}
        )
    assert refused.value.response.status_code == 401


async def test_a_token_for_another_secret_deployment_is_refused(server: RunningServer) -> None:
    other = await start_in_process(test_password=PASSWORD, jwt_secret=FORGED_SECRET)
    try:
        token = await token_for(other, "alice")
    finally:
        await other.close()
    with pytest.raises(InvalidStatus) as refused:
        await connect(server.ws_url, additional_headers={"Authorization": f"Bearer {token}"})
    assert refused.value.response.status_code == 401


# -- heartbeat and slow clients --------------------------------------------------------------


async def test_a_client_that_never_answers_pings_is_closed_with_1011() -> None:
    running = await start_in_process(
        test_password=PASSWORD, jwt_secret=SECRET, heartbeat_interval_s=0.3
    )
    try:
        token = await token_for(running, "silent")
        # A bare sans-I/O client over a raw stream: it reads frames but never writes pongs.
        protocol = ClientProtocol(parse_uri(f"{running.ws_url}?token={token}"))
        reader, writer = await asyncio.open_connection(running.host, running.port)
        protocol.send_request(protocol.connect())
        for data in protocol.data_to_send():
            writer.write(data)
        pings = 0
        close: Close | None = None
        start = time.perf_counter()
        while close is None and time.perf_counter() - start < TIMEOUT_S:
            chunk = await asyncio.wait_for(reader.read(65536), TIMEOUT_S)
            if not chunk:
                break
            protocol.receive_data(chunk)
            for event in protocol.events_received():
                if isinstance(event, Response):
                    assert event.status_code == 101
                elif isinstance(event, Frame) and event.opcode is Opcode.PING:
                    pings += 1
                elif isinstance(event, Frame) and event.opcode is Opcode.CLOSE:
                    close = Close.parse(event.data)
            protocol.data_to_send()  # discard the automatic pongs: this client stays silent
        writer.close()
        assert pings >= 1
        assert close is not None
        assert close.code == 1011
        assert (
            time.perf_counter() - start < 8.0
        )  # ping interval + timeout is 0.6 s; generous for a busy machine
    finally:
        await running.close()


async def test_a_client_that_reads_nothing_is_disconnected_with_1008() -> None:
    config = ServerConfig(
        jwt_secret=SECRET,
        test_password=PASSWORD,
        port=0,
        env=Environment.TEST,
        max_pending_messages=50,
    )
    backend = AgentServer(config)
    await backend.start()
    running = RunningServer(backend)
    try:
        client = await Client.open(running, "slow")
        assert client.ws.transport is not None
        client.ws.transport.pause_reading()
        steps = ";".join(["x" * 1500] * 5)  # ~10 KB events
        for _ in range(15):
            await client.send({"type": "user_message", "thread_id": "t", "content": steps})
        await asyncio.sleep(0.5)
        client.ws.transport.resume_reading()
        assert await closed_with(client) == 1008
        await still_serving(running)
    finally:
        await running.close()


# -- HTTP ------------------------------------------------------------------------------------


async def test_a_connection_that_sends_garbage_instead_of_http_is_dropped(
    server: RunningServer,
) -> None:
    reader, writer = await asyncio.open_connection(server.host, server.port)
    writer.write(b"\x16\x03\x01 definitely not http\r\n\r\n")
    await writer.drain()
    answer = await asyncio.wait_for(reader.read(), TIMEOUT_S)
    writer.close()
    assert answer == b"" or answer.startswith(b"HTTP/1.1 400")
    await still_serving(server)


@pytest.mark.parametrize("method", ["POST", "HEAD", "PUT", "DELETE"])
async def test_methods_other_than_get_get_405(server: RunningServer, method: str) -> None:
    reader, writer = await asyncio.open_connection(server.host, server.port)
    writer.write(f"{method} /auth/token HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n".encode())
    await writer.drain()
    answer = parse_http_response(await asyncio.wait_for(reader.read(), TIMEOUT_S))
    writer.close()
    assert answer.status == 405
    assert answer.headers["allow"] == "GET"
    assert answer.json() == {"error": "method_not_allowed"}
    await still_serving(server)

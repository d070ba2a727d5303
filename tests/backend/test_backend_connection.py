"""AgentConnection: its own text framing, and text handed over without a task switch."""

from __future__ import annotations

import json
import logging

import pytest
from backend_helpers import Client, completed
from websockets.asyncio.client import connect
from websockets.asyncio.server import ServerConnection, serve
from websockets.frames import Frame, Opcode

from agent_backend.connection import AgentConnection, text_frame
from agent_backend.testing import RunningServer


@pytest.mark.parametrize("length", [0, 1, 125, 126, 127, 65_535, 65_536, 70_000])
def test_text_frame_matches_websockets_own_framing_at_every_length_boundary(length: int) -> None:
    payload = ("é" * length).encode()[:length]
    expected = Frame(Opcode.TEXT, payload).serialize(mask=False, extensions=[])
    assert text_frame(payload) == expected


def ping(nonce: int) -> bytes:
    return json.dumps({"type": "ping", "nonce": nonce}).encode()


def write_frames(client: Client, frames: list[Frame]) -> None:
    """Frames straight through the client's sans-I/O layer, in one transport write."""
    protocol = client.ws.protocol
    for frame in frames:
        protocol.send_frame(frame)
    client.ws.transport.write(b"".join(protocol.data_to_send()))


async def test_fragmented_and_whole_messages_in_one_write_are_answered_in_order(
    client: Client,
) -> None:
    first = ping(1)
    write_frames(
        client,
        [
            Frame(Opcode.TEXT, ping(0)),
            Frame(Opcode.TEXT, first[:5], fin=False),
            Frame(Opcode.CONT, first[5:]),
            Frame(Opcode.TEXT, ping(2)),
            Frame(Opcode.TEXT, ping(3)),
        ],
    )
    nonces = [(await client.recv())["nonce"] for _ in range(4)]
    assert nonces == [0, 1, 2, 3]


async def test_a_run_answers_with_each_event_in_its_own_text_message(
    client: Client,
) -> None:
    await client.send({"type": "user_message", "thread_id": "t", "content": "calc 6*7"})
    raw = [await client.ws.recv() for _ in range(5)]
    assert all(isinstance(message, str) for message in raw)
    events = [json.loads(message) for message in raw]
    assert [e["seq"] for e in events] == [1, 2, 3, 4, 5]
    assert completed(events)["answer"] == "6*7 = 42"


async def test_a_failing_message_handler_closes_with_1011_and_logs_its_traceback(
    server: RunningServer, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    client = await Client.open(server)

    def broken(session: object, text: str) -> None:
        raise ZeroDivisionError("a bug in the handler")

    monkeypatch.setattr(server.server, "_on_text", broken)
    with caplog.at_level(logging.ERROR, logger="agent_backend"):
        await client.send({"type": "ping"})
        await client.rest_until_closed()
    assert client.ws.close_code == 1011
    lines = [json.loads(r.getMessage()) for r in caplog.records if r.name == "agent_backend"]
    failures = [line for line in lines if line["event"] == "message_handler_failed"]
    assert len(failures) == 1
    assert "ZeroDivisionError: a bug in the handler" in failures[0]["error"]
    monkeypatch.undo()
    again = await Client.open(server)
    await again.ping()
    await again.close()


async def test_write_texts_refuses_to_frame_text_once_an_extension_is_negotiated() -> None:
    refused: list[BaseException] = []

    async def handler(connection: ServerConnection) -> None:
        assert isinstance(connection, AgentConnection)
        try:
            connection.write_texts(["hello"])
        except RuntimeError as exc:
            refused.append(exc)

    async with serve(
        handler, "127.0.0.1", 0, create_connection=AgentConnection, compression="deflate"
    ) as server:
        port = server.sockets[0].getsockname()[1]
        async with connect(f"ws://127.0.0.1:{port}", compression="deflate") as client:
            await client.wait_closed()
    assert len(refused) == 1
    assert "compression=None" in str(refused[0])

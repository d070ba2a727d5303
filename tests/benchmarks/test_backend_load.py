"""benchmarks/backend_load.py: its client's bookkeeping, and one small run end to end."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import pytest
from websockets.asyncio.client import connect
from websockets.asyncio.server import ServerConnection, serve
from websockets.frames import Frame, Opcode

from benchmarks import backend_load
from benchmarks.backend_load import LoadConnection, PhaseResult, RunWatch


def _event(kind: str, **payload: object) -> bytes:
    return json.dumps({"type": kind, "seq": 1, "payload": payload}).encode()


async def test_a_watch_times_agent_started_and_counts_the_status_of_agent_completed() -> None:
    result = PhaseResult("backend", 1, 0.0, 0.0)
    watch = RunWatch(result, events=True)
    watch.on_frame(_event("agent_started", client_msg_id="m"))
    watch.on_frame(_event("agent_thinking", text="step 1"))
    assert not watch.done.done()
    watch.on_frame(_event("agent_completed", status="failed", error="x"))
    assert watch.done.done()
    assert len(result.first_ms) == 1
    assert len(result.last_ms) == 1
    assert result.statuses == {"failed": 1}


async def test_a_watch_counts_a_run_whose_first_event_is_not_agent_started() -> None:
    result = PhaseResult("backend", 1, 0.0, 0.0)
    watch = RunWatch(result, events=True)
    watch.on_frame(_event("agent_thinking", text="too early"))
    watch.on_frame(_event("agent_completed", status="succeeded", answer=""))
    assert watch.done.done()
    assert result.statuses == {"first event agent_thinking": 1}


async def test_an_echo_watch_is_done_at_the_first_frame() -> None:
    result = PhaseResult("echo", 1, 0.0, 0.0)
    watch = RunWatch(result, events=False)
    watch.on_frame(b"anything")
    assert watch.done.done()
    assert len(result.first_ms) == 1
    assert result.last_ms == []


async def test_a_small_load_runs_every_run_against_all_three_servers(
    capsys: pytest.CaptureFixture[str],
) -> None:
    args = backend_load.parse_args(["--connections", "20", "--rounds", "2", "--json"])
    assert await backend_load.main(args) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["server_exit_status"] == 0
    for row in data["rounds"]:
        assert row["statuses"] == {"succeeded": 20}
        assert row["runs_per_s"] > 0
        assert row["echo_msgs_per_s"] > 0
        assert row["ratio"] == pytest.approx(row["runs_per_s"] / row["echo_msgs_per_s"], rel=0.01)
        assert row["agent_started_p99_ms"] <= row["agent_completed_p99_ms"]


def _frame(opcode: Opcode, payload: bytes) -> bytes:
    return Frame(opcode, payload).serialize(mask=False, extensions=[])


@pytest.fixture
async def load_connection() -> AsyncIterator[LoadConnection]:
    """A ``LoadConnection`` to a server that sends nothing: the tests feed it bytes."""

    async def idle(connection: ServerConnection) -> None:
        await connection.wait_closed()

    async with serve(idle, "127.0.0.1", 0) as server:
        port = server.sockets[0].getsockname()[1]
        async with connect(f"ws://127.0.0.1:{port}/", create_connection=LoadConnection) as ws:
            assert isinstance(ws, LoadConnection)
            yield ws


async def test_watched_frames_reach_on_frame_whole_and_in_order_wherever_the_stream_splits(
    load_connection: LoadConnection,
) -> None:
    payloads = [b"a" * 5, b"b" * 125, b"c" * 126, b"d" * 70_000, b"e"]
    stream = b"".join(_frame(Opcode.TEXT, payload) for payload in payloads)
    # Every split inside the first three frames and around the 64-bit length header.
    big = stream.index(b"d") - 10
    for split in [*range(1, stream.index(b"d") + 1), *range(big, big + 12), len(stream) - 1]:
        received: list[bytes] = []
        load_connection.watch(received.append)
        load_connection.data_received(stream[:split])
        load_connection.data_received(stream[split:])
        load_connection.unwatch()
        assert received == payloads, split


async def test_a_control_frame_hands_the_rest_of_the_stream_to_websockets(
    load_connection: LoadConnection,
) -> None:
    received: list[bytes] = []
    load_connection.watch(received.append)
    load_connection.data_received(
        _frame(Opcode.TEXT, b"one") + _frame(Opcode.PING, b"p") + _frame(Opcode.TEXT, b"two")
    )
    # "two" came through websockets' parser and process_event.
    assert received == [b"one", b"two"]
    load_connection.unwatch()


async def test_unwatching_gives_a_partial_frame_to_websockets(
    load_connection: LoadConnection,
) -> None:
    load_connection.watch(lambda data: None)
    frame = _frame(Opcode.TEXT, b"after the phase")
    load_connection.data_received(frame[:4])
    load_connection.unwatch()
    load_connection.data_received(frame[4:])
    assert await asyncio.wait_for(load_connection.recv(), 5) == "after the phase"

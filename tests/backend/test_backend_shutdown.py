"""Draining (SIGTERM semantics) and stopping, in-process; and repeated starts."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import pytest
from backend_helpers import (
    PASSWORD,
    SECRET,
    TIMEOUT_S,
    Client,
    assert_run_order,
    http_get,
    parse_http_response,
    token_for,
)

from agent_backend.testing import RunningServer, start_in_process


async def start(drain_timeout_s: float = 5.0) -> RunningServer:
    return await start_in_process(
        test_password=PASSWORD, jwt_secret=SECRET, drain_timeout_s=drain_timeout_s
    )


async def test_shutdown_cancels_active_runs_then_closes_with_1001() -> None:
    running = await start()
    alice = await Client.open(running, "alice")
    bob = await Client.open(running, "bob")
    seen: dict[str, list[dict[str, Any]]] = {}
    for client, content in ((alice, "sleep 30000"), (bob, "calc 1+1; sleep 30000")):
        events = [await client.start(content)]
        while events[-1]["type"] != "tool_executing" or "sleep" not in str(events[-1]):
            events.append(await client.recv())
        seen[client.user_id] = events
    began = time.perf_counter()
    await running.shutdown()
    assert time.perf_counter() - began < 2.0
    for client in (alice, bob):
        events = seen[client.user_id] + await client.rest_until_closed()
        assert_run_order(events)
        assert events[-2]["type"] == "tool_completed"
        assert events[-2]["payload"]["ok"] is False
        assert events[-1]["payload"] == {"status": "cancelled"}
        assert client.ws.close_code == 1001


async def test_shutdown_when_idle_is_quick_and_idempotent() -> None:
    running = await start()
    client = await Client.open(running)
    began = time.perf_counter()
    await running.shutdown()
    await running.shutdown()
    await running.close()
    assert time.perf_counter() - began < 2.0
    await client.rest_until_closed()
    assert client.ws.close_code == 1001
    with pytest.raises(ConnectionRefusedError):
        await http_get(running.http_url, "/health")


async def test_while_draining_health_and_new_handshakes_get_503() -> None:
    running = await start(drain_timeout_s=3.0)
    token = await token_for(running, "alice")
    # Connections accepted before the drain whose requests arrive during it: the server must
    # wait for them (up to the drain timeout), so what they see is deterministic.
    health = await asyncio.open_connection(running.host, running.port)
    upgrade = await asyncio.open_connection(running.host, running.port)
    await asyncio.sleep(0.05)
    drain = asyncio.create_task(running.shutdown())
    await asyncio.sleep(0.1)
    assert not drain.done()
    health[1].write(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
    upgrade[1].write(
        b"GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
        b"Authorization: Bearer " + token.encode() + b"\r\n\r\n"
    )
    answers = []
    for reader, writer in (health, upgrade):
        answers.append(parse_http_response(await asyncio.wait_for(reader.read(), TIMEOUT_S)))
        writer.close()
    assert answers[0].status == 503
    assert answers[0].json() == {"status": "draining"}
    assert answers[1].status == 503
    await asyncio.wait_for(drain, TIMEOUT_S)


async def test_shutdown_stays_within_the_drain_timeout_despite_a_silent_connection() -> None:
    running = await start(drain_timeout_s=0.5)
    reader, writer = await asyncio.open_connection(running.host, running.port)
    began = time.perf_counter()
    await running.shutdown()
    elapsed = time.perf_counter() - began
    assert elapsed < 0.5 + 1.5  # the deadline, then aborting takes a moment
    assert await asyncio.wait_for(reader.read(), TIMEOUT_S) == b""
    writer.close()


async def test_a_message_arriving_during_the_drain_gets_a_cancelled_run() -> None:
    running = await start()
    client = await Client.open(running)
    running.server.draining = True  # the first instant of a drain, before runs are cancelled
    started = await client.start("sleep 30000")
    events = [started, *await client.until_completed(started["run_id"])]
    assert_run_order(events)
    assert events[-1]["payload"] == {"status": "cancelled"}
    await running.close()


async def test_close_stops_at_once_and_is_idempotent() -> None:
    running = await start()
    client = await Client.open(running)
    await client.start("sleep 30000")
    began = time.perf_counter()
    await asyncio.gather(running.close(), running.close())
    await running.close()
    assert time.perf_counter() - began < 2.0
    await client.rest_until_closed()
    assert client.ws.close_code == 1001


async def test_servers_start_and_stop_many_times_in_one_process() -> None:
    ports = set()
    for _ in range(5):
        running = await start()
        ports.add(running.port)
        client = await Client.open(running)
        assert (await client.run("calc 1+1"))[-1]["payload"]["status"] == "succeeded"
        await running.close()
    assert all(port > 0 for port in ports)


def test_a_server_runs_on_a_loop_in_a_background_thread() -> None:
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        for _ in range(2):
            running = asyncio.run_coroutine_threadsafe(start(), loop).result(TIMEOUT_S)

            async def use(server: RunningServer = running) -> str:
                client = await Client.open(server)
                events = await client.run("calc 2*21")
                await client.close()
                answer: str = events[-1]["payload"]["answer"]
                return answer

            # The client runs on this thread's own loop, the server on the background one.
            assert asyncio.run(use()) == "2*21 = 42"
            asyncio.run_coroutine_threadsafe(running.shutdown(), loop).result(TIMEOUT_S)
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(TIMEOUT_S)
        loop.close()


async def test_the_running_server_reports_its_bound_address() -> None:
    running = await start()
    try:
        assert running.host == "127.0.0.1"
        assert running.port > 0
        assert running.http_url == f"http://127.0.0.1:{running.port}"
        assert running.ws_url == f"ws://127.0.0.1:{running.port}/ws"
        assert running.auth_url == f"http://127.0.0.1:{running.port}/auth"
        assert (await http_get(running.http_url, "/health")).status == 200
    finally:
        await running.close()

"""Helpers for the backend's own tests: raw HTTP GET, tokens, and a small JSON WebSocket client.

The HTTP helper speaks HTTP/1.1 over a plain asyncio stream, because the server answers every
HTTP request with ``Connection: close`` and the tests want the exact status and body.
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import urlsplit

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

SECRET = "backend-tests-jwt-secret-at-least-32-bytes"
PASSWORD = "backend-test-password"
TIMEOUT_S = 10.0  # generous: the machine is shared; this only proves "does not hang"


class Deployment(Protocol):
    """A running backend: in-process (``RunningServer``) or a process started by a test."""

    @property
    def http_url(self) -> str: ...

    @property
    def ws_url(self) -> str: ...


@dataclass
class HttpResult:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


async def http_get(base_url: str, target: str, headers: dict[str, str] | None = None) -> HttpResult:
    split = urlsplit(base_url)
    assert split.hostname is not None
    assert split.port is not None
    reader, writer = await asyncio.open_connection(split.hostname, split.port)
    try:
        lines = [f"GET {target} HTTP/1.1", f"Host: {split.hostname}:{split.port}"]
        lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
        await writer.drain()
        raw = await asyncio.wait_for(reader.read(), TIMEOUT_S)
    finally:
        writer.close()
        await writer.wait_closed()
    return parse_http_response(raw)


def parse_http_response(raw: bytes) -> HttpResult:
    head, _, body = raw.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    status = int(status_line.split(" ", 2)[1])
    headers = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return HttpResult(status, headers, body)


def basic(user_id: str, password: str = PASSWORD) -> dict[str, str]:
    encoded = base64.b64encode(f"{user_id}:{password}".encode()).decode()
    return {"Authorization": f"Basic {encoded}"}


async def token_for(server: Deployment, user_id: str = "alice", ttl_s: int | None = None) -> str:
    query = "" if ttl_s is None else f"?ttl_s={ttl_s}"
    result = await http_get(server.http_url, f"/auth/token{query}", basic(user_id))
    assert result.status == 200, result.body
    token: str = result.json()["access_token"]
    return token


@dataclass
class Client:
    """One authenticated connection that reads JSON messages."""

    ws: ClientConnection
    ready: dict[str, Any]
    user_id: str
    backlog: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    async def open(
        cls, server: Deployment, user_id: str = "alice", *, token: str | None = None
    ) -> Client:
        token = token if token is not None else await token_for(server, user_id)
        ws = await connect(
            server.ws_url,
            additional_headers={"Authorization": f"Bearer {token}"},
            open_timeout=TIMEOUT_S,
        )
        ready = json.loads(await asyncio.wait_for(ws.recv(), TIMEOUT_S))
        return cls(ws, ready, user_id)

    async def send(self, message: dict[str, Any]) -> None:
        await self.ws.send(json.dumps(message))

    async def recv(self) -> dict[str, Any]:
        if self.backlog:
            return self.backlog.pop(0)
        message: dict[str, Any] = json.loads(await asyncio.wait_for(self.ws.recv(), TIMEOUT_S))
        return message

    async def recv_type(self, kind: str) -> dict[str, Any]:
        """The next message of type ``kind``; others are kept for later ``recv`` calls."""
        skipped: list[dict[str, Any]] = []
        while True:
            message = await self.recv()
            if message["type"] == kind:
                self.backlog = skipped + self.backlog
                return message
            skipped.append(message)

    async def start(
        self, content: str, thread_id: str = "thread-1", client_msg_id: str | None = None
    ) -> dict[str, Any]:
        """Send a user_message and return its agent_started event."""
        message: dict[str, Any] = {
            "type": "user_message",
            "thread_id": thread_id,
            "content": content,
        }
        if client_msg_id is not None:
            message["client_msg_id"] = client_msg_id
        await self.send(message)
        return await self.recv_type("agent_started")

    async def until_completed(self, run_id: str) -> list[dict[str, Any]]:
        """This run's events up to and including its agent_completed."""
        events = []
        while True:
            message = await self.recv()
            if message.get("run_id") != run_id:
                continue
            events.append(message)
            if message["type"] == "agent_completed":
                return events

    async def run(self, content: str, **kwargs: Any) -> list[dict[str, Any]]:
        """All events of one run, agent_started first."""
        started = await self.start(content, **kwargs)
        return [started, *await self.until_completed(started["run_id"])]

    async def ping(self, nonce: Any = "sync") -> None:
        """Round-trip a ping: everything the server sent before the pong is in the backlog."""
        await self.send({"type": "ping", "nonce": nonce})
        await self.recv_type("pong")

    async def close(self) -> None:
        await self.ws.close()

    async def rest_until_closed(self) -> list[dict[str, Any]]:
        """Every message until the server closes the connection (then see ``ws.close_code``)."""
        messages = []
        try:
            while True:
                messages.append(await self.recv())
        except ConnectionClosed:
            return messages


def assert_run_order(events: list[dict[str, Any]]) -> None:
    """The protocol's order rules, checked on one run's events."""
    assert events, "no events"
    run_id = events[0]["run_id"]
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    for event in events:
        assert set(event) == {"type", "run_id", "thread_id", "seq", "ts", "payload"}
        assert event["run_id"] == run_id
        assert isinstance(event["ts"], float)
    kinds = [e["type"] for e in events]
    assert kinds[0] == "agent_started"
    assert kinds.count("agent_started") == 1
    assert kinds[-1] == "agent_completed"
    assert kinds.count("agent_completed") == 1
    assert "agent_thinking" in kinds
    if "tool_executing" in kinds:
        assert kinds.index("agent_thinking") < kinds.index("tool_executing")
    open_call = None
    for event in events:
        if event["type"] == "tool_executing":
            assert open_call is None, "tool_executing before the previous tool_completed"
            open_call = event["payload"]["call_id"]
        elif event["type"] == "tool_completed":
            assert event["payload"]["call_id"] == open_call
            open_call = None
        else:
            assert open_call is None, f"{event['type']} while a tool is in flight"


def unsigned_token(claims: dict[str, Any]) -> str:
    """An ``alg: none`` JWT: header and claims, and an empty signature."""

    def part(obj: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(claims)}."


def completed(events: list[dict[str, Any]]) -> dict[str, Any]:
    payload: dict[str, Any] = events[-1]["payload"]
    return payload


def elapsed_since(start: float) -> float:
    return time.perf_counter() - start

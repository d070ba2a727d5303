"""A tiny WebSocket service that does not speak docs/protocol.md, for the adapter's tests.

It echoes every message back. Clients authenticate with one static bearer token, in the
``Authorization`` header or the ``token`` query parameter (401 otherwise); with no token
configured anyone may connect. Nothing is sent on connect (no ready message) unless ``ready``
names a type: then ``{"type": <ready>}`` is the first message on ``/ws`` (never on ``/quiet``).
There is no health path: a plain GET is answered 426 by websockets.

``start``, ``start_open`` and ``start_with_ready`` are in-process factories for the harness.
"""

from __future__ import annotations

import http
import json
from urllib.parse import parse_qs, urlsplit

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.http11 import Request, Response

READY_PATH = "/ws"


class EchoService:
    def __init__(self, server: Server) -> None:
        self.server = server

    @property
    def port(self) -> int:
        port: int = next(iter(self.server.sockets)).getsockname()[1]
        return port

    async def close(self) -> None:
        self.server.close()
        await self.server.wait_closed()

    async def shutdown(self) -> None:
        await self.close()


def presented_token(request: Request) -> str | None:
    header = request.headers.get("Authorization", "")
    if header.startswith("Bearer "):
        return header.removeprefix("Bearer ")
    tokens = parse_qs(urlsplit(request.path).query).get("token")
    return tokens[0] if tokens else None


async def serve_echo(
    *, host: str = "127.0.0.1", port: int = 0, token: str | None, ready: str | None = None
) -> EchoService:
    def authenticate(connection: ServerConnection, request: Request) -> Response | None:
        if token is not None and presented_token(request) != token:
            return connection.respond(http.HTTPStatus.UNAUTHORIZED, "a valid token is required\n")
        return None

    async def echo(connection: ServerConnection) -> None:
        assert connection.request is not None
        if ready and urlsplit(connection.request.path).path == READY_PATH:
            await connection.send(json.dumps({"type": ready, "service": "echo"}))
        async for message in connection:
            await connection.send(message)

    server = await serve(echo, host, port, process_request=authenticate)
    return EchoService(server)


async def start(*, host: str, port: int, test_token: str) -> EchoService:
    return await serve_echo(host=host, port=port, token=test_token)


async def start_open(*, host: str, port: int) -> EchoService:
    return await serve_echo(host=host, port=port, token=None)


async def start_with_ready(*, host: str, port: int, **secrets: str) -> EchoService:
    return await serve_echo(host=host, port=port, token=secrets["test_token"], ready="hello")

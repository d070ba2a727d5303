"""The chat server on ``websockets.asyncio.server``: ``/healthz`` and ``/ws`` on one port.

HTTP answers come from ``process_request``; ``/ws`` is upgraded only with the right bearer
token. Nothing is sent when a socket opens: the open socket is ready.
"""

from __future__ import annotations

import asyncio
import email.utils
import hmac
import json
import logging
import secrets
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

from websockets.asyncio.server import Server, ServerConnection, broadcast, serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from chat_service import __version__
from chat_service.protocol import Join, Leave, ProtocolError, Say, error, event, parse
from chat_service.rooms import Rooms

HEALTH_PATH = "/healthz"
WS_PATH = "/ws"

log = logging.getLogger("chat_service")
# websockets logs handshake headers at DEBUG, and the bearer token is one of them.
logging.getLogger("chat_service.websockets").setLevel(logging.WARNING)


@dataclass(eq=False)
class Member:
    """One open socket; compared by identity, so rooms hold each socket once."""

    connection: ServerConnection
    id: str = field(default_factory=lambda: f"m-{secrets.token_hex(4)}")


class ChatServer:
    """``start()``, then ``shutdown()`` (drain, as on SIGTERM) or ``close()`` (now)."""

    def __init__(self, *, host: str, port: int, token: str, drain_timeout_s: float = 5.0) -> None:
        if not token:
            raise ValueError("the bearer token must not be empty")
        self.host = host
        self.requested_port = port
        self.drain_timeout_s = drain_timeout_s
        self.draining = False
        self.rooms: Rooms[Member] = Rooms()
        self._expected = f"Bearer {token}".encode()
        self._server: Server | None = None
        self._stopping: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._server = await serve(
            self._handle,
            self.host,
            self.requested_port,
            process_request=self._process_request,
            server_header=f"chat-service/{__version__}",
            compression=None,
            close_timeout=self.drain_timeout_s,
            max_size=64 * 1024,
            logger=logging.getLogger("chat_service.websockets"),
        )
        log.info("listening on %s:%d", self.host, self.port)

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("the server has not started")
        return int(self._server.sockets[0].getsockname()[1])

    async def shutdown(self) -> None:
        """Refuse new sockets (503), close open ones with 1001 within the drain timeout."""
        await self._stop(self.drain_timeout_s)

    async def close(self) -> None:
        """Stop now: as ``shutdown``, with a grace of at most a second. Idempotent."""
        await self._stop(min(self.drain_timeout_s, 1.0))

    async def _stop(self, grace_s: float) -> None:
        if self._stopping is None:
            self._stopping = asyncio.get_running_loop().create_task(self._stop_now(grace_s))
        await asyncio.shield(self._stopping)

    async def _stop_now(self, grace_s: float) -> None:
        server = self._server
        if server is None:
            return
        self.draining = True
        server.close(close_connections=True)
        try:
            await asyncio.wait_for(server.wait_closed(), grace_s)
        except TimeoutError:
            log.warning("aborting %d connections after %.1f s", len(server.connections), grace_s)
            for connection in server.connections:
                connection.transport.abort()
            await server.wait_closed()
        log.info("stopped")

    # -- HTTP ----------------------------------------------------------------------------------
    def _process_request(self, connection: ServerConnection, request: Request) -> Response | None:
        path = request.path.partition("?")[0]
        if path == HEALTH_PATH:
            if self.draining:
                return _json(HTTPStatus.SERVICE_UNAVAILABLE, {"status": "draining"})
            return _json(HTTPStatus.OK, {"status": "ok", "version": __version__})
        if path != WS_PATH:
            return _json(HTTPStatus.NOT_FOUND, {"error": "not_found"})
        if self.draining:
            return _json(HTTPStatus.SERVICE_UNAVAILABLE, {"error": "draining"})
        given = request.headers.get_all("Authorization")
        if len(given) != 1 or not hmac.compare_digest(given[0].encode(), self._expected):
            return _json(
                HTTPStatus.UNAUTHORIZED,
                {"error": "unauthorized"},
                ("WWW-Authenticate", 'Bearer realm="chat"'),
            )
        return None

    # -- WebSocket -----------------------------------------------------------------------------
    async def _handle(self, connection: ServerConnection) -> None:
        member = Member(connection)
        try:
            async for frame in connection:
                if isinstance(frame, bytes):
                    problem = ProtocolError("bad_json", "binary frames are not supported")
                    await connection.send(error(problem))
                    continue
                await self._on_frame(member, frame)
        except ConnectionClosed:
            pass  # the client went away without a closing handshake: nothing to tell it
        finally:
            self.rooms.leave_all(member)

    async def _on_frame(self, member: Member, frame: str) -> None:
        op = parse(frame)
        send = member.connection.send
        if isinstance(op, ProtocolError):
            await send(error(op))
        elif isinstance(op, Join):
            count = self.rooms.join(op.room, member)
            await send(event("joined", op.id, room=op.room, you=member.id, members=count))
        elif isinstance(op, Leave):
            if self.rooms.leave(op.room, member):
                await send(event("left", op.id, room=op.room))
            else:
                await send(error(_not_in_room(op.room, op.id)))
        elif isinstance(op, Say):
            members = self.rooms.members(op.room)
            if member not in members:
                await send(error(_not_in_room(op.room, op.id)))
                return
            seq = self.rooms.next_seq(op.room)
            message = event("message", room=op.room, seq=seq, text=op.text, **{"from": member.id})
            # broadcast() writes at once, without awaiting: no other say can come between this
            # number and its delivery, so every member sees a room's messages in seq order, and
            # one slow member never holds up the room.
            broadcast([member.connection], event("accepted", op.id, room=op.room, seq=seq))
            broadcast([m.connection for m in members], message)


def _not_in_room(room: str, op_id: str | None) -> ProtocolError:
    return ProtocolError("not_in_room", f"join {room!r} first", op_id)


def _json(status: HTTPStatus, body: dict[str, Any], *extra: tuple[str, str]) -> Response:
    data = json.dumps(body).encode()
    headers = Headers(
        [
            ("Date", email.utils.formatdate(usegmt=True)),
            ("Connection", "close"),
            ("Content-Type", "application/json"),
            ("Content-Length", str(len(data))),
            *extra,
        ]
    )
    return Response(status.value, status.phrase, headers, data)

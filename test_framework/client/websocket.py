"""``McWebSocket``: one WebSocket connection to the deployment under test, for any protocol.

A thin wrapper over websockets' ``ClientConnection`` (``.connection``): sends are paced, every
frame in and out is recorded (redacted) in the test's transcript, and every wait is bounded by
the profile's message timeout and says what it waited for. Opening goes through the
``Connector`` (the profile's connect timeout and retries, TLS, ``ConnectionLostError`` when the
retries give up, ``HandshakeRefused`` when the service says no). When the service adapter names a
``ready_message``, the connection is returned once that message has arrived (``.ready``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed

from test_framework.client.agent import LOST_CODES, Connector
from test_framework.client.pacing import Pacer
from test_framework.client.transcript import Transcript
from test_framework.errors import ConnectionLostError
from test_framework.profiles import Profile

__all__ = ["McWebSocket"]


def websocket_url(base: str, path: str | None, query: Mapping[str, str]) -> str:
    """``base`` with its path replaced by ``path`` (when given) and ``query`` added."""
    parts = urlsplit(base)
    new_path = parts.path if path is None else path
    new_query = parts.query
    if query:
        new_query = (new_query + "&" if new_query else "") + urlencode(dict(query))
    return urlunsplit((parts.scheme, parts.netloc, new_path, new_query, ""))


class McWebSocket:
    """One open connection. ``ready`` is the ready message (parsed), or ``None``."""

    def __init__(
        self,
        connection: ClientConnection,
        label: str,
        profile: Profile,
        pacer: Pacer,
        transcript: Transcript,
        resources: contextlib.AsyncExitStack,
    ) -> None:
        self.connection = connection
        self.label = label
        self.profile = profile
        self.transcript = transcript
        self.ready: Any = None
        self._pacer = pacer
        self._resources = resources
        self._closing = False
        self._closed_recorded = False

    @classmethod
    async def open(
        cls,
        connector: Connector,
        url: str,
        headers: Mapping[str, str],
        *,
        ready_message: str = "",
    ) -> McWebSocket:
        connection, label, resources = await connector.open(url, headers)
        socket = cls(
            connection, label, connector.profile, connector.pacer, connector.transcript, resources
        )
        if ready_message:
            try:
                await socket._read_ready(ready_message)
            except BaseException:
                await socket.close()
                raise
        return socket

    @property
    def close_code(self) -> int | None:
        return self.connection.close_code

    async def send(self, data: str | bytes) -> None:
        await self._pacer.message()
        if isinstance(data, bytes):
            self.transcript.record_binary(self.label, "out", data)
        else:
            self.transcript.record_text(self.label, "out", data)
        try:
            await self.connection.send(data)
        except ConnectionClosed:
            raise self._closed_error("sending a frame") from None

    async def send_json(self, value: object) -> None:
        await self.send(json.dumps(value))

    # A timeout parameter rather than asyncio.timeout around the call: the default is the
    # profile's, and the failure must say what was awaited for how long.
    async def recv(
        self,
        timeout: float | None = None,  # noqa: ASYNC109
        *,
        what: str = "a message",
    ) -> str | bytes:
        """The next message, within ``timeout`` (default: the profile's message timeout)."""
        seconds = self.profile.timeouts.message_s if timeout is None else timeout
        try:
            async with asyncio.timeout(seconds):
                data = await self.connection.recv()
        except TimeoutError:
            source = (
                f"the {self.profile.mode} profile's message timeout" if timeout is None else "given"
            )
            raise AssertionError(
                f"{self.label}: no {what} within {seconds:g} s ({source})"
            ) from None
        except ConnectionClosed:
            raise self._closed_error(f"waiting for {what}") from None
        if isinstance(data, bytes):
            self.transcript.record_binary(self.label, "in", data)
        else:
            self.transcript.record_text(self.label, "in", data)
        return data

    async def recv_json(
        self,
        timeout: float | None = None,  # noqa: ASYNC109
        *,
        what: str = "a message",
    ) -> Any:
        data = await self.recv(timeout, what=what)
        try:
            return json.loads(data)
        except ValueError:
            raise AssertionError(f"{self.label}: {what} is not JSON: {data[:200]!r}") from None

    async def close(self) -> None:
        """Close from our side (idempotent) and release the pacing slot."""
        self._closing = True
        await self.connection.close()
        if not self._closed_recorded:
            self._closed_recorded = True
            code = self.connection.close_code
            self.transcript.record(
                self.label, "out", "close", {"code": code, "reason": self.connection.close_reason}
            )
        await self._resources.aclose()

    async def _read_ready(self, ready_message: str) -> None:
        what = f"{ready_message!r} message after the upgrade (ready_message)"
        first = await self.recv_json(what=what)
        if not isinstance(first, dict) or first.get("type") != ready_message:
            raise AssertionError(
                f"{self.label}: the first message was {first!r}, not a {ready_message!r} message"
                " (ready_message in [tool.test_framework.service])"
            )
        self.ready = first

    def _closed_error(self, doing: str) -> Exception:
        code = self.connection.close_code
        reason = self.connection.close_reason
        text = f"{self.label}: connection closed (code {code}, reason {reason!r}) while {doing}"
        if self._closing:
            return AssertionError(text + "; the test had closed it")
        if code is None or code in LOST_CODES:
            return ConnectionLostError(text)
        return AssertionError(text)

"""The WebSocket test client for the agent events protocol (docs/protocol.md).

``Connector`` opens connections to one deployment with the mode's profile: ``open_timeout`` from
``timeouts.connect_s``, keepalive pings every ``heartbeat_s``, TLS from the endpoints' CA bundle,
pacing, and retries with backoff on connection failures only. A refused handshake (4xx) is an
answer, not a failure to connect: ``connect_expecting_refusal`` returns its status.

``AgentClient`` is one open connection. A background reader routes every incoming message: run
events to a queue per ``run_id`` (and ``agent_started`` to the ``start_run`` waiting for its
``client_msg_id``), everything else (``pong``, ``error``) to one general queue. Every wait is
bounded by ``timeouts.message_s`` and says what it was waiting for. Every frame in and out is
recorded, redacted, in the test's transcript.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import secrets
import time
from collections import defaultdict, deque
from collections.abc import Awaitable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal, TypeVar
from urllib.parse import urlencode

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus, InvalidURI

from test_framework.client.availability import AVAILABILITY, Availability
from test_framework.client.http_client import tls_context
from test_framework.client.pacing import Pacer
from test_framework.client.redaction import redact_text, redact_url, register_secret
from test_framework.client.transcript import Transcript
from test_framework.endpoints import Endpoints
from test_framework.errors import ConfigError, ConnectionLostError
from test_framework.profiles import Profile

__all__ = ["AgentClient", "Connector", "HandshakeRefused", "RunRefused", "RunResult", "Via"]

Message = dict[str, Any]
Via = Literal["header", "query"]
T = TypeVar("T")

RUN_EVENT_TYPES: Final = frozenset(
    {"agent_started", "agent_thinking", "tool_executing", "tool_completed", "agent_completed"}
)
# Close codes that mean the deployment went away rather than judged the client.
LOST_CODES: Final = frozenset({1001, 1006, 1012, 1013, 1014})
# Incoming messages may be larger than outgoing ones (replays, search results); 4 MiB is ample.
_MAX_INCOMING: Final = 4 * 2**20


class _Auto:
    """Marker: let the client choose (a fresh ``client_msg_id``, no ``nonce`` field...)."""

    def __repr__(self) -> str:
        return "AUTO"


AUTO: Final = _Auto()
OMIT: Final = _Auto()


class HandshakeRefused(AssertionError):
    """The server refused an upgrade the test expected to succeed."""

    def __init__(self, status: int, url: str) -> None:
        super().__init__(f"handshake to {redact_url(url)} refused with HTTP {status}")
        self.status = status


class RunRefused(AssertionError):
    """The server answered a ``user_message`` with an ``error`` instead of starting a run."""

    def __init__(self, error: Message) -> None:
        super().__init__(
            f"user_message {error.get('ref')!r} answered with error {error.get('code')!r}:"
            f" {error.get('message')!r}"
        )
        self.error = error


@dataclass(frozen=True)
class RunResult:
    """One run's events as one connection received them, ending with ``agent_completed``."""

    run_id: str
    events: tuple[Message, ...]

    @property
    def types(self) -> list[str]:
        return [str(event.get("type")) for event in self.events]

    @property
    def completion(self) -> Message:
        payload = self.events[-1].get("payload")
        return payload if isinstance(payload, dict) else {}

    @property
    def status(self) -> Any:
        return self.completion.get("status")

    @property
    def answer(self) -> Any:
        return self.completion.get("answer")

    @property
    def error(self) -> Any:
        return self.completion.get("error")

    def of_type(self, kind: str) -> list[Message]:
        return [event for event in self.events if event.get("type") == kind]

    def payloads(self, kind: str) -> list[Message]:
        return [event["payload"] for event in self.of_type(kind)]


def new_id(prefix: str) -> str:
    return f"{prefix}-{secrets.token_hex(6)}"


class Connector:
    """Opens ``AgentClient`` connections to one deployment; counts attempts for the report."""

    def __init__(
        self,
        endpoints: Endpoints,
        profile: Profile,
        pacer: Pacer,
        transcript: Transcript,
        *,
        availability: Availability = AVAILABILITY,
    ) -> None:
        self.endpoints = endpoints
        self.profile = profile
        self.pacer = pacer
        self.transcript = transcript
        self.availability = availability
        self.attempts = 0
        # Attempts that failed and were tried again: the ledger marks such a test as retried.
        self.retries = 0
        self.clients: list[AgentClient] = []
        self._labels = itertools.count(1)
        self._ssl = (
            tls_context(endpoints.ca_bundle) if endpoints.ws_url.startswith("wss:") else None
        )

    def target(
        self, token: str | None, via: Via = "header", headers: Mapping[str, str] | None = None
    ) -> tuple[str, dict[str, str]]:
        """The URL and handshake headers that present ``token`` the way ``via`` says."""
        url = self.endpoints.ws_url
        extra = dict(headers or {})
        if token is not None:
            register_secret(token)
            if via == "query":
                url += ("&" if "?" in url else "?") + urlencode({"token": token})
            else:
                extra["Authorization"] = f"Bearer {token}"
        return url, extra

    async def connect(
        self,
        token: str | None,
        *,
        via: Via = "header",
        headers: Mapping[str, str] | None = None,
        label: str | None = None,
    ) -> AgentClient:
        """Open a connection and read ``connection_ready``; refusals raise ``HandshakeRefused``."""
        url, extra = self.target(token, via, headers)
        ws, name, stack = await self.open(url, extra, label=label)
        client = AgentClient(ws, name, self.profile, self.pacer, self.transcript, stack)
        self.clients.append(client)
        await client.read_ready()
        return client

    async def open(
        self, url: str, headers: Mapping[str, str], *, label: str | None = None
    ) -> tuple[ClientConnection, str, contextlib.AsyncExitStack]:
        """Open ``url`` (this deployment, any path) with the profile's retries, holding a pacing
        slot until the returned stack is closed; returns the connection and its transcript
        label. A refused handshake raises ``HandshakeRefused``."""
        name = label or f"ws{next(self._labels)}"
        stack = contextlib.AsyncExitStack()
        await stack.enter_async_context(self.pacer.connection())
        try:
            ws = await self._open(url, dict(headers), name, refusal_is_answer=False)
        except BaseException:
            await stack.aclose()
            raise
        return ws, name, stack

    async def connect_expecting_refusal(
        self,
        token: str | None,
        *,
        via: Via = "header",
        headers: Mapping[str, str] | None = None,
    ) -> int:
        """Attempt a handshake that must be refused and return the HTTP status it got.

        An accepted upgrade is an ``AssertionError`` (the connection is closed first).
        """
        url, extra = self.target(token, via, headers)
        name = f"ws{next(self._labels)}"
        async with self.pacer.connection():
            try:
                ws = await self._open(url, extra, name, refusal_is_answer=True)
            except InvalidStatus as refusal:
                return refusal.response.status_code
            first = None
            with contextlib.suppress(TimeoutError, ConnectionClosed):
                first = await asyncio.wait_for(ws.recv(), self.profile.timeouts.message_s)
            self.transcript.record(name, "in", "accepted", {"first_message": first})
            await ws.close()
        raise AssertionError(
            f"handshake to {redact_url(url)} was accepted (first message {first!r}),"
            " but the protocol says it must be refused"
        )

    async def _open(
        self, url: str, headers: dict[str, str], name: str, *, refusal_is_answer: bool
    ) -> ClientConnection:
        self.availability.check(url)
        retry = self.profile.retry
        attempts = max(retry.attempts, 1)
        delays = retry.delays()
        heartbeat = self.profile.heartbeat_s or None
        shown = {k: ("***" if k.lower() == "authorization" else v) for k, v in headers.items()}
        last = ""
        for attempt in range(attempts):
            self.attempts += 1
            self.transcript.record(name, "note", "open", {"url": url, "headers": shown})
            try:
                ws = await connect(
                    url,
                    additional_headers=headers,
                    open_timeout=self.profile.timeouts.connect_s,
                    close_timeout=self.profile.timeouts.connect_s,
                    ping_interval=heartbeat,
                    ping_timeout=heartbeat,
                    ssl=self._ssl,
                    max_size=_MAX_INCOMING,
                )
            except InvalidURI as exc:
                raise ConfigError(f"{redact_url(url)} is not a WebSocket URL ({exc})") from None
            except InvalidStatus as exc:
                status = exc.response.status_code
                self.transcript.record(name, "in", "refused", {"status": status})
                if refusal_is_answer or status < 500:
                    self.availability.mark_up(url)
                    if refusal_is_answer:
                        raise
                    raise HandshakeRefused(status, url) from None
                last = f"handshake refused with HTTP {status}"
            except (OSError, TimeoutError, InvalidHandshake) as exc:
                last = f"{type(exc).__name__}: {exc}"
            else:
                self.availability.mark_up(url)
                self.transcript.record(name, "note", "opened", {"attempt": attempt + 1})
                return ws
            self.transcript.record(name, "note", "open-failed", {"error": last})
            if attempt < attempts - 1:
                self.retries += 1
                await asyncio.sleep(delays[attempt])
        cause = (
            f"could not open {redact_url(url)} in {attempts} attempt(s); last: {redact_text(last)}"
        )
        self.availability.mark_down(url, cause)
        raise ConnectionLostError(cause)

    async def close_all(self) -> None:
        for client in self.clients:
            await client.close()


class AgentClient:
    """One open connection, with per-run queues and bounded waits."""

    def __init__(
        self,
        ws: ClientConnection,
        label: str,
        profile: Profile,
        pacer: Pacer,
        transcript: Transcript,
        resources: contextlib.AsyncExitStack,
    ) -> None:
        self.ws = ws
        self.label = label
        self.profile = profile
        self.timeout_s = profile.timeouts.message_s
        self.transcript = transcript
        self.ready: Message = {}
        # Seconds from sending a user_message to receiving its agent_started, by run_id.
        self.start_latency_s: dict[str, float] = {}
        self._pacer = pacer
        self._resources = resources
        self._first: asyncio.Future[Message] = asyncio.get_running_loop().create_future()
        self._general: asyncio.Queue[Message] = asyncio.Queue()
        self._runs: defaultdict[str, asyncio.Queue[Message]] = defaultdict(asyncio.Queue)
        self._segments: defaultdict[str, list[Message]] = defaultdict(list)
        self._history: defaultdict[str, list[Message]] = defaultdict(list)
        self._pending: defaultdict[str | None, deque[asyncio.Future[tuple[str, float]]]] = (
            defaultdict(deque)
        )
        self._closed: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._closing = False
        self._reader = asyncio.create_task(self._read(), name=f"{label}-reader")

    # -- identity -------------------------------------------------------------------------

    @property
    def user_id(self) -> Any:
        return self.ready.get("user_id")

    @property
    def run_ids_seen(self) -> set[str]:
        """Every run_id of a run event this connection received."""
        return set(self._history)

    @property
    def close_code(self) -> int | None:
        return self.ws.close_code

    async def read_ready(self) -> Message:
        """Wait for the first message, which must be ``connection_ready``."""
        first = await self._wait(self._first, "the first message (connection_ready)")
        if first.get("type") != "connection_ready":
            raise AssertionError(f"{self.label}: first message was {first!r}, not connection_ready")
        self.ready = first
        return first

    # -- sending --------------------------------------------------------------------------

    async def send_json(self, message: object) -> None:
        await self.send_text(json.dumps(message))

    async def send_text(self, text: str) -> None:
        await self._pacer.message()
        self.transcript.record_text(self.label, "out", text)
        await self._send(text)

    async def send_bytes(self, data: bytes) -> None:
        await self._pacer.message()
        self.transcript.record_binary(self.label, "out", data)
        await self._send(data)

    async def send_burst(self, frames: Iterable[str]) -> int:
        """Send text frames back to back, bypassing pacing (for the rate limit). Returns count."""
        sent = 0
        for text in frames:
            self.transcript.record_text(self.label, "out", text)
            await self._send(text)
            sent += 1
        return sent

    async def _send(self, data: str | bytes) -> None:
        try:
            await self.ws.send(data)
        except ConnectionClosed:
            raise self._closed_error("sending a frame") from None

    async def send_user_message(
        self,
        content: str,
        *,
        thread_id: str | None = None,
        client_msg_id: str | _Auto | None = AUTO,
    ) -> str | None:
        """Send a ``user_message`` (``client_msg_id=None`` omits the field); return the id."""
        cmid = _client_msg_id(client_msg_id)
        await self.send_json(_user_message(content, thread_id, cmid))
        return cmid

    async def start_run(
        self,
        content: str,
        *,
        thread_id: str | None = None,
        client_msg_id: str | _Auto | None = AUTO,
    ) -> str:
        """Send a ``user_message`` and return the ``run_id`` of its ``agent_started``."""
        cmid = _client_msg_id(client_msg_id)
        started: asyncio.Future[tuple[str, float]] = asyncio.get_running_loop().create_future()
        self._pending[cmid].append(started)
        await self._pacer.message()
        sent_at = time.monotonic()
        text = json.dumps(_user_message(content, thread_id, cmid))
        self.transcript.record_text(self.label, "out", text)
        try:
            await self._send(text)
            run_id, arrived_at = await self._wait(started, f"agent_started for {cmid!r}")
        finally:
            with contextlib.suppress(ValueError):
                self._pending[cmid].remove(started)
        self.start_latency_s[run_id] = arrived_at - sent_at
        return run_id

    async def run(
        self,
        content: str,
        *,
        thread_id: str | None = None,
        client_msg_id: str | _Auto | None = AUTO,
    ) -> RunResult:
        """Start a run and wait for all of its events."""
        run_id = await self.start_run(content, thread_id=thread_id, client_msg_id=client_msg_id)
        return await self.collect(run_id)

    async def cancel(self, run_id: str) -> None:
        await self.send_json({"type": "cancel", "run_id": run_id})

    async def resume(self, run_id: str, after_seq: int) -> None:
        await self.send_json({"type": "resume", "run_id": run_id, "after_seq": after_seq})

    async def ping(self, nonce: object = OMIT) -> Message:
        """Send a ``ping`` (without ``nonce`` by default) and return the next general message,
        which must be a ``pong``."""
        message: Message = {"type": "ping"}
        if nonce is not OMIT:
            message["nonce"] = nonce
        await self.send_json(message)
        reply = await self.recv()
        if reply.get("type") != "pong":
            raise AssertionError(f"{self.label}: expected a pong, got {reply!r}")
        return reply

    # -- receiving ------------------------------------------------------------------------

    async def recv(self) -> Message:
        """The next message that belongs to no run (``pong``, ``error``...)."""
        return await self._next(self._general, "a message (pong or error)")

    async def recv_error(self) -> Message:
        """The next general message, which must be an ``error``."""
        message = await self._next(self._general, "an error message")
        if message.get("type") != "error":
            raise AssertionError(f"{self.label}: expected an error message, got {message!r}")
        return message

    async def messages_until_quiet(self, *, quiet_s: float = 0.5) -> list[Message]:
        """General messages as they arrive, until none has come for ``quiet_s`` (or the
        message timeout has passed in all)."""
        received: list[Message] = []
        deadline = time.monotonic() + self.timeout_s
        while time.monotonic() < deadline:
            try:
                received.append(await asyncio.wait_for(self._general.get(), quiet_s))
            except TimeoutError:
                break
        return received

    async def next_event(self, run_id: str) -> Message:
        """The next event of ``run_id`` (it also becomes part of the next ``collect``)."""
        seen = [event.get("type") for event in self._segments[run_id]]
        event = await self._next(self._runs[run_id], f"an event of run {run_id} after {seen}")
        self._segments[run_id].append(event)
        return event

    async def wait_for_event(self, run_id: str, kind: str) -> Message:
        """Read ``run_id``'s events up to and including the first of type ``kind``."""
        while True:
            event = await self.next_event(run_id)
            if event.get("type") == kind:
                return event
            if event.get("type") == "agent_completed":
                raise AssertionError(
                    f"{self.label}: run {run_id} completed before any {kind}: {event!r}"
                )

    async def collect(self, run_id: str) -> RunResult:
        """Read ``run_id``'s events up to ``agent_completed``; return all read since the last
        ``collect`` of that run (so a resume's replay is collected on its own)."""
        while not self._segments[run_id] or (
            self._segments[run_id][-1].get("type") != "agent_completed"
        ):
            await self.next_event(run_id)
        events = tuple(self._segments.pop(run_id))
        return RunResult(run_id, events)

    def events(self, run_id: str) -> list[Message]:
        """Every event of ``run_id`` this connection received so far, replays included."""
        return list(self._history.get(run_id, []))

    async def expect_no_events(self, run_id: str | None = None, *, for_s: float = 0.3) -> None:
        """Assert that no event (of ``run_id``, or of any run) arrives within ``for_s``."""
        before = {key: len(value) for key, value in self._history.items()}
        await asyncio.sleep(for_s)
        for key, value in self._history.items():
            if run_id is not None and key != run_id:
                continue
            extra = value[before.get(key, 0) :]
            if extra:
                raise AssertionError(f"{self.label}: unexpected events of run {key}: {extra!r}")

    async def expect_no_message(self, *, for_s: float = 0.3) -> None:
        """Assert that no general message (error, pong) arrives within ``for_s``."""
        await asyncio.sleep(for_s)
        if not self._general.empty():
            raise AssertionError(f"{self.label}: unexpected message {self._general.get_nowait()!r}")

    async def wait_closed(self) -> int:
        """Wait for the server to close the connection; return the close code."""
        await self._wait(self._closed, "the server to close the connection")
        code = self.ws.close_code
        assert code is not None
        return code

    async def close(self) -> None:
        """Close from our side (idempotent) and release the pacing slot."""
        self._closing = True
        await self.ws.close()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(self._reader), self.profile.timeouts.connect_s)
        if not self._reader.done():
            self._reader.cancel()
        await self._resources.aclose()

    # -- internals ------------------------------------------------------------------------

    async def _read(self) -> None:
        try:
            async for frame in self.ws:
                if isinstance(frame, bytes):
                    self.transcript.record_binary(self.label, "in", frame)
                    self._route({"type": "(binary frame)", "size": len(frame)})
                    continue
                self.transcript.record_text(self.label, "in", frame)
                try:
                    message = json.loads(frame)
                except ValueError:
                    message = {"type": "(not JSON)", "raw": frame[:200]}
                if not isinstance(message, dict):
                    message = {"type": "(not an object)", "raw": message}
                self._route(message)
        except ConnectionClosed:
            pass  # The close code is read below; a wait reports it if it matters.
        finally:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.profile.timeouts.connect_s):
                    await self.ws.wait_closed()
            # Recorded as a frame, so transcripts of different modes compare close codes.
            self.transcript.record(
                self.label,
                "out" if self._closing else "in",
                "close",
                {"code": self.ws.close_code, "reason": self.ws.close_reason},
            )
            if not self._closed.done():
                self._closed.set_result(None)

    def _route(self, message: Message) -> None:
        arrived_at = time.monotonic()
        if not self._first.done():
            self._first.set_result(message)
            if message.get("type") == "connection_ready":
                return
        kind = message.get("type")
        run_id = message.get("run_id")
        if kind in RUN_EVENT_TYPES and isinstance(run_id, str):
            self._history[run_id].append(message)
            self._runs[run_id].put_nowait(message)
            if kind == "agent_started":
                payload = message.get("payload")
                cmid = payload.get("client_msg_id") if isinstance(payload, dict) else None
                waiting = self._pending.get(cmid)
                while waiting:
                    started = waiting.popleft()
                    if not started.done():
                        started.set_result((run_id, arrived_at))
                        break
            return
        ref = message.get("ref")
        if kind == "error" and isinstance(ref, str) and self._pending.get(ref):
            # The answer to a start_run that is waiting: it fails with this error.
            for started in self._pending.pop(ref):
                if not started.done():
                    started.set_exception(RunRefused(message))
            return
        self._general.put_nowait(message)

    async def _next(self, queue: asyncio.Queue[Message], what: str) -> Message:
        if not queue.empty():
            return queue.get_nowait()
        try:
            return await self._wait(queue.get(), what)
        except (ConnectionLostError, AssertionError):
            # Closed while waiting: what arrived before the close still counts.
            if not queue.empty():
                return queue.get_nowait()
            raise

    async def _wait(self, awaitable: Awaitable[T], what: str) -> T:
        # Futures we were handed (connection state, start_run answers) are never cancelled here.
        owned = not isinstance(awaitable, asyncio.Future)
        waiter = asyncio.ensure_future(awaitable)
        watched: set[asyncio.Future[Any]] = {waiter}
        if waiter is not self._closed:
            watched.add(self._closed)
        try:
            done, _ = await asyncio.wait(
                watched, timeout=self.timeout_s, return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            if owned and not waiter.done():
                waiter.cancel()
        if waiter in done:
            return waiter.result()
        if self._closed in done:
            raise self._closed_error(f"waiting for {what}")
        raise TimeoutError(
            f"{self.label}: timed out after {self.timeout_s:g} s waiting for {what}"
            f" (message timeout of the {self.profile.mode} profile)"
        )

    def _closed_error(self, doing: str) -> Exception:
        code = self.ws.close_code
        reason = self.ws.close_reason
        text = f"{self.label}: connection closed (code {code}, reason {reason!r}) while {doing}"
        if self._closing:
            return AssertionError(text + "; the test had closed it")
        if code is None or code in LOST_CODES:
            return ConnectionLostError(text)
        return AssertionError(text)


def _client_msg_id(value: str | _Auto | None) -> str | None:
    """``AUTO`` becomes a fresh id; ``None`` means the message carries none."""
    return new_id("msg") if isinstance(value, _Auto) else value


def _user_message(content: str, thread_id: str | None, client_msg_id: str | None) -> Message:
    message: Message = {
        "type": "user_message",
        "thread_id": thread_id or new_id("thread"),
        "content": content,
    }
    if client_msg_id is not None:
        message["client_msg_id"] = client_msg_id
    return message

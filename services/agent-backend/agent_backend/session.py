"""One WebSocket connection's side of the server: its outbox, flow control and subscriptions.

``Session.deliver`` puts a message in the connection's outbox; one flush per event-loop turn
writes everything waiting in a single transport write.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field

from websockets.frames import CloseCode
from websockets.protocol import State

from agent_backend.config import ServerConfig
from agent_backend.connection import AgentConnection
from agent_backend.ids import new_id
from agent_backend.log import log_event
from agent_backend.messages import MessageError
from agent_backend.metrics import Metrics
from agent_backend.ratelimit import RateLimiter
from agent_backend.runs import RunMachine


@dataclass(eq=False)
class LiveRun:
    """A run that has not completed: its task and the sessions that receive its events."""

    machine: RunMachine
    subscribers: set[Session] = field(default_factory=set)
    task: asyncio.Task[None] | None = None
    connection_id: str = ""
    started: float = field(default_factory=time.monotonic)


class Session:
    """One WebSocket connection: its user, outbox, rate limiter and live subscriptions.

    Messages are delivered synchronously into the outbox; one flush per event-loop turn writes
    all of them in a single transport write. On loopback each write is a syscall that also
    runs the receiver's TCP stack, the main cost of a run's events, so a run whose steps are
    instant reaches its client in one write. While the transport is paused (the client reads
    slowly) messages wait in the outbox; a client that lets ``max_pending_messages`` pile up
    is disconnected with 1008.
    """

    def __init__(
        self, connection: AgentConnection, user_id: str, config: ServerConfig, metrics: Metrics
    ) -> None:
        self.connection = connection
        self.user_id = user_id
        self.connection_id = new_id("conn")
        self.limiter = RateLimiter(config.rate_limit_per_s)
        self.subscriptions: set[LiveRun] = set()
        self._metrics = metrics
        self._max_pending = config.max_pending_messages
        self._loop = asyncio.get_running_loop()
        self._outbox: deque[str] = deque()
        self._flush_scheduled = False
        self._idle = asyncio.Event()
        self._idle.set()
        self._closing = False
        self._close_task: asyncio.Task[None] | None = None
        connection.on_writable = self._schedule_flush

    def deliver(self, message: str, *, run_event: bool = False) -> None:
        self._enqueue((message,), run_events=run_event)

    def deliver_events(self, wires: Sequence[str]) -> None:
        """Deliver a run's events, in order, as one batch."""
        self._enqueue(wires, run_events=True)

    def _enqueue(self, messages: Sequence[str], *, run_events: bool) -> None:
        if self._closing or not messages:
            return
        if len(self._outbox) + len(messages) > self._max_pending:
            self._overflow()
            return
        self._outbox.extend(messages)
        if run_events:
            self._metrics.events_sent += len(messages)
        self._idle.clear()
        self._schedule_flush()

    def send_error(self, error: MessageError) -> None:
        self._metrics.errors_total[error.code.value] += 1
        self.deliver(error.encode())

    async def flushed(self) -> None:
        """Return once everything delivered so far has been written (or the session stopped)."""
        await self._idle.wait()

    def stop(self) -> None:
        self._closing = True
        self._outbox.clear()
        self._idle.set()
        self.connection.on_writable = None

    def _schedule_flush(self) -> None:
        if not self._flush_scheduled and self.connection.writable:
            self._flush_scheduled = True
            self._loop.call_soon(self._flush)

    def _flush(self) -> None:
        self._flush_scheduled = False
        connection = self.connection
        outbox = self._outbox
        if self._closing or not outbox or not connection.writable:
            return
        if connection.protocol.state is not State.OPEN:
            self.stop()
            return
        connection.write_texts(outbox)
        outbox.clear()
        self._idle.set()

    def _overflow(self) -> None:
        self.stop()
        log_event(
            logging.WARNING,
            "slow_client_disconnected",
            connection_id=self.connection_id,
            user_id=self.user_id,
            pending=self._max_pending,
        )
        self._close_task = self._loop.create_task(
            self.connection.close(CloseCode.POLICY_VIOLATION, "client too slow")
        )

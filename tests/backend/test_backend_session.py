"""Session: one connection's outbox, delivered in one write per event-loop turn."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any, cast

from websockets.protocol import State

from agent_backend.config import ServerConfig
from agent_backend.connection import AgentConnection
from agent_backend.metrics import Metrics
from agent_backend.session import Session


class RecordingConnection:
    """Just enough of an ``AgentConnection`` for a session: it records what is written."""

    def __init__(self) -> None:
        self.writable = True
        self.on_writable: Any = None
        self.written: list[list[str]] = []
        self.protocol = SimpleNamespace(state=State.OPEN)

    def write_texts(self, messages: Any) -> None:
        self.written.append(list(messages))


def session_on(connection: RecordingConnection) -> Session:
    config = ServerConfig(jwt_secret="s" * 32)
    return Session(cast(AgentConnection, connection), "alice", config, Metrics())


async def test_messages_delivered_in_one_turn_leave_in_one_write() -> None:
    connection = RecordingConnection()
    session = session_on(connection)
    session.deliver("a")
    session.deliver_events(["b", "c"])
    await asyncio.wait_for(session.flushed(), 1.0)
    assert connection.written == [["a", "b", "c"]]


async def test_delivering_no_events_leaves_the_session_idle() -> None:
    connection = RecordingConnection()
    session = session_on(connection)
    session.deliver_events([])
    await asyncio.wait_for(session.flushed(), 1.0)
    assert connection.written == []

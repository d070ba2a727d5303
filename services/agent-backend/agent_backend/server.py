"""The thin I/O layer: wires the protocol modules to ``websockets.asyncio.server``.

One ``AgentServer`` serves HTTP (through ``process_request``) and the ``/ws`` endpoint on one
port. Each connection gets a ``Session``: an outbox flushed once per event-loop turn in a single
write, so a run never waits for a slow client and events reach each client in the order they
were produced. Its ``AgentConnection`` hands each whole text frame to ``_on_text`` as it arrives
(``connection.py``); the handler task's ``recv()`` loop sees only what takes websockets' path.
"""

from __future__ import annotations

import asyncio
import email.utils
import logging
import time
from http import HTTPStatus

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.frames import CloseCode
from websockets.http11 import Request, Response

from agent_backend import __version__
from agent_backend.agent import can_run_now, drive, run_now
from agent_backend.config import ServerConfig
from agent_backend.connection import AgentConnection
from agent_backend.http_api import ApiState, HttpAnswer, HttpRequest, Upgrade, answer
from agent_backend.ids import new_id
from agent_backend.log import log_event
from agent_backend.messages import (
    Cancel,
    ErrorCode,
    MessageError,
    Ping,
    Resume,
    UserMessage,
    connection_ready,
    decode_object,
    parse_client_message,
    pong,
    ref_of,
)
from agent_backend.metrics import Metrics
from agent_backend.runs import RunEvent, RunMachine, RunRegistry
from agent_backend.session import LiveRun, Session
from agent_backend.steps import parse_steps

# websockets logs request lines and headers at DEBUG, and ``?token=`` is in the request line:
# its logger never goes below WARNING.
_ws_logger = logging.getLogger("agent_backend.websockets")
_ws_logger.setLevel(logging.WARNING)

# After the drain deadline, how long to wait for aborted connections to be gone.
_ABORT_GRACE_S = 1.0
# ``close()`` waits this long for closing handshakes before aborting connections.
_CLOSE_GRACE_S = 1.0


class AgentServer:
    """The agent backend on one host and port; ``start``, then ``shutdown`` or ``close``."""

    def __init__(self, config: ServerConfig) -> None:
        self.config = config
        self.metrics = Metrics()
        self.registry = RunRegistry(retention_s=config.run_retention_s)
        self.draining = False
        self._live: dict[str, LiveRun] = {}
        self._sessions: set[Session] = set()
        self._tracked: set[ServerConnection] = set()
        self._server: Server | None = None
        self._started = time.monotonic()
        self._stop_task: asyncio.Task[None] | None = None
        self._drain_task: asyncio.Task[None] | None = None
        self._api = ApiState(
            version=__version__,
            jwt_secret=config.jwt_secret,
            test_password=config.test_password,
            default_ttl_s=config.default_ttl_s,
            max_ttl_s=config.max_ttl_s,
            uptime_s=lambda: time.monotonic() - self._started,
            draining=lambda: self.draining,
            render_metrics=lambda: self.metrics.render(uptime_s=time.monotonic() - self._started),
            now=time.time,
        )

    # -- lifecycle --------------------------------------------------------------------------
    async def start(self) -> None:
        config = self.config
        tracked = self._tracked

        class TrackedConnection(AgentConnection):
            # Every TCP connection, handshake done or not, so a deadline can abort them all.
            def connection_made(self, transport: asyncio.BaseTransport) -> None:
                tracked.add(self)
                super().connection_made(transport)

            def connection_lost(self, exc: Exception | None) -> None:
                tracked.discard(self)
                super().connection_lost(exc)

        self._started = time.monotonic()
        self._server = await serve(
            self._handle,
            config.host,
            config.port,
            process_request=self._process_request,
            server_header=f"agent-backend/{__version__}",
            # Compression costs CPU and ~100 KiB a connection for small JSON messages.
            compression=None,
            ping_interval=config.heartbeat_interval_s,
            ping_timeout=config.heartbeat_interval_s,
            close_timeout=max(config.drain_timeout_s, 0.1),
            max_size=config.max_message_bytes,
            logger=_ws_logger,
            create_connection=TrackedConnection,
        )
        if config.secret_generated:
            log_event(
                logging.WARNING,
                "jwt_secret_generated",
                reason="no JWT secret configured in a test setting; tokens die with the process",
            )
        if config.test_password is None:
            log_event(
                logging.WARNING,
                "token_endpoint_disabled",
                reason="no test password configured; /auth/token refuses everyone",
            )
        log_event(
            logging.INFO,
            "server_started",
            host=self.host,
            port=self.port,
            env=config.env.value,
            version=__version__,
        )

    @property
    def host(self) -> str:
        return str(self._bound()[0])

    @property
    def port(self) -> int:
        return int(self._bound()[1])

    def _bound(self) -> tuple[str, int]:
        if self._server is None:
            raise RuntimeError("the server has not started")
        sockname = self._server.sockets[0].getsockname()
        return sockname[0], sockname[1]

    async def shutdown(self) -> None:
        """Drain (health 503, handshakes 503, runs cancelled, 1001) within the drain timeout."""
        if self._drain_task is None:
            self._drain_task = asyncio.get_running_loop().create_task(self._drain())
        await asyncio.shield(self._drain_task)

    async def close(self) -> None:
        """Stop now: cancel runs, close connections with 1001; idempotent."""
        self.draining = True
        for live in list(self._live.values()):
            if live.task is not None:
                live.task.cancel()
        await self._stop(time.monotonic() + _CLOSE_GRACE_S)

    async def _drain(self) -> None:
        loop_deadline = time.monotonic() + self.config.drain_timeout_s
        self.draining = True
        log_event(
            logging.INFO,
            "server_draining",
            active_runs=len(self._live),
            connections=len(self._sessions),
        )
        tasks = [live.task for live in self._live.values() if live.task is not None]
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=_remaining(loop_deadline))
        # Let the runs' done callbacks publish; then wait for the flushes of agent_completed.
        await asyncio.sleep(0)
        flushes = [asyncio.ensure_future(s.flushed()) for s in self._sessions]
        if flushes:
            _, pending = await asyncio.wait(flushes, timeout=_remaining(loop_deadline))
            for waiter in pending:
                waiter.cancel()
        await self._stop(loop_deadline)

    async def _stop(self, deadline: float) -> None:
        if self._stop_task is None:
            self._stop_task = asyncio.get_running_loop().create_task(self._stop_now(deadline))
        await asyncio.shield(self._stop_task)

    async def _stop_now(self, deadline: float) -> None:
        server = self._server
        if server is None:
            return
        server.close(close_connections=True)  # closing handshakes with 1001
        try:
            await asyncio.wait_for(server.wait_closed(), _remaining(deadline))
        except TimeoutError:
            log_event(
                logging.WARNING,
                "connections_aborted",
                count=len(self._tracked),
                reason="drain deadline passed before every connection closed",
            )
            for connection in list(self._tracked):
                connection.transport.abort()
            try:
                await asyncio.wait_for(server.wait_closed(), _ABORT_GRACE_S)
            except TimeoutError:
                log_event(
                    logging.ERROR,
                    "server_stop_incomplete",
                    reason="connection handlers still running after abort",
                )
        for session in list(self._sessions):
            session.stop()
        log_event(logging.INFO, "server_stopped")

    # -- HTTP -------------------------------------------------------------------------------
    def _process_request(self, connection: ServerConnection, request: Request) -> Response | None:
        headers = {"authorization": request.headers.get_all("Authorization")}
        result = answer(HttpRequest.from_target(request.path, headers, request.method), self._api)
        if isinstance(result, Upgrade):
            connection.username = result.user_id
            return None
        path = request.path.partition("?")[0]
        if path == "/ws":
            self.metrics.handshakes_rejected[result.status.value] += 1
            log_event(
                logging.INFO,
                "handshake_rejected",
                status=result.status.value,
                reason=result.reason,
                remote=_remote(connection),
            )
        return _response(result)

    # -- WebSocket --------------------------------------------------------------------------
    async def _handle(self, connection: ServerConnection) -> None:
        assert isinstance(connection, AgentConnection)  # serve(create_connection=...) made it
        session = Session(connection, connection.username, self.config, self.metrics)
        self._sessions.add(session)
        self.metrics.connections += 1
        log_event(
            logging.INFO,
            "connection_opened",
            connection_id=session.connection_id,
            user_id=session.user_id,
            remote=_remote(connection),
        )
        session.deliver(
            connection_ready(
                user_id=session.user_id,
                connection_id=session.connection_id,
                server_version=__version__,
                heartbeat_interval_s=self.config.heartbeat_interval_s,
            )
        )
        connection.on_text = lambda text: self._on_text(session, text)
        try:
            while True:
                try:
                    # Whole text frames mostly go to on_text as they arrive (connection.py);
                    # recv() returns the rest, in order.
                    message = await connection.recv()
                except ConnectionClosed:
                    break
                if isinstance(message, bytes):
                    await connection.close(
                        CloseCode.UNSUPPORTED_DATA, "binary frames are not supported"
                    )
                    break
                self._on_text(session, message)
        finally:
            connection.on_text = None
            self._sessions.discard(session)
            for live in session.subscriptions:
                live.subscribers.discard(session)
            session.subscriptions.clear()
            session.stop()
            self.metrics.connections -= 1
            log_event(
                logging.INFO,
                "connection_closed",
                connection_id=session.connection_id,
                user_id=session.user_id,
                code=connection.close_code,
                reason=connection.close_reason,
            )

    def _on_text(self, session: Session, text: str) -> None:
        if not session.limiter.allow(time.monotonic()):
            obj = decode_object(text)
            ref = ref_of(obj) if isinstance(obj, dict) else None
            session.send_error(
                MessageError(
                    ErrorCode.RATE_LIMITED,
                    f"more than {self.config.rate_limit_per_s} messages in one second; "
                    "message dropped",
                    ref,
                )
            )
            return
        message = parse_client_message(text)
        if isinstance(message, MessageError):
            session.send_error(message)
        elif isinstance(message, Ping):
            session.deliver(pong(message.nonce))
        elif isinstance(message, UserMessage):
            self._start_run(session, message)
        elif isinstance(message, Cancel):
            self._cancel_run(session, message)
        elif isinstance(message, Resume):
            self._resume_run(session, message)

    def _start_run(self, session: Session, message: UserMessage) -> None:
        user_id = session.user_id
        limit = self.config.max_active_runs_per_user
        if self.registry.active_count(user_id) >= limit:
            session.send_error(
                MessageError(
                    ErrorCode.TOO_MANY_RUNS,
                    f"at most {limit} active runs per user",
                    message.client_msg_id,
                )
            )
            return
        machine = RunMachine(run_id=new_id("run"), thread_id=message.thread_id, user_id=user_id)
        self.registry.add(machine)
        log_event(
            logging.DEBUG,
            "run_started",
            run_id=machine.run_id,
            user_id=user_id,
            connection_id=session.connection_id,
            thread_id=message.thread_id,
        )
        steps = parse_steps(message.content)
        if can_run_now(steps) and not self.draining:
            # Nothing can subscribe to or cancel a run that ends before this call returns, so
            # it needs no LiveRun: its events go to this connection as one batch.
            started = time.monotonic()
            machine.start(message.client_msg_id)
            run_now(machine, steps, _sent_when_finished)
            session.deliver_events(self._finished(machine, session.connection_id, started))
            return
        live = LiveRun(machine, {session}, connection_id=session.connection_id)
        session.subscriptions.add(live)
        self._live[machine.run_id] = live
        self.metrics.runs_active += 1

        def publish(event: RunEvent) -> None:
            self._publish(live, event)

        # The driver task is scheduled before agent_started is published, so its first steps
        # run before this connection's flush and go out in the same write.
        task = asyncio.get_running_loop().create_task(drive(machine, steps, publish))
        live.task = task
        task.add_done_callback(lambda done: self._task_done(live, done))
        publish(machine.start(message.client_msg_id))
        if self.draining:
            # Shutdown has already cancelled the runs it knew of; this one is cancelled too.
            task.cancel()

    def _publish(self, live: LiveRun, event: RunEvent) -> None:
        for session in live.subscribers:
            session.deliver(event.wire, run_event=True)

    def _task_done(self, live: LiveRun, task: asyncio.Task[None]) -> None:
        machine = live.machine
        if not task.cancelled() and task.exception() is not None:
            log_event(
                logging.ERROR, "run_crashed", run_id=machine.run_id, error=repr(task.exception())
            )
        if not machine.finished:
            # Cancelled before its first step ran, or crashed: end it as cancelled.
            for event in machine.cancel():
                self._publish(live, event)
        self._live.pop(machine.run_id, None)
        for session in live.subscribers:
            session.subscriptions.discard(live)
        self.metrics.runs_active -= 1
        self._finished(machine, live.connection_id, live.started)

    def _finished(self, machine: RunMachine, connection_id: str, started: float) -> tuple[str, ...]:
        """Keep the finished run for resume, count and log it; its encoded events."""
        wires = self.registry.finished(machine)
        status = machine.status.value if machine.status is not None else "unknown"
        self.metrics.runs_total[status] += 1
        log_event(
            logging.INFO,
            "run_finished",
            run_id=machine.run_id,
            user_id=machine.user_id,
            connection_id=connection_id,
            thread_id=machine.thread_id,
            status=status,
            events=machine.last_seq,
            duration_ms=round((time.monotonic() - started) * 1000, 3),
        )
        return wires

    def _cancel_run(self, session: Session, message: Cancel) -> None:
        if self.registry.get(message.run_id, session.user_id) is None:
            session.send_error(MessageError(ErrorCode.UNKNOWN_RUN, "no such run", message.run_id))
            return
        live = self._live.get(message.run_id)
        # A finished run is left alone: cancelling it is a no-op.
        if live is not None and live.task is not None:
            live.task.cancel()

    def _resume_run(self, session: Session, message: Resume) -> None:
        run = self.registry.get(message.run_id, session.user_id)
        if run is None:
            session.send_error(MessageError(ErrorCode.UNKNOWN_RUN, "no such run", message.run_id))
            return
        session.deliver_events(run.wires_after(message.after_seq))
        live = self._live.get(message.run_id)
        if live is not None and not run.finished:
            live.subscribers.add(session)
            session.subscriptions.add(live)


def _sent_when_finished(event: RunEvent) -> None:
    """``run_now``'s emit for an instant run: the machine keeps each event, and they leave
    together, as the registry keeps them, once the run has finished."""


def _remaining(deadline: float) -> float:
    return max(deadline - time.monotonic(), 0.0)


def _remote(connection: ServerConnection) -> str:
    address = connection.remote_address
    return f"{address[0]}:{address[1]}" if address else ""


def _response(result: HttpAnswer) -> Response:
    headers = Headers(
        [
            ("Date", email.utils.formatdate(usegmt=True)),
            ("Connection", "close"),
            ("Content-Length", str(len(result.body))),
            ("Content-Type", result.content_type),
            *result.headers,
        ]
    )
    status = HTTPStatus(result.status)
    return Response(status.value, status.phrase, headers, result.body)

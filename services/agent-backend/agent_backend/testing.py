"""Run the backend in-process on an ephemeral port, for tests and the harness's minimal mode.

    server = await start_in_process(test_password="pw")
    ...  # server.http_url, server.ws_url, server.auth_url
    await server.shutdown()   # SIGTERM semantics; or ``await server.close()`` to stop at once

Any number of servers may be started and stopped in one process, on any event loop (a loop
in a background thread included). Without ``jwt_secret`` a random per-server secret is used.
Logging is left to the caller: records go to the ``agent_backend`` logger as JSON strings.
"""

from __future__ import annotations

from agent_backend.config import Environment, ServerConfig, generated_secret
from agent_backend.server import AgentServer


class RunningServer:
    """A started server: its bound address, URLs, and how to stop it."""

    def __init__(self, server: AgentServer) -> None:
        self._server = server
        self.host: str = server.host
        self.port: int = server.port

    @property
    def _netloc(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    @property
    def http_url(self) -> str:
        """Base URL for the HTTP endpoints, e.g. ``http://127.0.0.1:43567`` (no trailing /)."""
        return f"http://{self._netloc}"

    @property
    def ws_url(self) -> str:
        """The WebSocket endpoint itself, e.g. ``ws://127.0.0.1:43567/ws``."""
        return f"ws://{self._netloc}/ws"

    @property
    def auth_url(self) -> str:
        """The auth base, e.g. ``http://127.0.0.1:43567/auth``; the token is at ``/token``."""
        return f"{self.http_url}/auth"

    @property
    def server(self) -> AgentServer:
        """The server object itself, for tests that look inside (metrics, draining)."""
        return self._server

    async def close(self) -> None:
        """Stop at once: runs cancelled, connections closed with 1001. Idempotent."""
        await self._server.close()

    async def shutdown(self) -> None:
        """Drain as on SIGTERM (see ``docs/protocol.md``), then stop. Idempotent."""
        await self._server.shutdown()

    def __repr__(self) -> str:
        return f"RunningServer({self.http_url})"


async def start_in_process(
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    test_password: str,
    jwt_secret: str | None = None,
    heartbeat_interval_s: float = 20.0,
    drain_timeout_s: float = 5.0,
) -> RunningServer:
    """Start a test-setting server and return once it accepts connections.

    Give ``host`` as an IP address: a name such as ``localhost`` may bind several sockets, and
    with ``port=0`` each gets its own port (``RunningServer.port`` is the first one's).
    Raises ``agent_backend.config.ConfigError`` for a secret under 32 bytes or bad numbers.
    """
    config = ServerConfig(
        jwt_secret=jwt_secret if jwt_secret is not None else generated_secret(),
        secret_generated=jwt_secret is None,
        test_password=test_password,
        host=host,
        port=port,
        heartbeat_interval_s=heartbeat_interval_s,
        drain_timeout_s=drain_timeout_s,
        env=Environment.TEST,
    )
    server = AgentServer(config)
    await server.start()
    return RunningServer(server)

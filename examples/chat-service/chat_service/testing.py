"""The in-process factory the harness's minimal mode calls.

server = await start(host="127.0.0.1", port=0, test_token="t0ken")
...  # ws://127.0.0.1:<server.port>/ws with "Authorization: Bearer t0ken"
await server.shutdown()   # as on SIGTERM; or ``await server.close()`` to stop at once
"""

from __future__ import annotations

from chat_service.server import ChatServer


class RunningChat:
    """A started server: the bound port, and how to stop it."""

    def __init__(self, server: ChatServer) -> None:
        self.server = server
        self.host = server.host
        self.port = server.port

    async def close(self) -> None:
        await self.server.close()

    async def shutdown(self) -> None:
        await self.server.shutdown()

    def __repr__(self) -> str:
        return f"RunningChat({self.host}:{self.port})"


async def start(
    *, host: str = "127.0.0.1", port: int = 0, test_token: str, drain_timeout_s: float = 5.0
) -> RunningChat:
    """Start a server that accepts ``test_token`` and return once it listens."""
    server = ChatServer(host=host, port=port, token=test_token, drain_timeout_s=drain_timeout_s)
    await server.start()
    return RunningChat(server)

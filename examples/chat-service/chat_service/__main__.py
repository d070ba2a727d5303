"""``python -m chat_service``: serve until SIGTERM or SIGINT, then close sockets and exit 0.

Environment: ``MC_TEST_TOKEN`` (the bearer token, required), ``CHAT_HOST`` (default
``127.0.0.1``), ``CHAT_PORT`` (default 8080), ``CHAT_DRAIN_TIMEOUT_S`` (default 5).
A bad setting prints one line on stderr and exits with status 2.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field

from chat_service.server import ChatServer


@dataclass(frozen=True)
class Settings:
    host: str
    port: int
    token: str = field(repr=False)
    drain_timeout_s: float


class SettingsError(ValueError):
    """A setting that cannot be right; the message says which and what to do."""


def settings_from(env: Mapping[str, str]) -> Settings:
    token = env.get("MC_TEST_TOKEN", "")
    if not token:
        raise SettingsError("set MC_TEST_TOKEN to the bearer token clients must send")
    try:
        port = int(env.get("CHAT_PORT", "8080"))
        drain_timeout_s = float(env.get("CHAT_DRAIN_TIMEOUT_S", "5"))
    except ValueError as exc:
        raise SettingsError(f"CHAT_PORT or CHAT_DRAIN_TIMEOUT_S is not a number: {exc}") from None
    if not 0 <= port <= 65535:
        raise SettingsError(f"CHAT_PORT must be 0 to 65535, not {port}")
    return Settings(env.get("CHAT_HOST", "127.0.0.1"), port, token, drain_timeout_s)


async def serve(settings: Settings) -> None:
    # Handlers before the server starts: a SIGTERM right after start must still drain.
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    server = ChatServer(
        host=settings.host,
        port=settings.port,
        token=settings.token,
        drain_timeout_s=settings.drain_timeout_s,
    )
    await server.start()
    await stop.wait()
    logging.getLogger("chat_service").info("signal received: draining")
    await server.shutdown()


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    try:
        settings = settings_from(os.environ)
    except SettingsError as exc:
        print(f"chat_service: {exc}", file=sys.stderr)
        return 2
    try:
        asyncio.run(serve(settings))
    except OSError as exc:
        print(
            f"chat_service: cannot serve on {settings.host}:{settings.port}: {exc.strerror}",
            file=sys.stderr,
        )
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""``python -m agent_backend``: run the server until SIGTERM or SIGINT, then drain and exit 0.

A configuration problem prints one line on stderr and exits with status 2, no traceback.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
from collections.abc import Callable, Sequence
from typing import TextIO

from agent_backend.config import ConfigError, ServerConfig, load_config
from agent_backend.log import JsonFormatter, TurnFlushedHandler, log_event, write_directly_to
from agent_backend.server import AgentServer


def _configure_logging(config: ServerConfig, stream: TextIO | None = None) -> logging.Handler:
    """Logging for a process that is only this server: JSON lines into ``stream``, stderr by
    default. Never applied in-process (``agent_backend.testing``): that is the host's to set."""
    if stream is None:
        # Block-buffered on stderr's descriptor, flushed once per loop turn; closefd=False
        # leaves fd 2 open for tracebacks and for what Python itself prints.
        stream = open(  # noqa: SIM115 - lives as long as the process
            sys.stderr.fileno(),
            "w",
            buffering=1 << 16,
            encoding="utf-8",
            errors="backslashreplace",
            closefd=False,
        )
    handler = TurnFlushedHandler(stream)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(config.log_level_number)
    # The process's one handler, no filters: our lines need not become records first.
    write_directly_to(handler)
    # No line carries a thread or process name: spare the other records looking them up.
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    return handler


async def _serve(config: ServerConfig, announce: Callable[[AgentServer], None] | None) -> None:
    # Handlers first: a SIGTERM that arrives as soon as the server logs its start (a container
    # stopped at once) must drain, not kill the process.
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    server = AgentServer(config)
    await server.start()
    if announce is not None:
        announce(server)
    await stop.wait()
    log_event(logging.INFO, "signal_received", drain_timeout_s=config.drain_timeout_s)
    await server.shutdown()


def main(
    argv: Sequence[str] | None = None, *, announce: Callable[[AgentServer], None] | None = None
) -> int:
    """Serve until SIGTERM or SIGINT; ``announce`` is called once the server listens."""
    try:
        config = load_config(sys.argv[1:] if argv is None else argv, os.environ)
    except ConfigError as exc:
        print(f"agent_backend: {exc}", file=sys.stderr)
        return exc.exit_code
    handler = _configure_logging(config)
    try:
        asyncio.run(_serve(config, announce))
    except OSError as exc:
        handler.flush()  # the log lines before this one, in order
        # Most often the port is taken; say so in one line.
        print(
            f"agent_backend: cannot serve on {config.host}:{config.port}: {exc.strerror}",
            file=sys.stderr,
        )
        return 2
    finally:
        handler.flush()  # before a traceback, if one follows
    return 0


if __name__ == "__main__":
    sys.exit(main())

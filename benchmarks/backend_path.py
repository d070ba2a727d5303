"""The backend's own CPU per ``user_message``, in one process, without the system calls.

    python benchmarks/backend_path.py [--messages 5000] [--reps 7]

backend_load.py's CPU per run swings with the shared host (0.08 to 0.17 ms for the same code
in one run). This measures the server's side of one run in a steady loop instead: a masked
client frame into a real connection's ``data_received``, websockets' parsing, the run, and the
flush, whose one transport write goes to a sink. It prints the least process CPU time per
message over the repetitions (a busy moment of the host only ever adds), which repeats to a
few percent: use it to compare two versions of the code.

The server is the in-process one (``AgentServer``) with the rate limit lifted and ``python -m
agent_backend``'s process settings, logging at INFO into a block-buffered ``/dev/null`` as it
logs into stderr, with one real client connection for the handshake. Finished runs are
forgotten every 9,000 runs, about what backend_load.py's server holds at its end.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from websockets.asyncio.client import connect
from websockets.frames import Frame, Opcode

from agent_backend.__main__ import _configure_logging
from agent_backend.auth import issue_token
from agent_backend.config import Environment, ServerConfig, generated_secret
from agent_backend.server import AgentServer

CONTENT = "calc (17 + 25) * 3 - 2 ** 5 / 4"  # backend_load.py's
FORGET_AFTER_RUNS = 9000


class Sink:
    """A transport whose writes go nowhere; everything else is the real transport's."""

    def __init__(self, real: Any) -> None:
        self.real = real
        self.writes = 0

    def write(self, data: bytes) -> None:
        self.writes += 1

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)


def server_config() -> ServerConfig:
    return ServerConfig(
        jwt_secret=generated_secret(),
        test_password="unused",
        port=0,
        env=Environment.TEST,
        rate_limit_per_s=10**9,
    )


async def measure(config: ServerConfig, messages: int, reps: int) -> list[float]:
    """Process CPU microseconds per message, one figure per repetition."""
    server = AgentServer(config)
    await server.start()
    token = issue_token("bench", config.jwt_secret, 3600, time.time()).access_token
    client = await connect(
        f"ws://127.0.0.1:{server.port}/ws",
        additional_headers={"Authorization": f"Bearer {token}"},
        compression=None,
    )
    await client.recv()  # connection_ready: the server's handler is waiting for messages
    # The benchmark looks inside: the server-side connection of its one client.
    [connection] = server._tracked
    sink = Sink(connection.transport)
    connection.transport = sink
    text = json.dumps(
        {"type": "user_message", "thread_id": "bench", "content": CONTENT, "client_msg_id": "m"}
    )
    frame = Frame(Opcode.TEXT, text.encode()).serialize(mask=True, extensions=[])

    async def run(count: int) -> None:
        for _ in range(count):
            connection.data_received(frame)
            # One turn for the run's flush, one for the log handler's.
            await asyncio.sleep(0)
            await asyncio.sleep(0)

    await run(min(messages, 2000))  # warm-up
    figures = []
    runs = 0
    for _ in range(reps):
        if runs >= FORGET_AFTER_RUNS:
            server.registry = type(server.registry)(retention_s=config.run_retention_s)
            runs = 0
        writes = sink.writes
        started = time.process_time()
        await run(messages)
        figures.append((time.process_time() - started) / messages * 1e6)
        runs += messages
        if sink.writes - writes < messages:
            raise SystemExit("backend_path: a run wrote nothing; the measurement is void")
    connection.transport = sink.real
    await client.close()
    await server.close()
    return figures


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=5000, help="per repetition (5000)")
    parser.add_argument("--reps", type=int, default=7, help="repetitions (7)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)
    config = server_config()
    # As python -m agent_backend logs into stderr, at INFO, into a block-buffered /dev/null.
    _configure_logging(config, open(os.devnull, "w", buffering=1 << 16))  # noqa: SIM115
    figures = asyncio.run(measure(config, args.messages, args.reps))
    if args.json:
        print(json.dumps({"least_us": min(figures), "per_rep_us": figures}))
        return 0
    print(
        f"server CPU per user_message (calc run, in process, no system calls): "
        f"{min(figures):.1f} us least of {args.reps} x {args.messages}; "
        f"median {statistics.median(figures):.1f} us"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

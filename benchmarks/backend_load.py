"""Load benchmark: N concurrent authenticated connections, each running one ``calc`` run.

    python benchmarks/backend_load.py --connections 1000

The backend runs as a separate process (``python -m agent_backend``) so that client and server
each have their own interpreter, as in a deployment; both share this machine's cores. Phases:

1. untimed: one token per connection from ``/auth/token`` (one user per connection, so the
   per-user limit of 20 active runs does not apply);
2. connect: all connections open at once and wait for ``connection_ready``;
3. run: every connection sends its ``user_message`` at once and reads until
   ``agent_completed``; runs/s is connections / this phase's wall time, and latencies are
   measured per connection from its own send.

The same client load then runs against two references, each in its own process:

- echo: a bare ``websockets`` echo server; each connection sends one message of the same size
  and reads one reply. ``ratio`` is runs/s over echo messages/s.
- floor: a ``websockets`` server that answers each message with a run's five events, canned,
  in one write, as the backend writes them, doing nothing else. ``floor ratio`` (floor runs/s
  over echo messages/s) is the most any server could reach on this stack and client: the
  distance between it and ``ratio`` is what the backend's own work costs.

The phases rotate which goes first each round, and each waits until every server process is
idle. The client is lean, as a load generator must be, so that the ratios compare servers,
not the client's cost of reading one frame or five: one coroutine sends the messages, and in
the run phase each connection splits the server's frames itself and times each one as it
arrives (``LoadConnection``). It decodes a run's first event (the protocol makes it
agent_started) and its last, and only looks for the last in between. No compression anywhere.
Exit status 1 if any run did not succeed.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import math
import os
import platform
import resource
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.asyncio.server import ServerConnection, serve
from websockets.frames import Frame, Opcode
from websockets.protocol import Event
from websockets.version import version as websockets_version

REPO = Path(__file__).resolve().parents[1]
CONTENT = "calc (17 + 25) * 3 - 2 ** 5 / 4"
TIMEOUT_S = 120.0


@dataclass
class PhaseResult:
    label: str
    connections: int
    connect_s: float
    run_s: float
    first_ms: list[float] = field(default_factory=list)  # to agent_started / to the echo
    last_ms: list[float] = field(default_factory=list)  # to agent_completed
    statuses: dict[str, int] = field(default_factory=dict)
    server_cpu_s: float | None = None  # CPU the server process used during the run phase
    client_cpu_s: float = 0.0  # CPU this process used during the run phase

    @property
    def rate(self) -> float:
        return self.connections / self.run_s


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[max(math.ceil(q * len(ordered)) - 1, 0)]


def process_cpu_s(pid: int) -> float | None:
    """CPU seconds a process has run, from /proc (None where there is no /proc).

    ``schedstat`` counts nanoseconds; ``stat`` only clock ticks (10 ms), too coarse for a phase
    of a few tenths of a second. Both count the main thread, the only busy one here.
    """
    try:
        return int(Path(f"/proc/{pid}/schedstat").read_text().split()[0]) / 1e9
    except (OSError, ValueError, IndexError):
        return None


async def wait_idle(pids: list[int], *, window_s: float = 0.05, limit_s: float = 3.0) -> None:
    """Wait until no server process used more than a tenth of ``window_s`` in one window.

    The phase before (its connections closing, its log lines) must not run into the timed
    phase of the other server: without this, whichever phase went second was measured slower.
    """
    deadline = time.monotonic() + limit_s
    before = [process_cpu_s(pid) for pid in pids]
    while time.monotonic() < deadline:
        await asyncio.sleep(window_s)
        after = [process_cpu_s(pid) for pid in pids]
        pairs = zip(before, after, strict=True)
        busy = [b - a for a, b in pairs if a is not None and b is not None]
        if all(used < window_s / 10 for used in busy):
            return
        before = after


def raise_open_files_limit(needed: int) -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < needed:
        target = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        soft = target
    if soft < needed:
        raise SystemExit(f"backend_load: need {needed} open files, the hard limit is {hard}")
    return soft


# -- servers in their own processes --------------------------------------------------------


class ServerProcess:
    def __init__(self, argv: list[str], env: dict[str, str]) -> None:
        self.log = tempfile.TemporaryFile(mode="w+")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            argv, env=env, cwd=REPO, stdout=subprocess.PIPE, stderr=self.log, text=True
        )

    def read_port(self) -> int:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            self.log.seek(0)
            raise SystemExit(f"backend_load: server failed to start:\n{self.log.read()}")
        return int(line)

    def stop(self) -> int:
        self.proc.terminate()
        code = self.proc.wait(30)
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        self.log.close()
        return code


async def _echo(connection: ServerConnection) -> None:
    async for message in connection:
        await connection.send(message)


async def serve_echo() -> None:
    """The reference: a bare websockets echo server (run with --serve-echo)."""
    import signal

    async with serve(_echo, "127.0.0.1", 0, compression=None) as server:
        print(server.sockets[0].getsockname()[1], flush=True)
        stop = asyncio.Event()
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
        await stop.wait()


def run_wires() -> list[bytes]:
    """The events of one run of CONTENT, as the backend encodes them."""
    from agent_backend.agent import run_now
    from agent_backend.runs import RunEvent, RunMachine
    from agent_backend.steps import parse_steps

    machine = RunMachine(run_id="run_" + "0" * 32, thread_id="bench", user_id="bench-0")
    events: list[RunEvent] = [machine.start("m")]
    run_now(machine, parse_steps(CONTENT), events.append)
    return [event.wire.encode() for event in events]


async def serve_floor() -> None:
    """The floor: each message answered with a run's events, canned, in one write.

    What any server on this stack pays to answer a message with five events, the way the
    backend writes them (websockets' sans-I/O protocol, one transport write), with no work in
    between. Run with --serve-floor.
    """
    import signal

    wires = run_wires()

    async def answer(connection: ServerConnection) -> None:
        async for _ in connection:
            for wire in wires:
                connection.protocol.send_text(wire)
            connection.transport.write(b"".join(connection.protocol.data_to_send()))

    async with serve(answer, "127.0.0.1", 0, compression=None) as server:
        print(server.sockets[0].getsockname()[1], flush=True)
        stop = asyncio.Event()
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
        await stop.wait()


def start_backend(log_level: str, secret: str, password: str) -> tuple[ServerProcess, int]:
    env = dict(
        os.environ,
        AGENT_JWT_SECRET=secret,
        AGENT_TEST_PASSWORD=password,
        AGENT_LOG_LEVEL=log_level,
        PYTHONPATH=str(REPO),
    )
    # python -m agent_backend's own main, announcing the bound port on stdout, so the benchmark
    # need not parse logs.
    code = (
        "import sys\n"
        "from agent_backend.__main__ import main\n"
        "sys.exit(main(['--port', '0'], announce=lambda server: print(server.port, flush=True)))\n"
    )
    process = ServerProcess([sys.executable, "-c", code], env)
    return process, process.read_port()


def start_reference(flag: str) -> tuple[ServerProcess, int]:
    """The echo (``--serve-echo``) or floor (``--serve-floor``) server in its own process."""
    process = ServerProcess(
        [sys.executable, __file__, flag], dict(os.environ, PYTHONPATH=str(REPO))
    )
    return process, process.read_port()


# -- the client load -----------------------------------------------------------------------


async def fetch_tokens(port: int, count: int, password: str) -> list[str]:
    semaphore = asyncio.Semaphore(50)

    async def one(index: int) -> str:
        async with semaphore:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            basic = base64.b64encode(f"bench-{index}:{password}".encode()).decode()
            writer.write(
                f"GET /auth/token HTTP/1.1\r\nHost: x\r\nAuthorization: Basic {basic}"
                "\r\n\r\n".encode()
            )
            raw = await reader.read()
            writer.close()
            body = raw.partition(b"\r\n\r\n")[2]
            token: str = json.loads(body)["access_token"]
            return token

    return await asyncio.gather(*(one(i) for i in range(count)))


_FIN_TEXT = 0x81  # the first byte of a final text frame


class LoadConnection(ClientConnection):
    """The load client's connection; while watched, it reads the server's frames itself.

    A load generator must not be what it measures. With ``recv()`` a frame cost the client
    websockets' frame parser, a future and a task wake-up, and its task waited its turn before
    the arrival was timed: in the backend phase (five frames a run) the client used as much
    CPU as the server, and the floor server, which does no work, reached only 0.6-0.8 of the
    echo server's rate. While ``watch``ed, ``data_received`` splits what arrives into frames
    and hands each final text frame to ``on_frame`` at once: a server's frame is a 2-10 byte
    header and the payload, unmasked (RFC 6455, 5.2). Anything else (a ping, a close, a
    fragment, a masked frame) hands the rest of the stream to websockets' own parser, which
    still gives text frames to ``on_frame`` through ``process_event``. Outside a run phase the
    connection is websockets' own.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.on_frame: Callable[[bytes], None] | None = None
        self._reading = False
        self._partial = b""

    def watch(self, on_frame: Callable[[bytes], None]) -> None:
        if self.protocol.reader.buffer:
            raise RuntimeError("backend_load: the server sent data before the run phase")
        self.on_frame = on_frame
        self._reading = True

    def unwatch(self) -> None:
        self.on_frame = None
        self._reading = False
        partial, self._partial = self._partial, b""
        if partial:
            super().data_received(partial)

    def data_received(self, data: bytes) -> None:
        if not self._reading:
            super().data_received(data)
            return
        buffer = self._partial + data if self._partial else data
        size, offset = len(buffer), 0
        while size - offset >= 2:
            if buffer[offset] != _FIN_TEXT or buffer[offset + 1] & 0x80:
                self._reading = False
                self._partial = b""
                super().data_received(buffer[offset:])
                return
            length, start = buffer[offset + 1], offset + 2
            if length >= 126:
                start += 2 if length == 126 else 8
                if size < start:
                    break
                length = int.from_bytes(buffer[offset + 2 : start], "big")
            end = start + length
            if size < end:
                break
            assert self.on_frame is not None
            self.on_frame(buffer[start:end])
            offset = end
        self._partial = buffer[offset:]

    def process_event(self, event: Event) -> None:
        on_frame = self.on_frame
        if (
            on_frame is not None
            and isinstance(event, Frame)
            and event.opcode is Opcode.TEXT
            and event.fin
        ):
            on_frame(bytes(event.data))
            return
        super().process_event(event)


class RunWatch:
    """One connection's part of the run phase, fed its frames by its ``LoadConnection``.

    It times the first frame (agent_started, by the protocol's order rule; the reply, for the
    echo server) and, when ``events``, reads on to ``agent_completed`` and counts its status.
    """

    def __init__(self, result: PhaseResult, *, events: bool) -> None:
        self.result = result
        self.events = events
        self.sent = 0.0
        self.seen_first = False
        self.done: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def on_frame(self, data: bytes) -> None:
        elapsed_ms = (time.perf_counter() - self.sent) * 1000
        if self.done.done():  # counted already (a wrong first event): the rest is not looked at
            return
        result = self.result
        if not self.seen_first:
            self.seen_first = True
            result.first_ms.append(elapsed_ms)
            if not self.events:
                self.done.set_result(None)
                return
            kind = json.loads(data)["type"]
            if kind != "agent_started":
                self._count(f"first event {kind}")
            return
        if b'"agent_completed"' in data:
            result.last_ms.append(elapsed_ms)
            self._count(json.loads(data)["payload"]["status"])

    def _count(self, outcome: str) -> None:
        self.result.statuses[outcome] = self.result.statuses.get(outcome, 0) + 1
        self.done.set_result(None)  # on_frame looks at nothing once done


async def open_all(url: str, tokens: list[str], *, ready: bool) -> list[LoadConnection]:
    async def one(token: str) -> LoadConnection:
        ws = await connect(
            url,
            additional_headers={"Authorization": f"Bearer {token}"},
            compression=None,
            open_timeout=TIMEOUT_S,
            max_size=None,
            create_connection=LoadConnection,
        )
        assert isinstance(ws, LoadConnection)
        if ready:
            first = json.loads(await ws.recv())
            assert first["type"] == "connection_ready", first
        return ws

    return await asyncio.gather(*(one(token) for token in tokens))


async def run_phase(
    label: str,
    url: str,
    tokens: list[str],
    *,
    ready: bool,
    events: bool,
    server_pid: int,
    spread_ms: float,
    all_pids: list[int],
) -> PhaseResult:
    message = json.dumps(
        {"type": "user_message", "thread_id": "bench", "content": CONTENT, "client_msg_id": "m"}
    )
    began = time.perf_counter()
    connections = await open_all(url, tokens, ready=ready)
    connected = time.perf_counter()
    result = PhaseResult(label, len(tokens), connected - began, 0.0)
    watches = [RunWatch(result, events=events) for _ in connections]
    for ws, watch in zip(connections, watches, strict=True):
        ws.watch(watch.on_frame)
    await wait_idle(all_pids)
    server_cpu = process_cpu_s(server_pid)
    client_cpu = time.process_time()
    run_began = time.perf_counter()
    # One coroutine sends them all: the first message leaves at once, and the server works
    # while the client sends the rest (a task per send cost the client a wake-up each).
    for index, (ws, watch) in enumerate(zip(connections, watches, strict=True)):
        if spread_ms > 0:
            # Start times spread evenly over the window instead of one burst.
            delay = run_began + spread_ms / 1000 * index / len(connections) - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
        watch.sent = time.perf_counter()
        await ws.send(message)
    await asyncio.wait_for(asyncio.gather(*(watch.done for watch in watches)), TIMEOUT_S)
    result.run_s = time.perf_counter() - run_began
    result.client_cpu_s = time.process_time() - client_cpu
    server_cpu_after = process_cpu_s(server_pid)
    if server_cpu is not None and server_cpu_after is not None:
        result.server_cpu_s = server_cpu_after - server_cpu
    for ws in connections:
        ws.unwatch()
    await asyncio.gather(*(ws.close() for ws in connections))
    return result


def machine() -> str:
    """The machine and the interpreter (its real path: a build without PGO is slower)."""
    return (
        f"{platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()} ({os.path.realpath(sys.executable)}), "
        f"websockets {websockets_version}"
    )


def cpu_ms(seconds: float | None, count: int) -> float | None:
    return None if seconds is None else round(seconds * 1000 / count, 3)


def round_summary(
    backend: PhaseResult, echo: PhaseResult | None, floor: PhaseResult | None
) -> dict[str, Any]:
    row: dict[str, Any] = {
        "connect_s": round(backend.connect_s, 3),
        "run_wall_s": round(backend.run_s, 3),
        "total_wall_s": round(backend.connect_s + backend.run_s, 3),
        "runs_per_s": round(backend.rate, 1),
        "agent_started_p50_ms": round(percentile(backend.first_ms, 0.5), 1),
        "agent_started_p99_ms": round(percentile(backend.first_ms, 0.99), 1),
        "agent_completed_p50_ms": round(percentile(backend.last_ms, 0.5), 1),
        "agent_completed_p99_ms": round(percentile(backend.last_ms, 0.99), 1),
        "server_cpu_ms_per_run": cpu_ms(backend.server_cpu_s, backend.connections),
        "client_cpu_ms_per_run": cpu_ms(backend.client_cpu_s, backend.connections),
        "statuses": backend.statuses,
    }
    if echo is not None:
        row |= {
            "echo_connect_s": round(echo.connect_s, 3),
            "echo_wall_s": round(echo.run_s, 3),
            "echo_msgs_per_s": round(echo.rate, 1),
            "echo_p50_ms": round(percentile(echo.first_ms, 0.5), 1),
            "echo_p99_ms": round(percentile(echo.first_ms, 0.99), 1),
            "echo_server_cpu_ms_per_msg": cpu_ms(echo.server_cpu_s, echo.connections),
            "echo_client_cpu_ms_per_msg": cpu_ms(echo.client_cpu_s, echo.connections),
            "ratio": round(backend.rate / echo.rate, 3),
        }
    if echo is not None and floor is not None:
        row |= {
            "floor_runs_per_s": round(floor.rate, 1),
            "floor_started_p99_ms": round(percentile(floor.first_ms, 0.99), 1),
            "floor_server_cpu_ms_per_run": cpu_ms(floor.server_cpu_s, floor.connections),
            "floor_client_cpu_ms_per_run": cpu_ms(floor.client_cpu_s, floor.connections),
            "floor_ratio": round(floor.rate / echo.rate, 3),
        }
    return row


def median_row(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The median of each numeric column over the rounds."""
    keys = [k for k, v in rows[0].items() if isinstance(v, int | float)]
    result: dict[str, Any] = {}
    for key in keys:
        values = [row[key] for row in rows if row.get(key) is not None]
        result[key] = round(statistics.median(values), 3) if values else None
    return result


COLUMNS = [
    ("runs/s", "runs_per_s", "{:.0f}"),
    ("started p50", "agent_started_p50_ms", "{:.1f}"),
    ("started p99", "agent_started_p99_ms", "{:.1f}"),
    ("completed p99", "agent_completed_p99_ms", "{:.1f}"),
    ("run wall s", "run_wall_s", "{:.3f}"),
    ("total wall s", "total_wall_s", "{:.3f}"),
    ("echo msgs/s", "echo_msgs_per_s", "{:.0f}"),
    ("echo p99", "echo_p99_ms", "{:.1f}"),
    ("ratio", "ratio", "{:.3f}"),
    ("floor ratio", "floor_ratio", "{:.3f}"),
    ("floor p99", "floor_started_p99_ms", "{:.1f}"),
    ("CPU ms/run srv", "server_cpu_ms_per_run", "{:.3f}"),
    ("echo CPU srv", "echo_server_cpu_ms_per_msg", "{:.3f}"),
]


def print_table(data: dict[str, Any]) -> None:
    print(f"machine: {data['machine']}")
    print(
        f"load average (1 min) before/after: {data['load_average_1m_before']} / "
        f"{data['load_average_1m_after']}"
    )
    spread = f"spread over {data['spread_ms']:.0f} ms" if data["spread_ms"] else "all at once"
    print(
        f"connections: {data['connections']}, rounds: {len(data['rounds'])}, runs start "
        f"{spread}; times in ms unless named"
    )
    columns = [c for c in COLUMNS if c[1] in data["median"]]
    print("round  " + "  ".join(f"{title:>14}" for title, _, _ in columns))
    labelled = [(str(i + 1), row) for i, row in enumerate(data["rounds"])]
    for label, row in [*labelled, ("median", data["median"])]:
        cells = []
        for _, key, fmt in columns:
            value = row.get(key)
            cells.append(f"{'-' if value is None else fmt.format(value):>14}")
        print(f"{label:<6} " + "  ".join(cells))
    statuses = [row["statuses"] for row in data["rounds"]]
    print(f"run statuses per round: {statuses}")


async def main(args: argparse.Namespace) -> int:
    raise_open_files_limit(args.connections * 2 + 256)
    load_before = round(os.getloadavg()[0], 2)
    secret, password = secrets.token_urlsafe(48), secrets.token_urlsafe(16)
    backend_process, port = start_backend(args.server_log_level, secret, password)
    processes = {"backend": (backend_process, f"ws://127.0.0.1:{port}/ws")}
    if not args.no_references:
        for label in ("echo", "floor"):
            process, reference_port = start_reference(f"--serve-{label}")
            processes[label] = (process, f"ws://127.0.0.1:{reference_port}/")
    pids = [process.proc.pid for process, _ in processes.values()]
    rows: list[dict[str, Any]] = []
    try:
        tokens = await fetch_tokens(port, args.connections, password)
        labels = list(processes)
        for number in range(args.rounds):
            # Rotate which goes first, so a drift in the machine's load favours none.
            order = labels[number % len(labels) :] + labels[: number % len(labels)]
            results: dict[str, PhaseResult] = {}
            for label in order:
                process, url = processes[label]
                results[label] = await run_phase(
                    label,
                    url,
                    tokens,
                    ready=label == "backend",
                    events=label != "echo",
                    server_pid=process.proc.pid,
                    spread_ms=args.spread_ms,
                    all_pids=pids,
                )
            rows.append(
                round_summary(results["backend"], results.get("echo"), results.get("floor"))
            )
    finally:
        backend_exit = backend_process.stop()
        for label, (process, _) in processes.items():
            if label != "backend":
                process.stop()
    data: dict[str, Any] = {
        "machine": machine(),
        "connections": args.connections,
        "spread_ms": args.spread_ms,
        "server_log_level": args.server_log_level,
        "load_average_1m_before": load_before,
        "load_average_1m_after": round(os.getloadavg()[0], 2),
        "rounds": rows,
        "median": median_row(rows),
        "server_exit_status": backend_exit,
    }
    if args.json:
        print(json.dumps(data, indent=2))
    else:
        print_table(data)
    ok = all(row["statuses"] == {"succeeded": args.connections} for row in rows)
    if not ok:
        print("backend_load: not every run succeeded", file=sys.stderr)
    if backend_exit != 0:
        print(f"backend_load: the backend exited with {backend_exit}", file=sys.stderr)
    return 0 if ok and backend_exit == 0 else 1


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--connections", type=int, default=1000)
    parser.add_argument(
        "--rounds",
        type=int,
        default=3,
        help="backend, echo and floor phases, rotating which goes first (default 3); the "
        "summary is the median",
    )
    parser.add_argument(
        "--server-log-level",
        default="INFO",
        help="the backend's AGENT_LOG_LEVEL (default INFO, as deployed)",
    )
    parser.add_argument(
        "--spread-ms",
        type=float,
        default=0.0,
        help="start the runs evenly over this window instead of all at once "
        "(runs/s then measures the window, not the server)",
    )
    parser.add_argument(
        "--no-references", action="store_true", help="skip the echo and floor references"
    )
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    parser.add_argument("--serve-echo", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--serve-floor", action="store_true", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


if __name__ == "__main__":
    arguments = parse_args(sys.argv[1:])
    if arguments.serve_echo or arguments.serve_floor:
        asyncio.run(serve_echo() if arguments.serve_echo else serve_floor())
        sys.exit(0)
    sys.exit(asyncio.run(main(arguments)))

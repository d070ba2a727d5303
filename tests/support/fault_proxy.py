"""A small TCP fault proxy for the staging tests: latency, dropped connections, resets, blackhole.

It sits in front of a deployment (below TLS, so certificates still match) and damages traffic
the way a real network does, to show the harness's retry and timeout behaviour:

- ``latency_s``: every chunk is delivered that much later, in both directions (a pipe delay,
  not a throughput cap: chunks in flight overlap);
- ``drop_probability``: an accepted connection is closed at once, before any byte (and
  ``drop_first``: the first N connections are);
- ``reset_probability``: a connection is aborted with a TCP RST ``reset_after_s`` after accept;
- ``blackhole``: connections are accepted, their bytes read and discarded, nothing ever answered.

The proxy runs its own event loop in a thread, so sync tests, async tests (whatever their loop)
and the command line use it alike. ``faults`` may be replaced while it runs; new connections
(and, for latency, new chunks) see the new value.

    python -m tests.support.fault_proxy --upstream 127.0.0.1:8443 --latency-ms 200 --drop 0.05
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import random
import signal
import socket
import struct
import sys
import threading
import time
from dataclasses import dataclass, field

from tests.support.background import Background

# Loop turns from an accepted socket to its writer: the accept task, then connection_made.
SETTLE_TURNS = 3
CHUNK = 65536


@dataclass(frozen=True)
class Faults:
    latency_s: float = 0.0
    drop_probability: float = 0.0
    reset_probability: float = 0.0
    reset_after_s: float = 0.0
    blackhole: bool = False
    # The first N connections are dropped whatever the probability: a deterministic drop.
    drop_first: int = 0


@dataclass
class Stats:
    accepted: int = 0
    forwarded: int = 0
    dropped: int = 0
    reset: int = 0
    blackholed: int = 0
    upstream_failures: int = 0
    bytes_up: int = 0
    bytes_down: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, **counts: int) -> None:
        with self._lock:
            for name, value in counts.items():
                setattr(self, name, getattr(self, name) + value)


class FaultProxy(Background["FaultProxy"]):
    """``with FaultProxy(("127.0.0.1", port), Faults(latency_s=0.2)) as proxy: proxy.port``."""

    def __init__(
        self,
        upstream: tuple[str, int],
        faults: Faults | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        seed: int | None = None,
    ) -> None:
        self.upstream = upstream
        self.faults = faults or Faults()
        self.host = host
        self.port = port
        self.stats = Stats()
        self._random = random.Random(seed)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._stopping: asyncio.Event | None = None
        self._error: BaseException | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        # Every accepted connection's writer, from the moment the connection is made until its
        # handler closes it: stop() closes what is left, started handler or not.
        self._writers: set[asyncio.StreamWriter] = set()

    # -- life cycle (any thread) ---------------------------------------------------------------

    def start(self) -> FaultProxy:
        self._thread = threading.Thread(target=self._main, name="fault-proxy", daemon=True)
        self._thread.start()
        self._ready.wait(10)
        if self._error is not None:
            raise RuntimeError(f"fault proxy failed to start: {self._error}") from self._error
        if not self._ready.is_set():
            raise RuntimeError("fault proxy did not start within 10 s")
        return self

    def stop(self) -> None:
        if self._loop is not None and self._stopping is not None and self._thread is not None:
            self._loop.call_soon_threadsafe(self._stopping.set)
            self._thread.join(10)
        self._loop = None

    # -- the proxy's own thread ----------------------------------------------------------------

    def _main(self) -> None:
        try:
            asyncio.run(self._serve())
        except OSError as exc:
            self._error = exc
            self._ready.set()

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stopping = asyncio.Event()
        server = await asyncio.start_server(self._connected, self.host, self.port)
        self.port = server.sockets[0].getsockname()[1]
        self._ready.set()
        async with server:
            await self._stopping.wait()
            # Stop accepting, then let connections already accepted become transports with
            # writers before the server closes: on Python 3.11 a transport made after
            # Server.close() fails in its constructor and its socket leaks.
            for sock in server.sockets:
                self._loop.remove_reader(sock.fileno())
            for _ in range(SETTLE_TURNS):
                await asyncio.sleep(0)
            server.close()
            for task in list(self._tasks):
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)
            for writer in list(self._writers):
                _abort(writer)
            # One more turn: an aborted transport closes its socket in a callback.
            await asyncio.sleep(0)

    def _connected(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Called as the connection is made, before any task of its own has run."""
        self._writers.add(writer)
        task = asyncio.get_running_loop().create_task(self._accept(reader, writer))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await self._handle(reader, writer)
        except asyncio.CancelledError:
            _abort(writer)
        finally:
            writer.close()
            self._writers.discard(writer)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        faults = self.faults
        self.stats.add(accepted=1)
        if faults.blackhole:
            self.stats.add(blackholed=1)
            while await reader.read(CHUNK):
                pass
            return
        if self.stats.accepted <= faults.drop_first or (
            self._random.random() < faults.drop_probability
        ):
            self.stats.add(dropped=1)
            return
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.upstream)
        except OSError:
            self.stats.add(upstream_failures=1)
            _abort(writer)
            return
        self.stats.add(forwarded=1)
        pipes = [
            asyncio.create_task(self._pipe(reader, up_writer, "bytes_up")),
            asyncio.create_task(self._pipe(up_reader, writer, "bytes_down")),
        ]
        reset = self._random.random() < faults.reset_probability
        try:
            if reset:
                _, pending = await asyncio.wait(pipes, timeout=faults.reset_after_s)
                if pending:
                    self.stats.add(reset=1)
                    _abort(writer)
                    _abort(up_writer)
            else:
                # One side closing half-closes the other after its data; give the other
                # direction time to deliver what is still in flight (the latency), then stop.
                _, pending = await asyncio.wait(pipes, return_when=asyncio.FIRST_COMPLETED)
                if pending:
                    await asyncio.wait(pending, timeout=self.faults.latency_s + 1.0)
        finally:
            for pipe in pipes:
                pipe.cancel()
            await asyncio.gather(*pipes, return_exceptions=True)
            up_writer.close()

    async def _pipe(
        self, source: asyncio.StreamReader, sink: asyncio.StreamWriter, counter: str
    ) -> None:
        """Copy ``source`` to ``sink``, each chunk delivered ``latency_s`` after it arrived;
        at the source's end (EOF or error), deliver what is queued, then half-close the sink."""
        queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()

        async def deliver() -> None:
            while True:
                arrived, data = await queue.get()
                if not data:
                    if sink.can_write_eof():
                        sink.write_eof()
                    return
                delay = arrived + self.faults.latency_s - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
                sink.write(data)
                await sink.drain()

        delivering = asyncio.create_task(deliver())
        try:
            try:
                while data := await source.read(CHUNK):
                    self.stats.add(**{counter: len(data)})
                    await queue.put((time.monotonic(), data))
            except OSError:
                pass  # the source is gone: deliver what arrived before, as a network would
            await queue.put((time.monotonic(), b""))
            with contextlib.suppress(OSError):  # the sink is gone too: nothing to deliver to
                await delivering
        finally:
            # Also when this pipe is cancelled: the delivering task must not outlive it.
            delivering.cancel()
            await asyncio.gather(delivering, return_exceptions=True)


def _abort(writer: asyncio.StreamWriter) -> None:
    """Close with a TCP RST (SO_LINGER 0) rather than a FIN."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):  # already closed by the peer
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


def _parse_upstream(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit():
        raise argparse.ArgumentTypeError(f"{text!r}: use HOST:PORT")
    return host, int(port)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--upstream", type=_parse_upstream, required=True, help="HOST:PORT")
    parser.add_argument("--port", type=int, default=0, help="listen port on 127.0.0.1 (0: any)")
    parser.add_argument("--latency-ms", type=float, default=0.0)
    parser.add_argument("--drop", type=float, default=0.0, help="drop probability, 0..1")
    parser.add_argument("--reset", type=float, default=0.0, help="reset probability, 0..1")
    parser.add_argument("--reset-after-ms", type=float, default=0.0)
    parser.add_argument("--blackhole", action="store_true")
    parser.add_argument("--seed", type=int, default=None)
    args = parser.parse_args(argv)
    faults = Faults(
        latency_s=args.latency_ms / 1000,
        drop_probability=args.drop,
        reset_probability=args.reset,
        reset_after_s=args.reset_after_ms / 1000,
        blackhole=args.blackhole,
    )
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    with FaultProxy(args.upstream, faults, port=args.port, seed=args.seed) as proxy:
        print(f"port={proxy.port}", flush=True)
        stop.wait()
    print(f"stats={proxy.stats}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())

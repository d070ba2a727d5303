"""Pacing: a cap on concurrent connections and token buckets for new connections and messages.

The client asks the pacer before it opens a connection and before it sends a message, so a
suite stays gentle with a shared deployment. Limits of ``0`` mean unlimited.

Given a ``shared_dir`` (the run's ``RunContext.shared_dir``), every limit holds across all the
pytest-xdist workers of the run, not per process:

- the connection cap is ``max_connections`` slot files; a connection holds an exclusive
  ``flock`` on one of them. The kernel drops the lock when its holder dies, so a crashed worker
  never leaks a slot.
- each token bucket keeps its state (tokens, timestamp) in a file, read and updated under an
  ``flock``. The clock is ``time.monotonic``, which on Linux is one clock for every process.

Without a ``shared_dir`` the same limits hold within the process only.

Slots are taken one connection at a time, so tests that each hold several connections can wait
on each other across workers (hold and wait). No run deadlocks while ``max_connections`` is at
least ``workers * (most connections one test holds - 1) + 1``; a wait longer than
``slot_wait_s`` fails the test with ``PacingTimeoutError`` saying so, instead of hanging.

pytest-asyncio gives each test its own event loop, so nothing here holds an asyncio primitive:
waiting is ``asyncio.sleep`` (bound to no loop) and the locks are ``flock`` taken without
blocking, or a ``threading.Lock`` held only between two awaits.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import random
import struct
import threading
import time
from collections.abc import AsyncIterator
from pathlib import Path

from test_framework.errors import HarnessError
from test_framework.profiles import FIELDS, Pacing

_MAX_CONNECTIONS = FIELDS["max_connections"].setting.env

# Polling bounds while waiting for a connection slot or a state lock held by another process.
_POLL_MIN_S = 0.002
_POLL_MAX_S = 0.05
_STATE = struct.Struct("!dd")  # tokens, monotonic timestamp


class PacingTimeoutError(HarnessError):
    """No connection slot became free within the pacer's wait limit."""


class TokenBucket:
    """``rate`` tokens a second, bursts of up to ``capacity``; ``rate == 0`` never waits.

    A caller takes its token at once, even into debt, and then sleeps until the debt is paid:
    callers are served in the order they asked, with one sleep each. With ``state_file`` the
    bucket is shared by every process that names the same file.
    """

    def __init__(
        self, rate: float, capacity: float | None = None, state_file: Path | None = None
    ) -> None:
        self.rate = rate
        self.capacity = capacity if capacity is not None else max(rate, 1.0)
        self.state_file = state_file
        self._tokens = self.capacity
        self._stamp = time.monotonic()
        self._lock = threading.Lock()

    def _reserve(self, tokens: float, stamp: float) -> tuple[float, float, float]:
        """Refill, take one token; return (tokens left, now, seconds to wait)."""
        now = time.monotonic()
        tokens = min(self.capacity, tokens + max(now - stamp, 0.0) * self.rate) - 1
        return tokens, now, max(-tokens / self.rate, 0.0)

    def _reserve_local(self) -> float:
        with self._lock:
            self._tokens, self._stamp, wait = self._reserve(self._tokens, self._stamp)
        return wait

    def _reserve_shared(self, fd: int) -> float:
        raw = os.pread(fd, _STATE.size, 0)
        tokens, stamp = _STATE.unpack(raw) if len(raw) == _STATE.size else (self.capacity, 0.0)
        tokens, now, wait = self._reserve(tokens, stamp)
        os.pwrite(fd, _STATE.pack(tokens, now), 0)
        return wait

    async def take(self) -> float:
        """Wait for one token; return the seconds waited."""
        if self.rate <= 0:
            return 0.0
        if self.state_file is None:
            wait = self._reserve_local()
        else:
            async with _file_lock(self.state_file) as fd:
                wait = self._reserve_shared(fd)
        if wait > 0:
            await asyncio.sleep(wait)
        return wait


@contextlib.asynccontextmanager
async def _file_lock(path: Path) -> AsyncIterator[int]:
    """An exclusive ``flock`` on ``path``, polled without blocking the event loop."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        pause = _POLL_MIN_S
        while not _try_flock(fd):
            await asyncio.sleep(pause)
            pause = min(pause * 2, _POLL_MAX_S)
        try:
            yield fd
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def _try_flock(fd: int) -> bool:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


class ConnectionSlots:
    """At most ``limit`` connections at once: across processes with ``directory``, else here."""

    def __init__(self, limit: int, directory: Path | None, wait_s: float) -> None:
        self.limit = limit
        self.directory = directory
        self.wait_s = wait_s
        self._held = 0
        self._lock = threading.Lock()
        if directory is not None:
            directory.mkdir(parents=True, exist_ok=True)

    def _try_local(self) -> bool:
        with self._lock:
            if self._held < self.limit:
                self._held += 1
                return True
        return False

    def _release_local(self) -> None:
        with self._lock:
            self._held -= 1

    def _try_shared(self) -> int | None:
        """The fd of a slot file now locked by us, or ``None`` when all are taken."""
        assert self.directory is not None
        # Start at a random slot so that waiters do not all contend for slot 0.
        first = random.randrange(self.limit)
        for offset in range(self.limit):
            path = self.directory / f"slot-{(first + offset) % self.limit}.lock"
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
            if _try_flock(fd):
                return fd
            os.close(fd)
        return None

    @contextlib.asynccontextmanager
    async def hold(self) -> AsyncIterator[None]:
        deadline = time.monotonic() + self.wait_s
        pause = _POLL_MIN_S
        while True:
            fd = self._try_shared() if self.directory is not None else None
            if fd is not None or (self.directory is None and self._try_local()):
                break
            if time.monotonic() >= deadline:
                raise PacingTimeoutError(
                    f"waited {self.wait_s:g} s for one of {self.limit} connection slots, all"
                    " held by this run: tests that each hold several connections can wait on"
                    f" each other across workers; raise max_connections ({_MAX_CONNECTIONS}) to"
                    " at least workers x (most connections one test holds - 1) + 1, or use"
                    " fewer workers"
                )
            await asyncio.sleep(pause)
            pause = min(pause * 2, _POLL_MAX_S)
        try:
            yield
        finally:
            if fd is not None:
                fcntl.flock(fd, fcntl.LOCK_UN)
                os.close(fd)
            else:
                self._release_local()


class Pacer:
    """Pacing from a profile's ``Pacing`` limits; across processes when given ``shared_dir``.

    ``slot_wait_s`` bounds the wait for a connection slot, so a test that needs more
    connections than the cap fails with a clear message instead of hanging.
    """

    def __init__(
        self, pacing: Pacing, shared_dir: Path | None = None, *, slot_wait_s: float = 120.0
    ) -> None:
        self.pacing = pacing
        folder = shared_dir / "pacing" if shared_dir is not None else None
        if folder is not None:
            folder.mkdir(parents=True, exist_ok=True)
        self._connections = TokenBucket(
            pacing.connections_per_s, state_file=_in(folder, "connections.bucket")
        )
        self._messages = TokenBucket(
            pacing.messages_per_s, state_file=_in(folder, "messages.bucket")
        )
        self._slots = (
            ConnectionSlots(pacing.max_connections, _in(folder, "slots"), slot_wait_s)
            if pacing.max_connections > 0
            else None
        )

    @contextlib.asynccontextmanager
    async def connection(self) -> AsyncIterator[None]:
        """Hold a connection slot for the life of a connection (and pace its opening)."""
        if self._slots is None:
            await self._connections.take()
            yield
            return
        async with self._slots.hold():
            await self._connections.take()
            yield

    async def message(self) -> None:
        """Wait for the right to send one message."""
        await self._messages.take()


def _in(folder: Path | None, name: str) -> Path | None:
    return folder / name if folder is not None else None

"""Pacing: a cap on concurrent connections and token buckets for new connections and messages.

The client asks the pacer before it opens a connection and before it sends a message, so a
suite stays gentle with a shared deployment. Limits of ``0`` mean unlimited.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator

from test_framework.profiles import Pacing


class TokenBucket:
    """``rate`` tokens a second, bursts of up to ``capacity``; ``rate == 0`` never waits."""

    def __init__(self, rate: float, capacity: float | None = None) -> None:
        self.rate = rate
        self.capacity = capacity if capacity is not None else max(rate, 1.0)
        self._tokens = self.capacity
        self._stamp = time.monotonic()
        self._lock = asyncio.Lock()

    def _refill(self) -> None:
        now = time.monotonic()
        self._tokens = min(self.capacity, self._tokens + (now - self._stamp) * self.rate)
        self._stamp = now

    async def take(self) -> float:
        """Wait for one token; return the seconds waited."""
        if self.rate <= 0:
            return 0.0
        waited = 0.0
        async with self._lock:
            self._refill()
            while self._tokens < 1:
                pause = (1 - self._tokens) / self.rate
                await asyncio.sleep(pause)
                waited += pause
                self._refill()
            self._tokens -= 1
        return waited


class Pacer:
    """Per-process pacing from a profile's ``Pacing`` limits."""

    def __init__(self, pacing: Pacing) -> None:
        self.pacing = pacing
        self._connections = TokenBucket(pacing.connections_per_s)
        self._messages = TokenBucket(pacing.messages_per_s)
        self._open: asyncio.Semaphore | None = (
            asyncio.Semaphore(pacing.max_connections) if pacing.max_connections > 0 else None
        )

    @contextlib.asynccontextmanager
    async def connection(self) -> AsyncIterator[None]:
        """Hold a connection slot for the life of a connection."""
        if self._open is None:
            await self._connections.take()
            yield
            return
        async with self._open:
            await self._connections.take()
            yield

    async def message(self) -> None:
        await self._messages.take()

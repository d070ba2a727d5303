"""What the shared test servers have in common: started for a test, stopped after it.

``Background`` is the life cycle (``with`` starts, leaving stops, whatever ``start`` returns is
what ``with ... as`` binds); ``serving`` runs a ``socketserver`` server on a thread of its own
for the length of a ``with`` block.
"""

from __future__ import annotations

import socketserver
import threading
from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import contextmanager
from types import TracebackType
from typing import Generic, TypeVar

T = TypeVar("T")


class Background(ABC, Generic[T]):
    """A server, proxy or deployment a test starts and must not leave running."""

    @abstractmethod
    def start(self) -> T:
        """Start, and return once ready: what ``with ... as`` binds."""

    @abstractmethod
    def stop(self) -> None:
        """Stop what ``start`` started; safe after a failed start."""

    def __enter__(self) -> T:
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.stop()


@contextmanager
def serving(server: socketserver.BaseServer, name: str) -> Iterator[None]:
    """``server`` answering on a thread of its own until the block ends; then closed."""
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, name=name, daemon=True
    )
    thread.start()
    try:
        yield
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)

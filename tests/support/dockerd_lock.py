"""The machine's dockerd lock: whoever stops dockerd holds it exclusively until the daemon
answers again (``flock /tmp/mc-dockerd.lock``, as .ci/setup-docker.sh); whoever needs the
daemon to stay up (the benchmarks) holds it shared."""

from __future__ import annotations

import contextlib
import fcntl
import time
from collections.abc import Callable, Iterator
from pathlib import Path

DOCKERD_LOCK = Path("/tmp/mc-dockerd.lock")
LOCK_WAIT_S = 900.0  # another user of the daemon may hold it for a whole benchmark run


@contextlib.contextmanager
def dockerd_lock(
    *, shared: bool, poll_s: float, on_wait: Callable[[], None] = lambda: None
) -> Iterator[None]:
    """Hold the lock, polling every ``poll_s`` (``on_wait`` before each wait); ``TimeoutError``
    once it has stayed taken for ``LOCK_WAIT_S``."""
    mode = fcntl.LOCK_SH if shared else fcntl.LOCK_EX
    with DOCKERD_LOCK.open("a") as lock:
        deadline = time.monotonic() + LOCK_WAIT_S
        while True:
            try:
                fcntl.flock(lock, mode | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise TimeoutError(
                        f"{DOCKERD_LOCK} stayed locked for {LOCK_WAIT_S:g} s"
                    ) from None
                on_wait()
                time.sleep(poll_s)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)

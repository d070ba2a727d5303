"""Where a stack's start spends its time: each step's seconds, for the log and the run's details.

Standard library only.
"""

from __future__ import annotations

import threading
import time


class StepClock:
    """``done(name)`` closes the step that ran since the previous one; ``summary()`` lists them."""

    def __init__(self) -> None:
        self.started = time.monotonic()
        self._mark = self.started
        self._lock = threading.Lock()
        self.steps: list[tuple[str, float]] = []

    def done(self, name: str) -> None:
        with self._lock:
            now = time.monotonic()
            self.steps.append((name, now - self._mark))
            self._mark = now

    def add(self, name: str, seconds: float) -> None:
        """A step timed on its own (one that ran beside the others, in another thread)."""
        with self._lock:
            self.steps.append((name, seconds))

    def summary(self) -> str:
        total = time.monotonic() - self.started
        parts = ", ".join(f"{name} {seconds:.2f} s" for name, seconds in self.steps)
        return f"{total:.2f} s ({parts})"

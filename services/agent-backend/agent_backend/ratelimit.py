"""A sliding-window rate limiter: at most ``limit`` accepted events in any ``window_s``."""

from __future__ import annotations

from collections import deque


class RateLimiter:
    def __init__(self, limit: int, window_s: float = 1.0) -> None:
        if limit < 1 or window_s <= 0:
            raise ValueError("limit must be >= 1 and window_s > 0")
        self.limit = limit
        self.window_s = window_s
        self._accepted: deque[float] = deque()

    def allow(self, now: float) -> bool:
        """Count an event at ``now`` (monotonic seconds) if it fits; dropped ones do not count."""
        accepted = self._accepted
        horizon = now - self.window_s
        while accepted and accepted[0] <= horizon:
            accepted.popleft()
        if len(accepted) >= self.limit:
            return False
        accepted.append(now)
        return True

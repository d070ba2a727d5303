"""Fast failure once a deployment is gone.

When a connection to a deployment has failed after all of the profile's retries, every later
test in the same process would otherwise wait out its own retries and timeouts. The client and
HTTP helper consult this per-process record first and fail at once, saying since when and why.
A later successful connection to the same host clears the record (a restarted deployment).
After ``cooldown_s`` one caller may try again, so a short outage does not fail the rest of a
long run; if that try fails too, the outage (and its original start) stands.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, replace
from urllib.parse import urlsplit

from test_framework.errors import BackendUnavailableError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Outage:
    since: float  # Unix seconds of the first failure
    cause: str
    retry_after: float  # Unix seconds from which one caller may try again

    def message(self) -> str:
        stamp = time.strftime("%H:%M:%S", time.localtime(self.since))
        return f"backend unavailable since {stamp}: {self.cause}"


def deployment_key(url: str) -> str:
    """Deployments are told apart by host and port, so HTTP and WebSocket share a record."""
    parts = urlsplit(url)
    port = parts.port or {"https": 443, "wss": 443}.get(parts.scheme, 80)
    return f"{parts.hostname}:{port}"


class Availability:
    def __init__(self, cooldown_s: float = 30.0) -> None:
        self.cooldown_s = cooldown_s
        self._outages: dict[str, Outage] = {}
        self._lock = threading.Lock()

    def check(self, url: str) -> None:
        """Raise ``BackendUnavailableError`` at once when ``url``'s deployment is known to be down
        (once per cool-down, the caller is let through to try again)."""
        key = deployment_key(url)
        now = time.time()
        with self._lock:
            outage = self._outages.get(key)
            if outage is not None and now >= outage.retry_after:
                # This caller tries; the others keep failing fast while it does.
                self._outages[key] = replace(outage, retry_after=now + self.cooldown_s)
                return
        if outage is not None:
            raise BackendUnavailableError(outage.message())

    def mark_down(self, url: str, cause: str) -> Outage:
        key = deployment_key(url)
        now = time.time()
        with self._lock:
            earlier = self._outages.get(key)
            since = earlier.since if earlier is not None else now
            outage = Outage(since=since, cause=cause, retry_after=now + self.cooldown_s)
            self._outages[key] = outage
        log.warning("marking %s unavailable: %s", key, cause)
        return outage

    def mark_up(self, url: str) -> None:
        key = deployment_key(url)
        with self._lock:
            recovered = self._outages.pop(key, None)
        if recovered is not None:
            log.warning("%s is reachable again (down since %s)", key, recovered.since)

    def clear(self) -> None:
        with self._lock:
            self._outages.clear()


# One record per process: an xdist worker learns of an outage from its own attempts.
AVAILABILITY = Availability()

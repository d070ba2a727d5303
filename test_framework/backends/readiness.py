"""Is a service on loopback serving yet? One look, for the backends' readiness polls.

Ready means ``health_path`` answers any 2xx (and, with ``health_status_ok``, the JSON body
``{"status": "ok"}``), or, without a ``health_path``, that ``ws_path`` answers HTTP at all: a
plain ``GET`` on a WebSocket path is refused with a 4xx, which proves the service is serving.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request

from test_framework.service import ServiceSettings

# Loopback is never reached through a proxy that HTTP_PROXY may name.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def expected_answer(service: ServiceSettings) -> str:
    """What the poll waits for, in words, for a message that says it was not given."""
    if not service.health_path:
        return f"any HTTP answer from GET {service.ws_path}"
    body = ' with JSON {"status": "ok"}' if service.health_status_ok else ""
    return f"a 2xx answer{body} from GET {service.health_path}"


def answers(http_url: str, service: ServiceSettings, timeout_s: float = 2.0) -> tuple[bool, str]:
    """One look: ``(ready, what was seen)``."""
    url = http_url + (service.health_path or service.ws_path)
    try:
        with _OPENER.open(url, timeout=timeout_s) as reply:
            status = int(reply.status)
            body = reply.read(4096) if service.health_status_ok else b""
    except urllib.error.HTTPError as exc:
        return not service.health_path, f"status {exc.code}"
    except (urllib.error.URLError, OSError) as exc:
        return False, str(getattr(exc, "reason", exc))
    if not service.health_path:
        return True, f"status {status}"
    if not 200 <= status < 300:
        return False, f"status {status}"
    if service.health_status_ok and not status_ok(body):
        return False, f"status {status} without JSON status ok: {body[:80]!r}"
    return True, f"status {status}"


def status_ok(body: bytes) -> bool:
    """The body is the JSON object ``{"status": "ok", ...}``."""
    try:
        value = json.loads(body)
    except ValueError:
        return False
    return isinstance(value, dict) and value.get("status") == "ok"

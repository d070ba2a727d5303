"""Structured logging: every line is one JSON object.

Our own records carry their JSON as the message (``log_event``), so they read as JSON under
any handler; ``JsonFormatter`` (installed by ``python -m agent_backend``) passes those through
and wraps everything else, tracebacks included, into one JSON object too. Callers never pass
tokens or passwords: only user ids, connection ids, run ids, paths without query strings.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any

logger = logging.getLogger("agent_backend")

_STRUCTURED = "agent_backend_structured"
_ENCODER = json.JSONEncoder(default=str)


def log_event(level: int, event: str, **fields: Any) -> None:
    """Log ``event`` with ``fields`` as one JSON object."""
    if not logger.isEnabledFor(level):
        return
    record = {
        "ts": round(time.time(), 6),
        "level": logging.getLevelName(level).lower(),
        "event": event,
        **fields,
    }
    logger.log(level, _ENCODER.encode(record), extra={_STRUCTURED: True})


class JsonFormatter(logging.Formatter):
    """One JSON object a line, whatever logged the record."""

    def format(self, record: logging.LogRecord) -> str:
        if getattr(record, _STRUCTURED, False):
            return record.getMessage()
        line: dict[str, Any] = {
            "ts": round(record.created, 6),
            "level": record.levelname.lower(),
            "event": "log",
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)

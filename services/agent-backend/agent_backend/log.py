"""Structured logging: every line is one JSON object.

Our own records carry their JSON as the message (``log_event``), so they read as JSON under
any handler; ``JsonFormatter`` (installed by ``python -m agent_backend``) passes those through
and wraps everything else, tracebacks included, into one JSON object too. Callers never pass
tokens or passwords: only user ids, connection ids, run ids, paths without query strings.

A run logs a line, so a line must be cheap: ``log_event`` skips the caller lookup (no line
carries it), in ``python -m agent_backend`` skips ``LogRecord``s altogether
(``write_directly_to``), and ``TurnFlushedHandler`` writes a burst of lines in one system call.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from typing import Any, TextIO

from agent_backend.messages import encode

logger = logging.getLogger("agent_backend")

_STRUCTURED = "agent_backend_structured"
_EXTRA = {_STRUCTURED: True}


def log_event(level: int, event: str, **fields: Any) -> None:
    """Log ``event`` with ``fields`` as one JSON object."""
    if not logger.isEnabledFor(level):
        return
    line = encode(
        {
            "ts": round(time.time(), 6),
            "level": logging.getLevelName(level).lower(),
            "event": event,
            **fields,
        },
        default=str,
    )
    direct = _direct
    if direct is not None:
        direct.write_line(line, level)
        return
    # ``Logger.log`` minus ``findCaller``: its stack walk was a third of a log line's cost.
    record = logger.makeRecord(logger.name, level, "", 0, line, (), None, extra=_EXTRA)
    logger.handle(record)


_direct: TurnFlushedHandler | None = None


def write_directly_to(handler: TurnFlushedHandler | None) -> None:
    """Have ``log_event`` give its lines straight to ``handler``, without ``LogRecord``s.

    Only for a process whose one log destination is ``handler`` with a ``JsonFormatter`` and
    no filters anywhere (``python -m agent_backend``): a record of ours would reach that handler
    alone and come out as the very same line, and making and routing the record cost 8-10 µs
    of a run's 63 (benchmarks/backend_path.py). Records from other loggers still take
    ``logging``'s way to the same handler, so lines stay in order. ``None`` restores the way
    through ``logging``.
    """
    global _direct
    _direct = handler


class TurnFlushedHandler(logging.StreamHandler[TextIO]):
    """A ``StreamHandler`` that flushes once per event-loop turn rather than after each line.

    Give it a block-buffered stream. Inside a running event loop, the first line of a turn
    schedules one flush at the end of the turn, so the lines of a burst go out in one write
    (stderr flushes every line, a system call each). Outside a loop, and for WARNING and
    above, it flushes at once. A line waits at most one loop turn; ``logging.shutdown`` at
    exit flushes what a stopped loop left behind.
    """

    def __init__(self, stream: TextIO) -> None:
        super().__init__(stream)
        self._flush_loop: asyncio.AbstractEventLoop | None = None  # the loop that will flush

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self._write(self.format(record), record.levelno)
        except RecursionError:
            raise
        except Exception:  # noqa: BLE001 - logging's own contract: report, never raise
            self.handleError(record)

    def write_line(self, line: str, levelno: int) -> None:
        """Write ``line``, already formatted, as ``emit`` writes a record's line."""
        self.acquire()  # as ``Handler.handle`` holds the lock around ``emit``
        try:
            self._write(line, levelno)
        except RecursionError:
            raise
        except Exception:  # noqa: BLE001 - as ``emit``: report, never raise
            self.handleError(logging.makeLogRecord({"msg": line, "levelno": levelno}))
        finally:
            self.release()

    def _write(self, line: str, levelno: int) -> None:
        self.stream.write(line + self.terminator)
        if levelno >= logging.WARNING:
            self.flush()
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # no loop in this thread to run a deferred flush
            self.flush()
            return
        # A loop that stopped before its flush ran leaves ``_flush_loop`` set: not this loop.
        if self._flush_loop is not loop:
            self._flush_loop = loop
            loop.call_soon(self._flush_turn)

    def _flush_turn(self) -> None:
        self._flush_loop = None
        self.flush()


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

"""A test's transcript: every frame and HTTP exchange its clients saw, timestamped and redacted.

One ``Transcript`` serves all the clients of one test, so the report shows the conversation in
the order it happened across connections. Everything passes through ``redaction.redact`` as it
is recorded, so a transcript never holds a token or a password.
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Literal

from test_framework.client.redaction import redact, redact_text

Direction = Literal["out", "in", "note"]
# Frames larger than this are recorded by size and head only (the 64 KiB limit tests).
MAX_RECORDED_CHARS = 2048


class Transcript:
    """An append-only, thread-safe list of redacted entries."""

    def __init__(self) -> None:
        self._entries: list[dict[str, object]] = []
        self._lock = threading.Lock()

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    def record(self, source: str, direction: Direction, kind: str, data: object = None) -> None:
        """Add one entry. ``kind`` is e.g. ``text``, ``binary``, ``open``, ``close``, ``http``."""
        entry: dict[str, object] = {
            "t": round(time.time(), 6),
            "source": redact_text(source),
            "dir": direction,
            "kind": kind,
            "data": redact(_shrink(data)),
        }
        with self._lock:
            self._entries.append(entry)

    def record_text(self, source: str, direction: Direction, text: str) -> None:
        """A text frame: stored as its JSON value when it parses, else as the raw text."""
        data: object
        if len(text) > MAX_RECORDED_CHARS:
            data = {"size": len(text.encode("utf-8")), "head": text[:200]}
        else:
            try:
                data = json.loads(text)
            except ValueError:
                data = {"raw": text}
        self.record(source, direction, "text", data)

    def record_binary(self, source: str, direction: Direction, payload: bytes) -> None:
        self.record(source, direction, "binary", {"size": len(payload), "head": payload[:32].hex()})

    def entries(self) -> list[dict[str, object]]:
        with self._lock:
            return list(self._entries)

    def write(self, path: Path) -> None:
        """Write the entries as one JSON document (already redacted)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"entries": self.entries()}, indent=1) + "\n", "utf-8")


def _shrink(data: object) -> object:
    if isinstance(data, str) and len(data) > MAX_RECORDED_CHARS:
        return {"size": len(data.encode("utf-8")), "head": data[:200]}
    return data

"""A small WebSocket chat service: rooms, a static bearer token, events of its own."""

from __future__ import annotations

__version__ = "0.1.0"

"""Talking to the deployment under test: the WebSocket and HTTP clients and what they share.

Tokens (``auth``, ``credentials``), request pacing, the availability record that tells a
dropped connection from a failed test, redaction of secrets, and the per-test transcript the
reports compare between modes.
"""

from __future__ import annotations

__all__ = [
    "agent",
    "auth",
    "authenticator",
    "credentials",
    "http_client",
    "transcript",
    "websocket",
]

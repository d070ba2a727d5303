"""Keeps tokens and passwords out of output, logs, transcripts and reports.

Secrets the harness knows (test passwords, tokens it fetched) are registered by value; anything
shaped like a JWT or a ``token=`` query parameter is redacted whether registered or not.
"""

from __future__ import annotations

import re
import threading

MASK = "***"
_JWT = re.compile(r"\beyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\b")
_QUERY_TOKEN = re.compile(r"(?i)([?&](?:access_)?token=)[^&#\s\"']+")
_AUTH_HEADER = re.compile(r"(?i)\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]{8,}")

_lock = threading.Lock()
_secrets: set[str] = set()


def register_secret(value: str | None) -> None:
    """Redact ``value`` wherever it appears from now on (in this process)."""
    # Very short values would mask ordinary words; they are still masked by shape rules.
    if value and len(value) >= 4:
        with _lock:
            _secrets.add(value)


def redact_text(text: str) -> str:
    with _lock:
        known = sorted(_secrets, key=len, reverse=True)
    for secret in known:
        if secret in text:
            text = text.replace(secret, MASK)
    text = _JWT.sub(MASK, text)
    text = _QUERY_TOKEN.sub(lambda m: m.group(1) + MASK, text)
    return _AUTH_HEADER.sub(lambda m: f"{m.group(1)} {MASK}", text)


def redact(value: object) -> object:
    """Redact every string inside a JSON-like value (dicts, lists, strings)."""
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, dict):
        return {redact_text(str(k)): redact(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact(v) for v in value]
    return value

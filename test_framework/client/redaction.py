"""Keeps tokens and passwords out of output, logs, transcripts and reports.

Secrets the harness knows (test passwords, tokens it fetched) are registered by value, together
with their URL-encoded form; anything shaped like a secret is redacted whether registered or
not: a JWT, a ``token=`` or ``password=`` query parameter, a ``Bearer``/``Basic`` credential, the
value of a JSON field named like a secret (``access_token``, ``password``...).

Registration is per process: each pytest-xdist worker registers the secrets it is handed.
"""

from __future__ import annotations

import re
import threading
from urllib.parse import quote

MASK = "***"
# Keys whose values are secrets, whatever they look like (compared in lower case).
SECRET_KEYS = frozenset(
    {"access_token", "refresh_token", "token", "password", "secret", "authorization"}
)
_JWT = re.compile(r"\beyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\b")
_QUERY_SECRET = re.compile(r"(?i)([?&](?:access_token|token|password)=)[^&#\s\"']+")
_AUTH_HEADER = re.compile(r"(?i)\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]{8,}")
_JSON_FIELD = re.compile(
    r'(?i)("(?:' + "|".join(sorted(SECRET_KEYS)) + r')"\s*:\s*")((?:[^"\\]|\\.)*)(")'
)
# Shorter values are too short to be real credentials and would mask ordinary words (a test
# that connects with the token "token" would otherwise blank that word everywhere after it in
# the process); they are still masked by the shape rules.
_MIN_LENGTH = 8

_lock = threading.Lock()
_secrets: set[str] = set()


def register_secret(value: str | None) -> None:
    """Redact ``value`` (and its URL-encoded form) wherever it appears from now on."""
    if not value or len(value) < _MIN_LENGTH:
        return
    with _lock:
        _secrets.add(value)
        _secrets.add(quote(value, safe=""))


def redact_text(text: str) -> str:
    with _lock:
        known = sorted(_secrets, key=len, reverse=True)
    for secret in known:
        if secret in text:
            text = text.replace(secret, MASK)
    text = _JWT.sub(MASK, text)
    text = _QUERY_SECRET.sub(lambda m: m.group(1) + MASK, text)
    text = _JSON_FIELD.sub(lambda m: m.group(1) + MASK + m.group(3), text)
    return _AUTH_HEADER.sub(lambda m: f"{m.group(1)} {MASK}", text)


def redact(value: object) -> object:
    """Redact every string inside a JSON-like value; values under secret-named keys entirely."""
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, dict):
        return {
            redact_text(str(k)): (
                MASK if str(k).lower() in SECRET_KEYS and isinstance(v, str) else redact(v)
            )
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [redact(v) for v in value]
    return value

"""Keeps tokens and passwords out of output, logs, transcripts and reports.

Secrets the harness knows (test passwords, tokens it fetched) are registered by value, together
with their URL-encoded form; anything shaped like a secret is redacted whether registered or
not: a JWT, a ``token=`` or ``password=`` query parameter, a ``Bearer``/``Basic`` credential, the
value of a JSON field named like a secret (``access_token``, ``password``...), and the userinfo of
any URL (``wss://user:***@host/ws``).

A URL becomes text through ``redact_url`` (or inside text that passes ``redact_text``), never by
a caller masking parts of it on its own. The settings whose values are secrets are those of
``settings_table`` with ``secret`` set; ``register_secret_settings`` registers them all.

Registration is per process: each pytest-xdist worker registers the secrets it is handed.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Mapping
from typing import TYPE_CHECKING
from urllib.parse import quote

if TYPE_CHECKING:
    from test_framework.given import Given

MASK = "***"
# Keys whose values are secrets, whatever they look like (compared in lower case).
SECRET_KEYS = frozenset(
    {"access_token", "refresh_token", "token", "password", "secret", "authorization"}
)
_JWT = re.compile(r"\beyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\b")
_QUERY_SECRET = re.compile(r"(?i)([?&](?:access_token|token|password)=)[^&#\s\"']+")
_AUTH_HEADER = re.compile(r"(?i)\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]{8,}")
# ``scheme://`` and the authority after it (up to the path, query or fragment); its userinfo is
# what comes before the authority's last ``@``.
_AUTHORITY = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)([^\s/?#\"<>\\]*@)")
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


def register_secret_settings(given: Mapping[str, Given]) -> None:
    """Register the value of every secret setting (``Setting.secret``) in ``given`` (a
    ``Settings.given``)."""
    from test_framework.settings_table import SETTINGS

    for setting in SETTINGS:
        if setting.secret and setting.name in given:
            register_secret(given[setting.name].text)


def redact_url(url: str) -> str:
    """``url`` as text, masked as ``redact_text`` masks any text: its userinfo
    (``http://user:***@host/health``; a user alone, which may be a token, as
    ``http://***@host``), a ``?token=``, a registered secret. The one way a URL becomes text, so
    that every place it does is found by this name."""
    return redact_text(url)


def _userinfo(match: re.Match[str]) -> str:
    user, colon, _ = match.group(2)[:-1].partition(":")
    return f"{match.group(1)}{user}:{MASK}@" if colon else f"{match.group(1)}{MASK}@"


def redact_text(text: str) -> str:
    with _lock:
        known = sorted(_secrets, key=len, reverse=True)
    for secret in known:
        if secret in text:
            text = text.replace(secret, MASK)
    text = _AUTHORITY.sub(_userinfo, text)
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

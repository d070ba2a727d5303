"""Tokens and credentials: HTTP Basic parsing, JWT (HS256) issue and verification. No I/O.

A token's claims are ``sub`` (the user id), ``iat`` and ``exp``, whole seconds. ``iat`` is the
issue time rounded down and ``exp`` the issue time rounded up plus ``ttl_s``, so a token is
valid for at least ``ttl_s`` and less than ``ttl_s + 1`` seconds (PyJWT compares whole
seconds). Verification has no leeway and accepts HS256 only.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import math
import re
from dataclasses import dataclass

import jwt

ALGORITHM = "HS256"
USER_ID_PATTERN = re.compile(r"[A-Za-z0-9_.-]{1,64}")
MIN_SECRET_BYTES = 32  # HS256's digest size; PyJWT warns below it.
DEFAULT_TTL_S = 3600
MAX_TTL_S = 3600


class InvalidCredentials(ValueError):
    """The Basic credentials are missing, malformed or wrong."""


class InvalidTTL(ValueError):
    """``ttl_s`` is not an integer from 1 to ``MAX_TTL_S``."""


class InvalidToken(ValueError):
    """The bearer token is missing, malformed, wrongly signed or expired."""


@dataclass(frozen=True)
class IssuedToken:
    access_token: str
    user_id: str
    expires_in: int

    def as_dict(self) -> dict[str, str | int]:
        return {
            "access_token": self.access_token,
            "token_type": "Bearer",
            "expires_in": self.expires_in,
            "user_id": self.user_id,
        }


def valid_user_id(user_id: str) -> bool:
    return USER_ID_PATTERN.fullmatch(user_id) is not None


def parse_basic(header: str | None) -> tuple[str, str]:
    """``(user_id, password)`` from an ``Authorization: Basic ...`` header value."""
    if header is None:
        raise InvalidCredentials("no Authorization header")
    scheme, _, encoded = header.strip().partition(" ")
    if scheme.lower() != "basic" or not encoded.strip():
        raise InvalidCredentials("not Basic credentials")
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        raise InvalidCredentials("credentials are not base64 of UTF-8") from None
    user_id, colon, password = decoded.partition(":")
    if not colon:
        raise InvalidCredentials("credentials have no ':'")
    if not valid_user_id(user_id):
        raise InvalidCredentials("invalid user_id")
    return user_id, password


def check_password(given: str, expected: str | None) -> bool:
    """Constant-time comparison; no password configured means nobody gets in."""
    if expected is None:
        return False
    return hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8"))


def parse_ttl(
    values: list[str] | None, default: int = DEFAULT_TTL_S, maximum: int = MAX_TTL_S
) -> int:
    """The ``ttl_s`` query parameter's values (absent: ``default``)."""
    if not values:
        return default
    if len(values) != 1:
        raise InvalidTTL("ttl_s given more than once")
    text = values[0]
    if not (text.isascii() and text.isdigit()) or len(text) > 6:
        raise InvalidTTL("ttl_s is not an integer")
    ttl = int(text)
    if not 1 <= ttl <= maximum:
        raise InvalidTTL(f"ttl_s must be from 1 to {maximum}")
    return ttl


def issue_token(user_id: str, secret: str, ttl_s: int, now: float) -> IssuedToken:
    iat = math.floor(now)
    exp = math.ceil(now) + ttl_s
    token = jwt.encode({"sub": user_id, "iat": iat, "exp": exp}, secret, algorithm=ALGORITHM)
    return IssuedToken(access_token=token, user_id=user_id, expires_in=ttl_s)


def verify_token(token: str, secret: str) -> str:
    """The user id of a valid token; ``InvalidToken`` otherwise."""
    try:
        claims = jwt.decode(
            token,
            secret,
            algorithms=[ALGORITHM],
            options={"require": ["sub", "iat", "exp"]},
            leeway=0,
        )
    except jwt.PyJWTError as exc:
        raise InvalidToken(type(exc).__name__) from None
    sub = claims.get("sub")
    if not isinstance(sub, str) or not valid_user_id(sub):
        raise InvalidToken("invalid sub claim")
    return sub


def bearer_token(header: str | None, query_tokens: list[str] | None) -> str:
    """The token from ``Authorization: Bearer`` (preferred) or the ``token`` query parameter."""
    if header is not None:
        scheme, _, token = header.strip().partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise InvalidToken("Authorization is not a Bearer token")
        return token.strip()
    if query_tokens is None:
        raise InvalidToken("no token")
    if len(query_tokens) != 1 or not query_tokens[0]:
        raise InvalidToken("token query parameter must be given once")
    return query_tokens[0]

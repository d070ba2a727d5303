"""Client messages in, server messages out: parsing, validation and encoding, with no I/O.

``parse_client_message`` turns one text frame into a typed message or a ``MessageError`` that
carries the protocol's error code. Unknown extra fields are ignored.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import orjson

THREAD_ID_MAX = 64
CONTENT_MAX = 8000


class ErrorCode(StrEnum):
    INVALID_JSON = "invalid_json"
    INVALID_MESSAGE = "invalid_message"
    UNKNOWN_TYPE = "unknown_type"
    UNKNOWN_RUN = "unknown_run"
    TOO_MANY_RUNS = "too_many_runs"
    RATE_LIMITED = "rate_limited"


@dataclass(frozen=True)
class UserMessage:
    thread_id: str
    content: str
    client_msg_id: str | None


@dataclass(frozen=True)
class Cancel:
    run_id: str


@dataclass(frozen=True)
class Resume:
    run_id: str
    after_seq: int


@dataclass(frozen=True)
class Ping:
    nonce: Any


ClientMessage = UserMessage | Cancel | Resume | Ping


@dataclass(frozen=True)
class MessageError:
    """An error that belongs to no run; sent as ``{"type": "error", ...}``."""

    code: ErrorCode
    message: str
    ref: str | None = None

    def encode(self) -> str:
        return encode(
            {"type": "error", "code": self.code.value, "message": self.message, "ref": self.ref}
        )


def _reject_constant(name: str) -> Any:
    # JSON has no NaN or Infinity; Python's json module accepts them unless told not to.
    raise ValueError(f"{name} is not JSON")


# One decoder: json.loads with an option builds a new decoder per call.
_DECODER = json.JSONDecoder(parse_constant=_reject_constant)


def decode_object(text: str) -> dict[str, Any] | MessageError:
    """Decode a frame into a JSON object, or the ``invalid_json`` error."""
    try:
        value = _DECODER.decode(text)
    except (ValueError, RecursionError):
        return MessageError(ErrorCode.INVALID_JSON, "the frame is not valid JSON")
    if not isinstance(value, dict):
        return MessageError(ErrorCode.INVALID_JSON, "the frame is not a JSON object")
    return value


def ref_of(obj: dict[str, Any]) -> str | None:
    """The ``ref`` of an error about ``obj``: its ``client_msg_id`` or ``run_id`` string."""
    for key in ("client_msg_id", "run_id"):
        value = obj.get(key)
        if isinstance(value, str):
            return value
    return None


def _string(obj: dict[str, Any], key: str, low: int, high: int | None) -> str | None:
    value = obj.get(key)
    if not isinstance(value, str) or len(value) < low:
        return None
    if high is not None and len(value) > high:
        return None
    return value


def parse_client_message(text: str) -> ClientMessage | MessageError:
    """Parse and validate one client text frame."""
    obj = decode_object(text)
    if isinstance(obj, MessageError):
        return obj
    kind = obj.get("type")
    ref = ref_of(obj)

    def invalid(detail: str) -> MessageError:
        return MessageError(ErrorCode.INVALID_MESSAGE, f"{kind}: {detail}", ref)

    if kind == "user_message":
        thread_id = _string(obj, "thread_id", 1, THREAD_ID_MAX)
        if thread_id is None:
            return invalid(f"thread_id must be a string of 1 to {THREAD_ID_MAX} characters")
        content = _string(obj, "content", 1, CONTENT_MAX)
        if content is None:
            return invalid(f"content must be a string of 1 to {CONTENT_MAX} characters")
        client_msg_id = obj.get("client_msg_id")
        if client_msg_id is not None and not isinstance(client_msg_id, str):
            return invalid("client_msg_id must be a string when given")
        return UserMessage(thread_id, content, client_msg_id)
    if kind == "cancel":
        run_id = _string(obj, "run_id", 0, None)
        if run_id is None:
            return invalid("run_id must be a string")
        return Cancel(run_id)
    if kind == "resume":
        run_id = _string(obj, "run_id", 0, None)
        if run_id is None:
            return invalid("run_id must be a string")
        after_seq = obj.get("after_seq")
        # bool is an int in Python, not in the protocol.
        if type(after_seq) is not int or after_seq < 0:
            return invalid("after_seq must be an integer >= 0")
        return Resume(run_id, after_seq)
    if kind == "ping":
        return Ping(obj.get("nonce"))
    shown = kind if isinstance(kind, str) else json.dumps(kind)
    return MessageError(ErrorCode.UNKNOWN_TYPE, f"unknown message type {shown[:64]}", ref)


def encode(message: Any, *, default: Callable[[Any], Any] | None = None) -> str:
    """The wire form of a server message (or of one value in it): compact JSON.

    orjson encodes a run's events ten times faster than ``json``. It refuses two things that
    JSON allows and clients send back to us: lone surrogates (``"\\ud800"``, valid JSON that
    cannot be UTF-8) and integers beyond 64 bits (a ``calc`` result); those values go through
    ``json`` with non-ASCII escaped. ``default`` converts what neither knows.
    """
    try:
        return orjson.dumps(message, default=default).decode()
    except orjson.JSONEncodeError:
        return json.dumps(message, default=default, separators=(",", ":"))


def connection_ready(
    *, user_id: str, connection_id: str, server_version: str, heartbeat_interval_s: float
) -> str:
    return encode(
        {
            "type": "connection_ready",
            "user_id": user_id,
            "connection_id": connection_id,
            "server_version": server_version,
            "heartbeat_interval_s": heartbeat_interval_s,
        }
    )


def pong(nonce: Any) -> str:
    return encode({"type": "pong", "nonce": nonce})

"""The chat protocol as plain functions: a text frame in, a ``Join``/``Leave``/``Say`` or a
``ProtocolError`` out; events out as JSON text. See README.md for the wire format."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

ROOM_PATTERN = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
MAX_ID_CHARS = 64
MAX_TEXT_CHARS = 4000


@dataclass(frozen=True)
class Join:
    room: str
    id: str | None = None


@dataclass(frozen=True)
class Leave:
    room: str
    id: str | None = None


@dataclass(frozen=True)
class Say:
    room: str
    text: str
    id: str | None = None


@dataclass(frozen=True)
class ProtocolError:
    """What was wrong with a frame; ``id`` is the frame's own, when it had a usable one."""

    reason: str
    detail: str
    id: str | None = None


Op = Join | Leave | Say


def parse(frame: str) -> Op | ProtocolError:
    try:
        obj: Any = json.loads(frame)
    except ValueError:
        return ProtocolError("bad_json", "the frame is not JSON")
    if not isinstance(obj, dict):
        return ProtocolError("bad_json", "the frame is not a JSON object")
    raw_id = obj.get("id")
    if raw_id is not None and not (isinstance(raw_id, str) and 0 < len(raw_id) <= MAX_ID_CHARS):
        return ProtocolError("bad_field", f"id must be a string of 1 to {MAX_ID_CHARS} characters")
    op_id: str | None = raw_id
    op = obj.get("op")
    if op not in ("join", "leave", "say"):
        return ProtocolError("unknown_op", f"op must be join, leave or say, not {op!r}", op_id)
    room = obj.get("room")
    if not (isinstance(room, str) and ROOM_PATTERN.match(room)):
        return ProtocolError("bad_field", "room must match [A-Za-z0-9_.-]{1,64}", op_id)
    if op == "join":
        return Join(room, op_id)
    if op == "leave":
        return Leave(room, op_id)
    text = obj.get("text")
    if not (isinstance(text, str) and 0 < len(text) <= MAX_TEXT_CHARS):
        return ProtocolError(
            "bad_field", f"text must be a string of 1 to {MAX_TEXT_CHARS} characters", op_id
        )
    return Say(room, text, op_id)


def event(name: str, op_id: str | None = None, **fields: Any) -> str:
    """One event as a JSON text frame; ``id`` only when the op that caused it had one."""
    body: dict[str, Any] = {"event": name, **fields}
    if op_id is not None:
        body["id"] = op_id
    return json.dumps(body, separators=(",", ":"))


def error(problem: ProtocolError) -> str:
    return event("error", problem.id, reason=problem.reason, detail=problem.detail)

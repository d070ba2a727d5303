"""Client frames become typed messages or the documented error codes."""

from __future__ import annotations

import json
from typing import Any

import pytest

from agent_backend.messages import (
    Cancel,
    ErrorCode,
    MessageError,
    Ping,
    Resume,
    UserMessage,
    encode,
    parse_client_message,
)


def parse(obj: Any) -> object:
    return parse_client_message(json.dumps(obj))


def test_valid_messages_parse_into_their_types() -> None:
    assert parse({"type": "user_message", "thread_id": "t", "content": "hi"}) == UserMessage(
        "t", "hi", None
    )
    assert parse(
        {
            "type": "user_message",
            "thread_id": "t",
            "content": "hi",
            "client_msg_id": "m1",
            "extra": 1,
        }
    ) == UserMessage("t", "hi", "m1")
    assert parse({"type": "cancel", "run_id": "r"}) == Cancel("r")
    assert parse({"type": "resume", "run_id": "r", "after_seq": 0}) == Resume("r", 0)
    assert parse({"type": "ping", "nonce": [1, {"a": None}]}) == Ping([1, {"a": None}])
    assert parse({"type": "ping"}) == Ping(None)


def test_limits_are_inclusive() -> None:
    ok = parse({"type": "user_message", "thread_id": "t" * 64, "content": "c" * 8000})
    assert isinstance(ok, UserMessage)


@pytest.mark.parametrize(
    "frame",
    [
        "",
        "not json",
        "{",
        "[1, 2]",
        '"text"',
        "42",
        "null",
        '{"type": "ping", "nonce": NaN}',
        "[" * 100_000,
    ],
)
def test_frames_that_are_not_json_objects_are_invalid_json(frame: str) -> None:
    result = parse_client_message(frame)
    assert isinstance(result, MessageError)
    assert result.code is ErrorCode.INVALID_JSON
    assert result.ref is None


@pytest.mark.parametrize(
    ("obj", "ref"),
    [
        ({"type": "user_message", "content": "hi"}, None),
        ({"type": "user_message", "thread_id": "", "content": "hi"}, None),
        ({"type": "user_message", "thread_id": "t" * 65, "content": "hi"}, None),
        ({"type": "user_message", "thread_id": 5, "content": "hi"}, None),
        ({"type": "user_message", "thread_id": "t", "content": ""}, "m"),
        ({"type": "user_message", "thread_id": "t", "content": "c" * 8001}, "m"),
        ({"type": "user_message", "thread_id": "t", "content": ["hi"]}, "m"),
        ({"type": "user_message", "thread_id": "t", "content": "hi", "client_msg_id": 7}, None),
        ({"type": "cancel"}, None),
        ({"type": "cancel", "run_id": 3}, None),
        ({"type": "resume", "run_id": "r"}, "r"),
        ({"type": "resume", "run_id": "r", "after_seq": -1}, "r"),
        ({"type": "resume", "run_id": "r", "after_seq": 1.0}, "r"),
        ({"type": "resume", "run_id": "r", "after_seq": True}, "r"),
        ({"type": "resume", "run_id": "r", "after_seq": "1"}, "r"),
        ({"type": "resume", "run_id": None, "after_seq": 1}, None),
    ],
)
def test_known_types_with_bad_fields_are_invalid_messages(
    obj: dict[str, Any], ref: str | None
) -> None:
    if ref == "m":
        obj["client_msg_id"] = "m"
    result = parse(obj)
    assert isinstance(result, MessageError)
    assert result.code is ErrorCode.INVALID_MESSAGE
    assert result.ref == ref


@pytest.mark.parametrize(
    "obj",
    [
        {},
        {"type": "hello"},
        {"type": 5},
        {"type": None},
        {"type": "USER_MESSAGE"},
        {"type": ["ping"]},
    ],
)
def test_any_other_type_is_unknown(obj: dict[str, Any]) -> None:
    result = parse(obj)
    assert isinstance(result, MessageError)
    assert result.code is ErrorCode.UNKNOWN_TYPE


def test_an_unknown_type_still_echoes_its_ref() -> None:
    result = parse({"type": "nope", "client_msg_id": "m9"})
    assert isinstance(result, MessageError)
    assert result.ref == "m9"


def test_errors_encode_with_code_message_and_ref() -> None:
    wire = MessageError(ErrorCode.UNKNOWN_RUN, "no such run", "r1").encode()
    assert json.loads(wire) == {
        "type": "error",
        "code": "unknown_run",
        "message": "no such run",
        "ref": "r1",
    }


def test_encoding_survives_lone_surrogates_from_clients() -> None:
    result = parse_client_message('{"type": "ping", "nonce": "\\ud800"}')
    assert isinstance(result, Ping)
    wire = encode({"type": "pong", "nonce": result.nonce})
    wire.encode("utf-8")  # would raise if the surrogate were written raw
    assert json.loads(wire)["nonce"] == "\ud800"


@pytest.mark.parametrize(
    "value",
    [2**200, -(2**64), "café ☕", {"nested": ["\ud800", 1.5, None]}],
    ids=["big-int", "big-negative-int", "non-ascii", "surrogate-inside"],
)
def test_values_the_fast_encoder_refuses_or_escapes_still_decode_to_themselves(
    value: Any,
) -> None:
    wire = encode({"value": value})
    wire.encode("utf-8")
    assert json.loads(wire) == {"value": value}


def test_encode_converts_unknown_objects_only_when_given_a_default() -> None:
    class Opaque:
        def __str__(self) -> str:
            return "opaque"

    assert json.loads(encode({"x": Opaque(), "s": "\ud800"}, default=str)) == {
        "x": "opaque",
        "s": "\ud800",
    }
    with pytest.raises(TypeError):
        encode({"x": Opaque()})

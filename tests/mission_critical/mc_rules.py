"""The rules of docs/protocol.md as plain checks, shared by the mission-critical tests.

Nothing here knows how the service is built: it reads only what crossed the wire.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Sequence
from typing import Any

from test_framework.client.agent import RunResult

Event = dict[str, Any]

ENVELOPE = {"type", "run_id", "thread_id", "seq", "ts", "payload"}
STATUSES = {"succeeded", "failed", "cancelled"}
SEMVER = re.compile(r"^\d+\.\d+\.\d+(?:[-+][0-9A-Za-z.+-]+)?$")


def is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def assert_envelope(event: Event, run_id: str, thread_id: str | None = None) -> None:
    assert set(event) >= ENVELOPE, f"event lacks {ENVELOPE - set(event)}: {event}"
    assert event["run_id"] == run_id, event
    assert isinstance(event["thread_id"], str), event
    if thread_id is not None:
        assert event["thread_id"] == thread_id, event
    assert isinstance(event["seq"], int), event
    assert not isinstance(event["seq"], bool), event
    assert is_number(event["ts"]), event
    assert isinstance(event["payload"], dict), event


def assert_payload(event: Event) -> None:
    """Each event type's payload fields, with their types."""
    kind, payload = event["type"], event["payload"]
    if kind == "agent_started":
        assert "client_msg_id" in payload, event
        assert payload["client_msg_id"] is None or isinstance(payload["client_msg_id"], str)
    elif kind == "agent_thinking":
        assert isinstance(payload.get("text"), str), event
    elif kind == "tool_executing":
        assert isinstance(payload.get("call_id"), str), event
        assert isinstance(payload.get("tool"), str), event
        assert isinstance(payload.get("args"), dict), event
    elif kind == "tool_completed":
        assert isinstance(payload.get("call_id"), str), event
        assert isinstance(payload.get("tool"), str), event
        assert isinstance(payload.get("ok"), bool), event
        if payload["ok"]:
            assert "result" in payload, event
        else:
            assert isinstance(payload.get("error"), str), event
        assert is_number(payload.get("duration_ms")), event
        assert payload["duration_ms"] >= 0, event
    elif kind == "agent_completed":
        assert payload.get("status") in STATUSES, event
        if payload["status"] == "succeeded":
            assert isinstance(payload.get("answer"), str), event
        if payload["status"] == "failed":
            assert isinstance(payload.get("error"), str), event
    else:
        raise AssertionError(f"unknown run event type {kind!r}: {event}")


def assert_seq(events: Sequence[Event], first: int = 1) -> None:
    """``seq`` counts ``first``, ``first + 1``, ... with no gap and no repeat."""
    seqs = [event["seq"] for event in events]
    assert seqs == list(range(first, first + len(seqs))), f"seq {seqs}"


def assert_order(events: Sequence[Event]) -> None:
    """The four order rules of a complete run."""
    kinds = [event["type"] for event in events]
    assert kinds, "a run without events"
    assert kinds[0] == "agent_started", f"first event is not agent_started: {kinds}"
    assert kinds.count("agent_started") == 1, f"agent_started repeated: {kinds}"
    assert kinds[-1] == "agent_completed", f"last event is not agent_completed: {kinds}"
    assert kinds.count("agent_completed") == 1, f"agent_completed repeated: {kinds}"
    if "tool_executing" in kinds:
        first_tool = kinds.index("tool_executing")
        assert "agent_thinking" in kinds[:first_tool], f"no thinking before the tool: {kinds}"
    else:
        assert "agent_thinking" in kinds, f"a run without tools must think: {kinds}"
    assert_call_pairing(events)


def assert_call_pairing(events: Sequence[Event]) -> None:
    """Each tool_executing is followed by exactly one tool_completed with its call_id, before
    the next tool_executing; call ids are unique within the run."""
    open_call: Event | None = None
    seen: set[str] = set()
    for event in events:
        payload = event["payload"]
        if event["type"] == "tool_executing":
            assert open_call is None, f"tool_executing before {open_call} completed: {event}"
            assert payload["call_id"] not in seen, f"call_id reused: {event}"
            seen.add(payload["call_id"])
            open_call = payload
        elif event["type"] == "tool_completed":
            assert open_call is not None, f"tool_completed without tool_executing: {event}"
            assert payload["call_id"] == open_call["call_id"], f"{open_call} vs {payload}"
            assert payload["tool"] == open_call["tool"], f"{open_call} vs {payload}"
            open_call = None
        elif event["type"] == "agent_completed":
            assert open_call is None, f"run completed with {open_call} still executing"


def assert_well_formed(
    result: RunResult, *, thread_id: str | None = None, status: str | None = None
) -> None:
    """Every rule a complete run must satisfy, and optionally its final status."""
    for event in result.events:
        assert_envelope(event, result.run_id, thread_id)
        assert_payload(event)
    assert len({event["thread_id"] for event in result.events}) == 1, result.events
    assert_seq(result.events)
    assert_order(result.events)
    if status is not None:
        assert result.status == status, f"expected {status}, got {result.completion}"


def tool_pairs(result: RunResult) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """(tool_executing payload, tool_completed payload) for each tool call, in order."""
    executing = result.payloads("tool_executing")
    completed = result.payloads("tool_completed")
    assert len(executing) == len(completed), result.types
    return list(zip(executing, completed, strict=True))


def jwt_part(token: str, index: int) -> dict[str, Any]:
    """Decode a JWT's header (0) or claims (1) without checking the signature."""
    part = token.split(".")[index]
    decoded: dict[str, Any] = json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
    return decoded


def parse_metrics(text: str) -> tuple[dict[str, str], dict[tuple[str, str], float]]:
    """Prometheus text format -> ({family: type}, {(name, labels text): value})."""
    types: dict[str, str] = {}
    samples: dict[tuple[str, str], float] = {}
    sample = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)")
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(maxsplit=3)
            types[name] = kind.strip()
        elif line and not line.startswith("#"):
            match = sample.match(line)
            assert match, f"not a Prometheus sample line: {line!r}"
            samples[(match[1], match[2] or "")] = float(match[3])
    return types, samples


def metric(samples: dict[tuple[str, str], float], name: str, **labels: str) -> float:
    """The sum of ``name``'s samples whose labels include ``labels`` (0 when absent)."""
    total = 0.0
    for (sample_name, label_text), value in samples.items():
        if sample_name != name:
            continue
        if all(f'{key}="{wanted}"' in label_text for key, wanted in labels.items()):
            total += value
    return total

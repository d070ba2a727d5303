"""Mode parity: does a test that passed in several modes see the same conversation in each?

A transcript's *shape* is, per connection, the sequence of what crossed it: frame kinds,
message types, error codes, close codes, HTTP statuses; never ids, tokens, times or payload
values. Connections are named by the order they first appear, not by the client's label.
Shapes that differ between modes are environment drift: reported as warnings, because a mode
may legitimately answer differently (e.g. a retried connection in staging), and the gate
already fails the tests whose assertions noticed.

Only tests that passed in both modes are compared: a failure is the gate's business, and its
transcript differs for a reason the failure message already gives.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from test_framework.results.ledger import Outcome
from test_framework.results.matrix import Cell, Matrix
from test_framework.wording import counted

# Entries that are the client's commentary, not traffic (e.g. "opened" with its attempt
# number, which differs when a mode's retry policy reconnects).
IGNORED_DIRECTIONS = frozenset({"note"})
# Message types whose number depends on timing, not on behaviour: the client's keep-alive
# pings (and their pongs) follow the mode's heartbeat setting and the test's duration.
IGNORED_TYPES = frozenset({"heartbeat", "ping", "pong"})
COMPARED_OUTCOMES = frozenset({Outcome.PASSED, Outcome.XFAILED})

Shape = dict[str, tuple[str, ...]]


class TranscriptFormatError(ValueError):
    """A transcript file is not the ``{"entries": [...]}`` document ``Transcript`` writes."""


def _code_of(data: dict[str, object]) -> object:
    if "code" in data:
        return data["code"]
    error = data.get("error")
    if isinstance(error, dict):
        return error.get("code")
    return None


def entry_token(entry: dict[str, object]) -> str | None:
    """One entry's shape, e.g. ``in text run_started``, ``in close 1009``, ``out http 401``."""
    direction = str(entry.get("dir", ""))
    kind = str(entry.get("kind", ""))
    if direction in IGNORED_DIRECTIONS:
        return None
    data = entry.get("data")
    parts = [direction, kind]
    if isinstance(data, dict):
        kind_of_message = data.get("type")
        if isinstance(kind_of_message, str):
            if kind_of_message in IGNORED_TYPES:
                return None
            parts.append(kind_of_message)
        code = _code_of(data)
        if code is not None and not isinstance(code, dict | list):
            parts.append(f"code={code}")
        method, url = data.get("method"), data.get("url")
        if kind == "http" and isinstance(method, str) and isinstance(url, str):
            parts.extend([method, urlsplit(url).path])  # the path, not the host or query
        status = data.get("status")
        if isinstance(status, int) and not isinstance(status, bool):
            parts.append(f"status={status}")
        if "size" in data and kind in ("text", "binary"):
            parts.append("large" if kind == "text" else "bytes")
    return " ".join(parts)


def shape_of(entries: list[dict[str, object]]) -> Shape:
    """The streams of each connection (``c1``, ``c2``... in order of first appearance):

    - ``c1 out``: what the client sent, in order;
    - ``c1 in``: what arrived that belongs to no run, in order;
    - ``c1 runs``: each run's incoming events (by ``run_id``) as one ``a > b > c`` token,
      sorted. Concurrent runs on one connection interleave by timing, so only the order
      within each run counts, and not which run was which.
    """
    names: dict[str, str] = {}
    streams: dict[str, list[str]] = {}
    runs: dict[str, dict[str, list[str]]] = {}
    for entry in entries:
        token = entry_token(entry)
        if token is None:
            continue
        name = names.setdefault(str(entry.get("source", "")), f"c{len(names) + 1}")
        data = entry.get("data")
        run_id = data.get("run_id") if isinstance(data, dict) else None
        if entry.get("dir") == "in" and isinstance(run_id, str):
            runs.setdefault(name, {}).setdefault(run_id, []).append(token.removeprefix("in "))
        else:
            direction = "out" if entry.get("dir") == "out" else "in"
            streams.setdefault(f"{name} {direction}", []).append(token)
    shape = {stream: tuple(tokens) for stream, tokens in streams.items()}
    for name, by_run in runs.items():
        shape[f"{name} runs"] = tuple(sorted(" > ".join(events) for events in by_run.values()))
    return dict(sorted(shape.items(), key=lambda item: _stream_order(item[0])))


def _stream_order(stream: str) -> tuple[int, int]:
    name, _, kind = stream.partition(" ")
    return int(name[1:]), ("out", "in", "runs").index(kind)


def connections(shape: Shape) -> set[str]:
    return {stream.partition(" ")[0] for stream in shape}


def read_transcript(path: Path) -> list[dict[str, object]]:
    try:
        data = json.loads(path.read_text("utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise TranscriptFormatError(f"{path}: cannot read ({exc})") from None
    entries = data.get("entries") if isinstance(data, dict) else None
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise TranscriptFormatError(f"{path}: no list of entries")
    return entries


@dataclass(frozen=True)
class Difference:
    nodeid: str
    reference: str  # the mode compared against
    mode: str
    kind: str  # "events", "order", "connections" or "unreadable"
    detail: str

    def render(self) -> str:
        return f"parity: {self.nodeid}: {self.reference} vs {self.mode}: {self.detail}"


def describe(reference: Shape, other: Shape) -> tuple[str, str] | None:
    """``(kind, detail)`` of the first way two shapes differ, or None when they match."""
    if reference == other:
        return None
    left_connections, right_connections = connections(reference), connections(other)
    if len(left_connections) != len(right_connections):
        fewer_or_more = counted(len(left_connections), "connection")
        return "connections", f"{fewer_or_more} vs {len(right_connections)}"
    for stream in sorted(set(reference) | set(other), key=_stream_order):
        left, right = reference.get(stream, ()), other.get(stream, ())
        if left == right:
            continue
        if stream.endswith(" runs"):
            return "events", f"{stream}: {_runs_difference(left, right)}"
        if Counter(left) == Counter(right):
            return "order", f"{stream}: the same {len(left)} events in a different order"
        for i, (a, b) in enumerate(zip(left, right, strict=False)):
            if a != b:
                return "events", f"{stream} event {i + 1}: {a!r} vs {b!r}"
        shorter, longer = (left, right) if len(left) < len(right) else (right, left)
        extra = longer[len(shorter)]
        events = counted(len(left), "event")
        return "events", f"{stream}: {events} vs {len(right)} (first extra: {extra!r})"
    return "connections", "the connections differ"


def _runs_difference(left: tuple[str, ...], right: tuple[str, ...]) -> str:
    if len(left) != len(right):
        return f"{counted(len(left), 'run')} vs {len(right)}"
    only_left = sorted((Counter(left) - Counter(right)).elements())
    only_right = sorted((Counter(right) - Counter(left)).elements())
    return f"a run went {only_left[0]!r} vs {only_right[0]!r}"


def _shape(cell: Cell) -> Shape | str | None:
    """The cell's shape, an error text when its transcript cannot be read, None without one."""
    path = cell.transcript_path
    if path is None:
        return None
    try:
        return shape_of(read_transcript(path))
    except TranscriptFormatError as exc:
        return str(exc)


def compare(matrix: Matrix) -> list[Difference]:
    """Every test that passed in two or more modes, compared with the first of them."""
    differences: list[Difference] = []
    for nodeid in matrix.nodeids:
        shapes: list[tuple[str, Shape]] = []
        for mode, cell in matrix.row(nodeid):
            if cell.outcome not in COMPARED_OUTCOMES:
                continue
            shape = _shape(cell)
            if isinstance(shape, str):
                differences.append(Difference(nodeid, mode, mode, "unreadable", shape))
            elif shape is not None:
                shapes.append((mode, shape))
        if len(shapes) < 2:
            continue
        reference_mode, reference = shapes[0]
        for mode, shape in shapes[1:]:
            found = describe(reference, shape)
            if found is not None:
                differences.append(Difference(nodeid, reference_mode, mode, *found))
    return differences

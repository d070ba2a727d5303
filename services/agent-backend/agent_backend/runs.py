"""Runs as state machines, and the registry that keeps them resumable. No I/O.

``RunMachine`` turns what the agent does into protocol events with gapless ``seq`` and refuses
any transition that would break the order rules:

1. exactly one ``agent_started``, first;
2. at least one ``agent_thinking`` before the first ``tool_executing`` and before completion;
3. each ``tool_executing`` is followed by its ``tool_completed`` before anything but that;
4. exactly one ``agent_completed``, last.

``RunRegistry`` finds a run by id for its owner only, counts each user's active runs, and
forgets finished runs once their retention has passed.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from enum import Enum, StrEnum
from typing import Any, NamedTuple

from agent_backend.messages import encode


class EventType(StrEnum):
    AGENT_STARTED = "agent_started"
    AGENT_THINKING = "agent_thinking"
    TOOL_EXECUTING = "tool_executing"
    TOOL_COMPLETED = "tool_completed"
    AGENT_COMPLETED = "agent_completed"


class RunStatus(StrEnum):
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"


class _Phase(Enum):
    NEW = "new"
    STARTED = "started"  # agent_started sent, no thinking yet
    READY = "ready"  # has thought; may call a tool or complete
    TOOL = "tool"  # a tool is in flight
    FINISHED = "finished"


class RunStateError(RuntimeError):
    """A transition that would break the protocol's order rules (a bug in the caller)."""


class RunEvent(NamedTuple):
    """One run event; ``wire`` is its encoded JSON, built once and sent to every subscriber.

    A named tuple rather than a frozen dataclass: a run makes several per message, and a
    tuple is several times cheaper to build.
    """

    type: EventType
    run_id: str
    thread_id: str
    seq: int
    ts: float
    payload: dict[str, Any]
    wire: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "type": self.type.value,
            "run_id": self.run_id,
            "thread_id": self.thread_id,
            "seq": self.seq,
            "ts": self.ts,
            "payload": self.payload,
        }


CANCELLED_TOOL_ERROR = "cancelled"


class RunMachine:
    """One run's events and state; every method returns the events it produced."""

    def __init__(
        self,
        *,
        run_id: str,
        thread_id: str,
        user_id: str,
        wall_clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.perf_counter,
    ) -> None:
        self.run_id = run_id
        self.thread_id = thread_id
        self.user_id = user_id
        self._wall_clock = wall_clock
        self._monotonic = monotonic
        self._phase = _Phase.NEW
        self._events: list[RunEvent] = []
        self._calls = 0
        self._tool: tuple[str, str, float] | None = None  # call_id, tool, started
        self.status: RunStatus | None = None

    # -- queries ----------------------------------------------------------------------------
    @property
    def finished(self) -> bool:
        return self._phase is _Phase.FINISHED

    @property
    def events(self) -> tuple[RunEvent, ...]:
        return tuple(self._events)

    @property
    def last_seq(self) -> int:
        return len(self._events)

    def wires_after(self, after_seq: int) -> list[str]:
        """The encoded events with ``seq > after_seq``, in order (``seq`` n is at index n - 1)."""
        return [event.wire for event in self._events[max(after_seq, 0) :]]

    # -- transitions ------------------------------------------------------------------------
    def start(self, client_msg_id: str | None) -> RunEvent:
        self._expect(_Phase.NEW)
        self._phase = _Phase.STARTED
        return self._emit(EventType.AGENT_STARTED, {"client_msg_id": client_msg_id})

    def think(self, text: str) -> RunEvent:
        self._expect(_Phase.STARTED, _Phase.READY)
        self._phase = _Phase.READY
        return self._emit(EventType.AGENT_THINKING, {"text": text})

    def execute_tool(self, tool: str, args: dict[str, Any]) -> RunEvent:
        self._expect(_Phase.READY)
        self._calls += 1
        call_id = f"call_{self._calls}"
        self._tool = (call_id, tool, self._monotonic())
        self._phase = _Phase.TOOL
        return self._emit(
            EventType.TOOL_EXECUTING, {"call_id": call_id, "tool": tool, "args": args}
        )

    def complete_tool(self, *, ok: bool, result: Any = None, error: str = "") -> RunEvent:
        self._expect(_Phase.TOOL)
        assert self._tool is not None
        call_id, tool, started = self._tool
        self._tool = None
        self._phase = _Phase.READY
        payload: dict[str, Any] = {"call_id": call_id, "tool": tool, "ok": ok}
        if ok:
            payload["result"] = result
        else:
            payload["error"] = error
        payload["duration_ms"] = (self._monotonic() - started) * 1000
        return self._emit(EventType.TOOL_COMPLETED, payload)

    def succeed(self, answer: str) -> RunEvent:
        self._expect(_Phase.READY)
        return self._complete(RunStatus.SUCCEEDED, {"answer": answer})

    def fail(self, error: str) -> RunEvent:
        self._expect(_Phase.READY)
        return self._complete(RunStatus.FAILED, {"error": error})

    def cancel(self) -> list[RunEvent]:
        """End the run as cancelled: a tool in flight completes with ``ok: false`` first.

        A finished run is left as it is (no events). A run cancelled before it thought at all
        still gets one ``agent_thinking`` so the order rules hold.
        """
        if self._phase is _Phase.FINISHED:
            return []
        if self._phase is _Phase.NEW:
            raise RunStateError("cannot cancel a run that has not started")
        events: list[RunEvent] = []
        if self._phase is _Phase.TOOL:
            events.append(self.complete_tool(ok=False, error=CANCELLED_TOOL_ERROR))
        if self._phase is _Phase.STARTED:
            events.append(self.think("cancelled before any step"))
        events.append(self._complete(RunStatus.CANCELLED, {}))
        return events

    # -- internals --------------------------------------------------------------------------
    def _complete(self, status: RunStatus, extra: dict[str, Any]) -> RunEvent:
        self._phase = _Phase.FINISHED
        self.status = status
        return self._emit(EventType.AGENT_COMPLETED, {"status": status.value, **extra})

    def _expect(self, *phases: _Phase) -> None:
        if self._phase not in phases:
            allowed = ", ".join(p.value for p in phases)
            raise RunStateError(f"run {self.run_id} is {self._phase.value}; this needs {allowed}")

    def _emit(self, kind: EventType, payload: dict[str, Any]) -> RunEvent:
        events = self._events
        seq = len(events) + 1
        ts = float(self._wall_clock())
        run_id, thread_id = self.run_id, self.thread_id
        wire = encode(
            {
                "type": kind,
                "run_id": run_id,
                "thread_id": thread_id,
                "seq": seq,
                "ts": ts,
                "payload": payload,
            }
        )
        event = RunEvent(kind, run_id, thread_id, seq, ts, payload, wire)
        events.append(event)
        return event


class FinishedRun(NamedTuple):
    """A finished run as a resume sees it, until it expires: its owner and its events."""

    run_id: str
    user_id: str
    wires: tuple[str, ...]

    @property
    def finished(self) -> bool:
        return True

    def wires_after(self, after_seq: int) -> tuple[str, ...]:
        """The encoded events with ``seq > after_seq``, in order."""
        return self.wires[max(after_seq, 0) :]


class RunRegistry:
    """All runs a server knows, by id; finished runs are kept for ``retention_s``.

    A finished run is kept as a plain tuple of its owner and its encoded events: a tuple of
    strings is the one object the garbage collector stops tracking, and the registry holds
    every run of the last ``retention_s``. Kept as ``RunMachine`` objects (eight tracked
    objects a run), 120,000 retained runs made every full collection take 300 ms.
    """

    def __init__(
        self, *, retention_s: float, monotonic: Callable[[], float] = time.monotonic
    ) -> None:
        self.retention_s = retention_s
        self._monotonic = monotonic
        self._running: dict[str, RunMachine] = {}
        self._kept: dict[str, tuple[str, tuple[str, ...]]] = {}  # run id: (user id, wires)
        self._active: dict[str, int] = {}
        self._expiry: deque[tuple[float, str]] = deque()

    def __len__(self) -> int:
        self._purge()
        return len(self._running) + len(self._kept)

    def add(self, run: RunMachine) -> None:
        self._purge()
        if run.run_id in self._running or run.run_id in self._kept:
            raise ValueError(f"run {run.run_id} exists")
        self._running[run.run_id] = run
        if not run.finished:
            self._active[run.user_id] = self._active.get(run.user_id, 0) + 1

    def get(self, run_id: str, user_id: str) -> RunMachine | FinishedRun | None:
        """The run, if it exists, has not expired and belongs to ``user_id``; else ``None``."""
        self._purge()
        run = self._running.get(run_id)
        if run is not None:
            return run if run.user_id == user_id else None
        kept = self._kept.get(run_id)
        if kept is None or kept[0] != user_id:
            return None
        return FinishedRun(run_id, *kept)

    def active_count(self, user_id: str) -> int:
        return self._active.get(user_id, 0)

    def active_total(self) -> int:
        return sum(self._active.values())

    def finished(self, run: RunMachine) -> tuple[str, ...]:
        """Keep ``run``, which has finished, for ``retention_s`` from now; its encoded events."""
        if not run.finished:
            raise RunStateError(f"run {run.run_id} has not finished")
        self._running.pop(run.run_id, None)
        wires = tuple(run.wires_after(0))
        self._kept[run.run_id] = (run.user_id, wires)
        count = self._active.get(run.user_id, 0) - 1
        if count > 0:
            self._active[run.user_id] = count
        else:
            self._active.pop(run.user_id, None)
        self._expiry.append((self._monotonic() + self.retention_s, run.run_id))
        return wires

    def _purge(self) -> None:
        now = self._monotonic()
        expiry = self._expiry
        while expiry and expiry[0][0] <= now:
            _, run_id = expiry.popleft()
            self._kept.pop(run_id, None)

"""The scripted agent's tools, as plain functions: each returns a ``ToolOutcome``.

``sleep`` is the only tool that takes time; its waiting is done by the run driver
(``agent.py``), which asks ``sleep_duration`` how long to wait.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from agent_backend.calculator import CalculatorError, evaluate, format_number
from agent_backend.steps import MAX_SLEEP_MS, Step, Tool, parse_sleep_ms

# The fixed corpus of the ``search`` tool, searched in this order.
SEARCH_CORPUS: tuple[str, ...] = (
    "WebSocket protocol basics",
    "Streaming agent events over WebSockets",
    "Designing a tool-calling agent",
    "Heartbeats and keepalive pings",
    "JSON Web Tokens explained",
    "Graceful shutdown of network services",
    "Rate limiting per connection",
    "Resuming interrupted event streams",
    "Calculator parsing with recursive descent",
    "Testing services in containers",
)
MAX_SEARCH_RESULTS = 3


@dataclass(frozen=True)
class ToolOutcome:
    """What a tool call produced: a result and step answer, or an error."""

    ok: bool
    result: Any = None
    error: str = ""
    answer: str = ""


def search(query: str) -> list[str]:
    """Titles containing any word of ``query`` (case-insensitive), corpus order, at most 3."""
    words = query.lower().split()
    if not words:
        return []
    hits = [title for title in SEARCH_CORPUS if any(word in title.lower() for word in words)]
    return hits[:MAX_SEARCH_RESULTS]


def sleep_duration(step: Step) -> float | None:
    """Seconds a ``sleep`` step waits, or ``None`` when its ``ms`` is invalid."""
    ms = parse_sleep_ms(step.argument)
    return None if ms is None else ms / 1000


def run_instant_tool(step: Step) -> ToolOutcome:
    """Run a tool that takes no time (every tool but a valid ``sleep``)."""
    if step.tool is Tool.CALCULATOR:
        try:
            value = evaluate(step.argument)
        except CalculatorError as exc:
            return ToolOutcome(ok=False, error=str(exc))
        return ToolOutcome(
            ok=True, result=value, answer=f"{step.argument} = {format_number(value)}"
        )
    if step.tool is Tool.SEARCH:
        titles = search(step.argument)
        return ToolOutcome(
            ok=True, result=titles, answer=f"found {len(titles)} results for {step.argument}"
        )
    if step.tool is Tool.SLEEP:
        ms = parse_sleep_ms(step.argument)
        if ms is None:
            return ToolOutcome(ok=False, error=f"ms must be an integer from 0 to {MAX_SLEEP_MS}")
        return sleep_outcome(ms)
    if step.tool is Tool.FAIL:
        return ToolOutcome(ok=False, error=step.argument)
    raise ValueError(f"step {step.text!r} calls no tool")


def sleep_outcome(ms: int) -> ToolOutcome:
    """The outcome of a ``sleep`` step that has slept ``ms`` milliseconds."""
    return ToolOutcome(ok=True, result={"slept_ms": ms}, answer=f"slept {ms} ms")

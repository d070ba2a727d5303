"""The scripted agent's plan: ``content`` split on ``;`` into steps, each maybe a tool call.

A step is trimmed; empty steps are skipped. A step whose first word is exactly ``calc``,
``search``, ``sleep`` or ``fail`` (lower case) calls that tool with the rest of the step,
trimmed, as its argument (possibly empty). Anything else is a plain step with no tool whose
answer is its own text.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

MAX_SLEEP_MS = 30_000


class Tool(StrEnum):
    CALCULATOR = "calculator"
    SEARCH = "search"
    SLEEP = "sleep"
    FAIL = "fail"


_KEYWORDS = {
    "calc": Tool.CALCULATOR,
    "search": Tool.SEARCH,
    "sleep": Tool.SLEEP,
    "fail": Tool.FAIL,
}


@dataclass(frozen=True)
class Step:
    """One step of a run: its text, and the tool it calls (``None`` for a plain step)."""

    text: str
    tool: Tool | None = None
    argument: str = ""

    @property
    def args(self) -> dict[str, Any]:
        """The ``args`` object of this step's ``tool_executing`` event."""
        if self.tool is Tool.CALCULATOR:
            return {"expression": self.argument}
        if self.tool is Tool.SEARCH:
            return {"query": self.argument}
        if self.tool is Tool.SLEEP:
            ms = parse_sleep_ms(self.argument)
            return {"ms": self.argument if ms is None else ms}
        if self.tool is Tool.FAIL:
            return {"message": self.argument}
        return {}


def parse_steps(content: str) -> list[Step]:
    """Split a ``user_message`` content into steps, in order."""
    steps: list[Step] = []
    for raw in content.split(";"):
        text = raw.strip()
        if not text:
            continue
        keyword, *rest = text.split(maxsplit=1)
        tool = _KEYWORDS.get(keyword)
        if tool is None:
            steps.append(Step(text=text))
        else:
            steps.append(Step(text=text, tool=tool, argument=rest[0] if rest else ""))
    return steps


def parse_sleep_ms(argument: str) -> int | None:
    """The ``sleep`` step's milliseconds, or ``None`` unless an integer in 0..30000."""
    if not argument.isascii() or not argument.isdigit() or len(argument) > 6:
        return None
    ms = int(argument)
    return ms if ms <= MAX_SLEEP_MS else None

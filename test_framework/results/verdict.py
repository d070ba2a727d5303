"""What the gate decides: the ``Verdict``, its problems and the rule each breaks, and the
text helpers the gate and the reports share to write it.

Read by the gate, the reports and the monitor. Standard library only.
"""

from __future__ import annotations

import enum
import time
from dataclasses import dataclass

from test_framework.results.matrix import Matrix

EXIT_PASS = 0
EXIT_FAIL = 1
MESSAGE_CHARS = 240


class Rule(enum.StrEnum):
    """Why the gate fails; the value is the label printed before the subject."""

    NO_LEDGERS = "no ledgers"
    MISSING = "missing ledger"
    STALE = "stale ledger"
    STALE_CODE = "stale code"
    EMPTY = "empty run"
    INCOMPLETE = "incomplete"
    RUN_ERROR = "run error"
    COLLECTION_ERROR = "collection error"
    FAILED = "failed"
    RAN_NOWHERE = "ran nowhere"
    REQUIRED_MODE = "required mode"
    SHARDS = "shards disagree"
    NOTHING_RAN = "nothing ran"


@dataclass(frozen=True)
class Problem:
    rule: Rule
    subject: str  # a node id, a mode, or a ledger file
    message: str

    def render(self) -> str:
        return f"  {self.rule.value.upper()}: {self.subject}: {self.message}"


@dataclass(frozen=True)
class Verdict:
    matrix: Matrix
    required_modes: tuple[str, ...]
    problems: tuple[Problem, ...]
    warnings: tuple[str, ...]

    @property
    def passed(self) -> bool:
        return not self.problems

    @property
    def exit_code(self) -> int:
        return EXIT_PASS if self.passed else EXIT_FAIL


def first_line(text: str | None, limit: int = MESSAGE_CHARS) -> str:
    lines = [line.strip() for line in (text or "").splitlines() if line.strip()]
    line = lines[0] if lines else ""
    return line if len(line) <= limit else line[: limit - 1] + "…"


def utc(seconds: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(seconds))

"""The frozen answer of one probe."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from test_framework.modes import Mode


class ProbeStatus(enum.StrEnum):
    """What a probe found, and so what a run does with the mode.

    ``absent``: nothing is there to test (not configured, no daemon): skipped with the reason.
    ``broken``: something was configured and fails a step (a deployment that does not answer as
    it should, a compose file that is named but missing): a failure with the reason, never a skip.
    """

    AVAILABLE = "available"
    ABSENT = "absent"
    BROKEN = "broken"


@dataclass(frozen=True)
class StepResult:
    """One step of a probe: what was checked, whether it passed, how long it took."""

    name: str
    ok: bool
    elapsed_ms: float
    detail: str = ""
    # False: this process cannot see what the step needs (nox's own environment); it did not
    # fail, and it did not pass either: the session's own probe checks it.
    checked: bool = True


@dataclass(frozen=True)
class ProbeResult:
    mode: Mode
    available: bool
    reason: str
    elapsed_ms: float
    details: dict[str, str] = field(default_factory=dict)
    steps: tuple[StepResult, ...] = ()
    # Only meaningful when not available: the mode was configured, and a step failed.
    broken: bool = False

    @property
    def status(self) -> ProbeStatus:
        if self.available:
            return ProbeStatus.AVAILABLE
        return ProbeStatus.BROKEN if self.broken else ProbeStatus.ABSENT

    @property
    def verdict(self) -> str:
        """The status and reason in one line, as a session log or a ledger states them."""
        if self.status is ProbeStatus.BROKEN:
            return f"configured but unhealthy: {self.reason}"
        return self.reason

    def to_json(self) -> dict[str, object]:
        return {
            "mode": self.mode.value,
            "available": self.available,
            "status": self.status.value,
            "reason": self.reason,
            "elapsed_ms": round(self.elapsed_ms, 3),
            "details": dict(self.details),
            "steps": [_step_json(s) for s in self.steps],
        }


def _step_json(step: StepResult) -> dict[str, object]:
    data: dict[str, object] = {
        "name": step.name,
        "ok": step.ok,
        "elapsed_ms": round(step.elapsed_ms, 3),
        "detail": step.detail,
    }
    if not step.checked:
        data["checked"] = False
    return data

"""The frozen answer of one probe."""

from __future__ import annotations

from dataclasses import dataclass, field

from test_framework.modes import Mode


@dataclass(frozen=True)
class StepResult:
    """One step of a probe: what was checked, whether it passed, how long it took."""

    name: str
    ok: bool
    elapsed_ms: float
    detail: str = ""


@dataclass(frozen=True)
class ProbeResult:
    mode: Mode
    available: bool
    reason: str
    elapsed_ms: float
    details: dict[str, str] = field(default_factory=dict)
    steps: tuple[StepResult, ...] = ()

    def to_json(self) -> dict[str, object]:
        return {
            "mode": self.mode.value,
            "available": self.available,
            "reason": self.reason,
            "elapsed_ms": round(self.elapsed_ms, 3),
            "details": dict(self.details),
            "steps": [
                {
                    "name": s.name,
                    "ok": s.ok,
                    "elapsed_ms": round(s.elapsed_ms, 3),
                    "detail": s.detail,
                }
                for s in self.steps
            ],
        }

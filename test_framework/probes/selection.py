"""Choosing the mode a run uses, from the settings and the probes' answers."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from test_framework.errors import ModeBrokenError, ModeUnavailableError
from test_framework.modes import Mode
from test_framework.probes.result import ProbeResult
from test_framework.settings_table import MODE

_CHOOSE = f"{MODE.option} / {MODE.env}"


@dataclass(frozen=True)
class Selection:
    mode: Mode
    reason: str


def select_mode(requested: Mode | None, probes: Mapping[Mode, ProbeResult]) -> Selection:
    """``requested`` None means auto: the first available mode in order of preference."""
    if requested is not None:
        result = probes[requested]
        if result.broken:
            raise ModeBrokenError(
                f"mode {requested} is {result.verdict} (fix that, or stop configuring it)",
                (requested.value,),
            )
        if not result.available:
            raise ModeUnavailableError(
                f"mode {requested} cannot run here: {result.reason}"
                f" (fix that, or choose another mode with {_CHOOSE})"
            )
        return Selection(requested, f"{requested} requested: {result.reason}")
    # Choosing another mode over a deployment someone configured would turn its failure into
    # a green run elsewhere.
    broken = {mode: result for mode, result in probes.items() if result.broken}
    if broken:
        raise ModeBrokenError(
            "; ".join(f"{mode} is {result.verdict}" for mode, result in broken.items())
            + f" (fix it or stop configuring it; {_CHOOSE} chooses one mode)",
            tuple(mode.value for mode in broken),
        )
    passed_over: list[str] = []
    for mode, result in probes.items():
        if result.available:
            why = f"auto chose {mode} ({result.reason})"
            if passed_over:
                why += "; passed over " + "; ".join(passed_over)
            return Selection(mode, why)
        passed_over.append(f"{mode}: {result.reason}")
    reasons = "; ".join(f"{m}: {r.reason}" for m, r in probes.items())
    raise ModeUnavailableError(f"no mode can run here ({reasons})")

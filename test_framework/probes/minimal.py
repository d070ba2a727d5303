"""The minimal mode's probe: the service runs in-process on loopback, so it nearly always can."""

from __future__ import annotations

import importlib.util
import socket
import time

from test_framework.modes import Mode
from test_framework.probes.result import ProbeResult, StepResult
from test_framework.settings import Settings


def probe_minimal(settings: Settings) -> ProbeResult:
    started = time.perf_counter()
    steps: list[StepResult] = []
    factory = settings.service.factory
    module, _, attribute = factory.partition(":")
    ok = bool(module and attribute)
    steps.append(
        StepResult("factory name", ok, _ms(started), factory if ok else "expected module:callable")
    )
    if not ok:
        reason = (
            f"service factory {factory!r} is not 'module:callable': set factory in"
            " [tool.test_framework.service]"
        )
        return ProbeResult(
            Mode.MINIMAL, False, reason, _ms(started), steps=tuple(steps), broken=True
        )

    # Only the top-level package is looked up: importing the service here would cost more than
    # the whole probe budget, and the session's environment may be the only one that has it.
    top = module.split(".")[0]
    step_start = time.perf_counter()
    found = importlib.util.find_spec(top) is not None
    where = (
        "importable here"
        if found
        else "not importable here; the session's environment must have it"
    )
    steps.append(StepResult("factory module", True, _ms(step_start), f"{top}: {where}"))

    step_start = time.perf_counter()
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind(("127.0.0.1", 0))
    except OSError as exc:
        steps.append(StepResult("loopback bind", False, _ms(step_start), str(exc)))
        reason = f"cannot bind a loopback port ({exc}): the in-process service needs 127.0.0.1"
        return ProbeResult(Mode.MINIMAL, False, reason, _ms(started), steps=tuple(steps))
    steps.append(StepResult("loopback bind", True, _ms(step_start), "127.0.0.1:0"))
    return ProbeResult(
        Mode.MINIMAL,
        True,
        f"in-process service from {factory}",
        _ms(started),
        details={"factory": factory},
        steps=tuple(steps),
    )


def _ms(since: float) -> float:
    return (time.perf_counter() - since) * 1000

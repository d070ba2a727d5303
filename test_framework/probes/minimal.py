"""The minimal mode's probe: the service runs in-process on loopback, so it nearly always can.

Absent when no factory is configured; broken when the factory is not ``module:callable``, or
(checked statically, see ``probes.factory``) its module has no such callable of the documented
signature. Where the probing process cannot import the module (nox's own environment), the
probe says so and the session's own probe, inside pytest where the service is installed,
decides. Standard library only.
"""

from __future__ import annotations

import socket
import time

from test_framework.modes import Mode
from test_framework.probes.factory import check_factory
from test_framework.probes.result import ProbeResult, StepResult
from test_framework.service import NO_SERVICE, TABLE
from test_framework.settings import Settings


def probe_minimal(settings: Settings, *, in_session: bool = False) -> ProbeResult:
    """``in_session``: this process runs the tests, so the factory's module must be here."""
    started = time.perf_counter()
    steps: list[StepResult] = []
    factory = settings.service.factory
    if not factory:
        steps.append(StepResult("factory name", False, _ms(started), f"no factory in {TABLE}"))
        return ProbeResult(Mode.MINIMAL, False, NO_SERVICE, _ms(started), steps=tuple(steps))
    module, _, attribute = factory.partition(":")
    ok = bool(module and attribute)
    steps.append(
        StepResult("factory name", ok, _ms(started), factory if ok else "expected module:callable")
    )
    if not ok:
        reason = f"service factory {factory!r} is not 'module:callable': set factory in {TABLE}"
        return ProbeResult(
            Mode.MINIMAL, False, reason, _ms(started), steps=tuple(steps), broken=True
        )

    step_start = time.perf_counter()
    check = check_factory(factory)
    if not check.found:
        if in_session:
            steps.append(StepResult("factory", False, _ms(step_start), check.detail))
            reason = (
                f"cannot import service factory module {module!r}: install the service in the"
                f" session's environment, or fix factory in {TABLE}"
            )
            return ProbeResult(
                Mode.MINIMAL, False, reason, _ms(started), steps=tuple(steps), broken=True
            )
        detail = f"{check.detail}; the session checks it where the service is installed"
        steps.append(StepResult("factory", True, _ms(step_start), detail))
    elif check.problem is not None:
        steps.append(StepResult("factory", False, _ms(step_start), check.problem))
        return ProbeResult(
            Mode.MINIMAL, False, check.problem, _ms(started), steps=tuple(steps), broken=True
        )
    else:
        steps.append(StepResult("factory", True, _ms(step_start), check.detail))

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

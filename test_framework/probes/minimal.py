"""The minimal mode's probe: the service runs on this machine, so it nearly always can.

Absent when none of ``factory``, ``command`` and ``asgi_app`` is configured. Broken when the one
configured cannot start: a factory that is not ``module:callable`` or (checked statically, see
``probes.factory``) has no such callable of the documented signature; a command whose
executable is not on PATH; an ASGI app whose module is not there; a ``command_cwd`` that is not
a folder. Nothing is started or imported here, except, inside the pytest session (which
imports the factory anyway), a factory the source could not tell about. Where the probing
process cannot see the service (nox's own environment), the probe says so and the session's own
probe decides. Standard library only.
"""

from __future__ import annotations

import importlib.util
import os
import socket
import time

from test_framework.launch import (
    ASGI_EXTRA,
    ASGI_SERVER,
    describe,
    placeholder_values,
    resolve,
    working_dir,
)
from test_framework.modes import Mode
from test_framework.probes.factory import check_asgi_app, check_factory, imported_problem
from test_framework.probes.result import ProbeResult, StepResult
from test_framework.service import NO_SERVICE, TABLE, StartKind
from test_framework.settings import Settings


class _Steps:
    """The steps taken so far, and the result that ends the probe."""

    def __init__(self) -> None:
        self.started = time.perf_counter()
        self.steps: list[StepResult] = []
        self._step_start = self.started

    def add(self, name: str, ok: bool, detail: str, *, checked: bool = True) -> None:
        self.steps.append(StepResult(name, ok, _ms(self._step_start), detail, checked))
        self._step_start = time.perf_counter()

    def not_checked(self, name: str, detail: str) -> None:
        """A step this process cannot take (nox's environment): neither passed nor failed."""
        self.add(name, True, detail, checked=False)

    def result(
        self,
        available: bool,
        reason: str,
        *,
        broken: bool = False,
        details: dict[str, str] | None = None,
    ) -> ProbeResult:
        return ProbeResult(
            Mode.MINIMAL,
            available,
            reason,
            _ms(self.started),
            details=details or {},
            steps=tuple(self.steps),
            broken=broken,
        )


def probe_minimal(settings: Settings, *, in_session: bool = False) -> ProbeResult:
    """``in_session``: this process runs the tests, so what the service needs must be here."""
    steps = _Steps()
    kind = settings.service.start_kind
    if kind is None:
        steps.add("service kind", False, f"no factory, command or asgi_app in {TABLE}")
        return steps.result(False, NO_SERVICE)
    if kind is StartKind.FACTORY:
        problem = _factory_problem(settings, steps, in_session)
    else:
        problem = _process_problem(settings, kind, steps, in_session)
    if problem is not None:
        return steps.result(False, problem, broken=True)
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind(("127.0.0.1", 0))
    except OSError as exc:
        steps.add("loopback bind", False, str(exc))
        return steps.result(
            False, f"cannot bind a loopback port ({exc}): the local service needs 127.0.0.1"
        )
    steps.add("loopback bind", True, "127.0.0.1:0")
    service = settings.service
    if kind is StartKind.FACTORY:
        factory = service.factory
        return steps.result(
            True, f"in-process service from {factory}", details={"factory": factory}
        )
    return steps.result(True, describe(service), details={kind.value: _configured(settings)})


def _configured(settings: Settings) -> str:
    service = settings.service
    return service.asgi_app if service.start_kind is StartKind.ASGI_APP else service.command_text


def _factory_problem(settings: Settings, steps: _Steps, in_session: bool) -> str | None:
    factory = settings.service.factory
    module, _, attribute = factory.partition(":")
    ok = bool(module and attribute)
    steps.add("factory name", ok, factory if ok else "expected module:callable")
    if not ok:
        return f"service factory {factory!r} is not 'module:callable': set factory in {TABLE}"
    check = check_factory(factory)
    if not check.found:
        if in_session:
            steps.add("factory", False, check.detail)
            install = " and ".join(repr(line) for line in settings.install) or "nothing"
            return (
                f"module {module!r} of factory {factory} is not importable in the tests'"
                f" environment (install in [tool.test_framework] gives {install}): install the"
                f" service there, or fix factory in {TABLE}"
            )
        steps.not_checked(
            "factory", f"{check.detail}; the session checks it where the service is installed"
        )
        return None
    if check.problem is not None:
        steps.add("factory", False, check.problem)
        return check.problem
    if in_session and ": not checked: " in check.detail:
        # The source could not tell; the session imports the factory anyway, so look now,
        # before any test, rather than fail every test's setup the same way.
        problem = imported_problem(factory)
        steps.add("factory", problem is None, problem or f"{factory}: checked by importing it")
        return problem
    steps.add("factory", True, check.detail)
    return None


def _process_problem(
    settings: Settings, kind: StartKind, steps: _Steps, in_session: bool
) -> str | None:
    service = settings.service
    name = describe(service)
    steps.add("service kind", True, name)
    cwd = working_dir(service, settings.root)
    if not cwd.is_dir():
        steps.add("working folder", False, f"{cwd} is not a folder")
        return f"{name}: command_cwd {service.command_cwd!r} is not a folder: fix it in {TABLE}"
    steps.add("working folder", True, str(cwd))
    if kind is StartKind.ASGI_APP:
        return _asgi_problem(settings, steps, in_session)
    values = placeholder_values(0, test_token="", test_password="", jwt_secret="")
    resolved = resolve(service, settings.root, values, os.environ)
    word, found = resolved.argv[0], resolved.executable
    if found is None:
        steps.add("executable", False, f"{word!r} not found")
        return (
            f"{name}: {word!r} is not on PATH (nor a file in {cwd}): install it, or fix command"
            f" in {TABLE}"
        )
    steps.add("executable", True, found)
    return None


def _asgi_problem(settings: Settings, steps: _Steps, in_session: bool) -> str | None:
    service = settings.service
    check = check_asgi_app(service.asgi_app, working_dir(service, settings.root))
    if not check.found:
        if not in_session:
            steps.not_checked("asgi app", f"{check.detail}; the session checks it")
            return None
        steps.add("asgi app", False, check.detail)
        return (
            f"ASGI app {service.asgi_app}: {check.detail}: install the service in the tests'"
            f" environment, set command_cwd to its folder, or fix asgi_app in {TABLE}"
        )
    if check.problem is not None:
        steps.add("asgi app", False, check.problem)
        return f"ASGI app {service.asgi_app}: {check.problem}"
    steps.add("asgi app", True, check.detail)
    if importlib.util.find_spec(ASGI_SERVER) is None:
        if not in_session:
            steps.not_checked(ASGI_SERVER, "not installed here; the session checks it")
            return None
        steps.add(ASGI_SERVER, False, "not installed")
        return (
            f"ASGI app {service.asgi_app}: {ASGI_SERVER} is not installed in the tests'"
            f" environment: install {ASGI_EXTRA!r}"
        )
    steps.add(ASGI_SERVER, True, "installed")
    return None


def _ms(since: float) -> float:
    return (time.perf_counter() - since) * 1000

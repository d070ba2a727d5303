"""The docker_local probe: daemon reachable, Compose v2, compose file found, image buildable.

Each step is reported on its own with its time. When the daemon does not answer, the slow steps
(Compose's version, the image checks) are not run: the answer must come in well under 100 ms.

No compose file configured, or no daemon, is an absence (the mode is skipped); a malformed
``DOCKER_HOST``, or a daemon that answers while the compose file named in
``[tool.test_framework.service]`` is missing, is broken (the mode fails). Standard library only.
"""

from __future__ import annotations

import time
from pathlib import Path

from test_framework.engine.compose_file import resolve_compose_file
from test_framework.engine.docker_host import locate_daemon
from test_framework.errors import HarnessError
from test_framework.modes import Mode
from test_framework.probes.result import ProbeResult, StepResult
from test_framework.service import NO_COMPOSE_FILE, TABLE
from test_framework.settings import Settings
from test_framework.settings_table import DOCKER_UNAVAILABLE


class _Steps:
    def __init__(self) -> None:
        self.started = time.perf_counter()
        self.steps: list[StepResult] = []
        self.details: dict[str, str] = {}
        self._mark = self.started

    def add(self, name: str, ok: bool, detail: str) -> bool:
        now = time.perf_counter()
        self.steps.append(StepResult(name, ok, (now - self._mark) * 1000, detail))
        self._mark = now
        return ok

    def result(self, available: bool, reason: str, *, broken: bool = False) -> ProbeResult:
        elapsed = (time.perf_counter() - self.started) * 1000
        return ProbeResult(
            Mode.DOCKER_LOCAL,
            available,
            reason,
            elapsed,
            dict(self.details),
            tuple(self.steps),
            broken=broken,
        )

    def first_failure(self) -> str:
        return next(step.detail for step in self.steps if not step.ok)


def probe_docker(settings: Settings, *, in_session: bool = False) -> ProbeResult:
    """``in_session`` changes nothing: the stack is built from files, not this environment."""
    steps = _Steps()
    if settings.docker.forced_unavailable:
        forced = f"{DOCKER_UNAVAILABLE.env}=true"
        steps.add("forced", False, forced)
        return steps.result(False, f"unavailable (forced): {forced}")
    timeout = settings.probe_timeout_s

    try:
        search = locate_daemon(settings.docker.host, timeout)
    except HarnessError as exc:  # a malformed DOCKER_HOST or a missing Docker context
        steps.add("daemon", False, str(exc))
        return steps.result(False, str(exc), broken=True)
    if not settings.service.compose_file:
        steps.add("compose file", False, f"no compose_file in {TABLE}")
        return steps.result(False, NO_COMPOSE_FILE)
    daemon_ok = steps.add("daemon", search.found is not None, search.explain())

    # Cheap, so it runs even without a daemon: both problems are reported at once.
    compose_file: Path | None = None
    try:
        compose_file = resolve_compose_file(settings.service.compose_file, settings.root)
        steps.add("compose file", True, str(compose_file))
        steps.details["compose_file"] = str(compose_file)
    except HarnessError as exc:
        steps.add("compose file", False, str(exc))
    if search.found is None or not daemon_ok:
        return steps.result(False, steps.first_failure())
    if compose_file is None:
        # A daemon answers and the project names a compose file that is not there.
        return steps.result(False, steps.first_failure(), broken=True)
    # Imported only once a daemon answered: a probe that finds none must not pay for them.
    from test_framework.engine.compose_command import find_compose
    from test_framework.engine.image_inputs import (
        choose_base_image,
        uses_base_image,
        wheelhouse_status,
    )

    address = search.found.address
    steps.details["docker_host"] = address.url
    steps.details["docker_host_source"] = address.source
    steps.details["server"] = search.found.detail

    try:
        compose = find_compose(timeout=timeout)
        steps.add("compose v2", True, str(compose))
        steps.details["compose"] = str(compose)
    except HarnessError as exc:
        steps.add("compose v2", False, str(exc))

    if compose_file is not None:
        ok, detail = wheelhouse_status(compose_file)
        steps.add("wheelhouse", ok, detail)

    # A compose file that does not pass MC_BASE_IMAGE builds on an image of its own choosing:
    # the harness's choice would be neither checked by the build nor true of it.
    base_image = uses_base_image(compose_file)
    if base_image:
        try:
            choice = choose_base_image(address, settings.docker.base_image, timeout)
            steps.add("base image", choice.ok, choice.detail)
            steps.details["base_image"] = choice.image
        except OSError as exc:
            steps.add("base image", False, f"the daemon did not answer about images: {exc}")

    if not all(step.ok for step in steps.steps):
        return steps.result(False, steps.first_failure())
    reason = (
        f"{search.found.detail} at {address.url}; {steps.details['compose']};"
        f" {steps.details['compose_file']}"
    )
    if base_image:
        reason += f"; base image {steps.details['base_image']}"
    return steps.result(True, reason)

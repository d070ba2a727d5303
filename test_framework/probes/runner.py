"""Runs the probes of several modes at once: the decision costs the slowest probe, not the sum."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor

from test_framework.modes import ALL_MODES, Mode
from test_framework.probes.docker import probe_docker
from test_framework.probes.minimal import probe_minimal
from test_framework.probes.result import ProbeResult
from test_framework.probes.staging import probe_staging
from test_framework.settings import Settings

Probe = Callable[[Settings], ProbeResult]

PROBES: dict[Mode, Probe] = {
    Mode.DOCKER_LOCAL: probe_docker,
    Mode.STAGING_FALLBACK: probe_staging,
    Mode.MINIMAL: probe_minimal,
}


def probe_modes(settings: Settings, modes: Iterable[Mode] = ALL_MODES) -> dict[Mode, ProbeResult]:
    """Probe ``modes`` concurrently; the result keeps ``auto``'s order of preference."""
    wanted = [mode for mode in ALL_MODES if mode in set(modes)]
    if len(wanted) == 1:
        return {wanted[0]: _guarded(wanted[0], settings)}
    with ThreadPoolExecutor(max_workers=len(wanted) or 1, thread_name_prefix="probe") as pool:
        futures = {mode: pool.submit(_guarded, mode, settings) for mode in wanted}
        return {mode: futures[mode].result() for mode in wanted}


def _guarded(mode: Mode, settings: Settings) -> ProbeResult:
    started = time.perf_counter()
    try:
        return PROBES[mode](settings)
    except OSError as exc:
        # A probe answers "unavailable" for the failures it knows; an OSError it did not
        # expect still means the mode cannot run, and the reason says what happened.
        elapsed = (time.perf_counter() - started) * 1000
        return ProbeResult(mode, False, f"probe failed: {exc}", elapsed)

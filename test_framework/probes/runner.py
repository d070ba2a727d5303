"""Runs the probes of several modes at once: the decision costs the slowest probe, not the sum."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from typing import Protocol

from test_framework.mode_specs import MODE_SPECS
from test_framework.modes import ALL_MODES, Mode
from test_framework.probes.result import ProbeResult
from test_framework.settings import Settings


class Probe(Protocol):
    """``in_session``: the probing process runs the tests, so what the service needs (its
    factory, an auth function) must be importable here; elsewhere (nox's own environment) a
    probe leaves that to the session."""

    def __call__(self, settings: Settings, *, in_session: bool = False) -> ProbeResult: ...


# Each mode's probe, as the mode table names it.
PROBES: dict[Mode, Probe] = {mode: spec.probe_function() for mode, spec in MODE_SPECS.items()}


def probe_modes(
    settings: Settings, modes: Iterable[Mode] = ALL_MODES, *, in_session: bool = False
) -> dict[Mode, ProbeResult]:
    """Probe ``modes`` concurrently; the result keeps ``auto``'s order of preference.

    ``in_session``: the probing process is the one that runs the tests (pytest), so what the
    service needs must be installed here (see ``probe_minimal``).
    """
    wanted = [mode for mode in ALL_MODES if mode in set(modes)]
    results: dict[Mode, ProbeResult] = {}
    failures: list[BaseException] = []

    def probe(mode: Mode) -> None:
        try:
            results[mode] = _guarded(mode, settings, in_session)
        except BaseException as exc:  # noqa: BLE001 - re-raised below in the caller's thread
            failures.append(exc)

    # Plain threads, one per probe: concurrent.futures would cost more to import than a probe
    # that finds nothing takes. Daemons: Ctrl-C while one waits on a silent deployment ends the
    # run now, not when that probe's step times out.
    threads = [
        threading.Thread(target=probe, args=(m,), name=f"probe-{m}", daemon=True)
        for m in wanted[1:]
    ]
    for thread in threads:
        thread.start()
    if wanted:
        # In this thread uncaught: Ctrl-C here must end the wait for the others at once.
        results[wanted[0]] = _guarded(wanted[0], settings, in_session)
    for thread in threads:
        thread.join()
    if failures:
        raise failures[0]
    return {mode: results[mode] for mode in wanted}


def _guarded(mode: Mode, settings: Settings, in_session: bool) -> ProbeResult:
    started = time.perf_counter()
    try:
        if in_session:
            return PROBES[mode](settings, in_session=True)
        return PROBES[mode](settings)
    except OSError as exc:
        # A probe answers "unavailable" for the failures it knows; an OSError it did not
        # expect still means the mode cannot run, and the reason says what happened.
        elapsed = (time.perf_counter() - started) * 1000
        return ProbeResult(mode, False, f"probe failed: {exc}", elapsed)

"""The ledger of a run that ended before its mode was decided, so the gate can say why."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import replace

import pytest

from test_framework.errors import HarnessError, ModeBrokenError
from test_framework.modes import ALL_MODES, Mode
from test_framework.pytest_plugin.options import given_options
from test_framework.results.ledger import (
    Ledger,
    RunStatus,
    broken_ledger,
    invocation_from_environment,
    ledger_path,
    skipped_ledger,
    write_ledger,
)
from test_framework.settings import load_settings, writable_report_dir


def write_unavailable_ledger(config: pytest.Config, error: HarnessError) -> None:
    """A run that cannot start still leaves a ledger, so the gate can say why: an error for
    each broken mode (under ``auto`` too), a skip for a mode that is merely absent."""
    if isinstance(error, ModeBrokenError):
        broken = tuple(Mode(name) for name in error.modes)
        _write_early_ledger(config, lambda mode: broken_ledger(mode, str(error)), broken)
    else:
        _write_early_ledger(config, lambda mode: skipped_ledger(mode, str(error)))


def write_interrupted_ledger(config: pytest.Config, how: str) -> None:
    """Interrupted while probing: the ledger says the run began and never ended. Under ``auto``
    no mode was chosen yet, so every mode it probes gets one: the gate fails on each, and no
    earlier run's ledger in those folders passes for this run's."""
    _write_early_ledger(
        config,
        lambda mode: Ledger(
            run_id="not-started",
            mode=mode,
            status=RunStatus.RAN,
            reason=f"interrupted ({how}) while probing the modes",
            started_at=time.time(),
            exit_status=int(pytest.ExitCode.INTERRUPTED),
        ),
        under_auto=ALL_MODES,
    )


def _write_early_ledger(
    config: pytest.Config, make: Callable[[str], Ledger], under_auto: tuple[Mode, ...] = ()
) -> None:
    """A ledger for a run that ended before the mode was decided: for the mode it asked for,
    or under ``auto`` (none chosen yet) for the modes ``under_auto``. Nothing when the settings
    themselves are wrong, the report folder included: their error is the whole story."""
    try:
        settings = load_settings(config.rootpath, os.environ, given_options(config))
        writable_report_dir(settings)
    except HarnessError:
        return
    for mode in [settings.mode] if settings.mode is not None else under_auto:
        ledger = replace(make(mode.value), invocation=invocation_from_environment())
        write_ledger(ledger, ledger_path(settings.report_dir, mode.value))

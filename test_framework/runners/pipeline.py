"""One run of the suite, as every runner (nox, tox, ``contract``, ``monitor``) takes it.

1. ``new_invocation``: the id every ledger of the run carries, and the gate judges;
2. ``prepare_mode``: clear the mode's ledgers, then probe it and decide (run, skip or fail);
3. ``pytest_argv``: the suite's command line in that mode, with the mode's workers;
4. ``gate_argv``: the gate's words over the mode folders the run wrote.

The runners adapt these to their tool: where a command runs, how a skip or failure is told.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Sequence
from pathlib import Path

from test_framework.modes import Mode
from test_framework.runners.decision import ModeDecision, clear_ledgers, decide_mode
from test_framework.settings import Settings

__all__ = ["gate_argv", "new_invocation", "prepare_mode", "pytest_argv"]


def new_invocation(runner: str) -> str:
    """A fresh run id, e.g. ``20261207121500-nox-3fa2c1``: sortable, and names the runner."""
    return time.strftime("%Y%m%d%H%M%S") + f"-{runner}-" + secrets.token_hex(3)


def prepare_mode(
    settings: Settings,
    mode: Mode,
    shard: tuple[int, int],
    invocation: str,
    runner: str,
    *,
    asked_by: str = "",
) -> ModeDecision:
    """Clear the mode's (shard's) ledgers first, so none of an earlier run is judged as this
    run's, then probe and decide. ``runner`` names who cleared them in the ledger's reason."""
    clear_ledgers(settings, mode, shard, f"{runner} run {invocation}")
    return decide_mode(settings, mode, shard, invocation, asked_by=asked_by)


def pytest_argv(
    launcher: Sequence[str],
    settings: Settings,
    mode: Mode,
    suite: str,
    *,
    options: Sequence[str] = (),
    tail: Sequence[str] = (),
    workers_given: bool = False,
) -> list[str]:
    """``launcher`` (``python -m pytest``, or tox's ``pytest``) on ``suite`` in ``mode``: the
    runner's ``options``, no cache, its ``tail``, then the profile's xdist workers unless the
    caller's own arguments already give ``-n``."""
    argv = [*launcher, suite, "--mc-mode", mode.value, *options, "-p", "no:cacheprovider", *tail]
    workers = settings.profile(mode).pacing.workers
    if workers > 0 and not workers_given:
        argv += ["-n", str(workers)]
    return argv


def gate_argv(
    report_dir: Path,
    modes: Sequence[str],
    invocation: str | None,
    *,
    required: str | None = None,
) -> list[str]:
    """The gate's words over ``modes``' folders (none: the whole report folder), for the run
    ``invocation`` (``None``: any run's ledgers), with its reports written to ``report_dir``."""
    words = [str(report_dir / mode) for mode in modes] or [str(report_dir)]
    if invocation is not None:
        words += ["--invocation", invocation]
    if required is not None:
        words += ["--required", required]
    return [*words, "--reports", str(report_dir)]

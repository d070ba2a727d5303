"""Whether a mode runs, is skipped or fails, decided the same way under every test runner.

The nox sessions and the tox plugin both call this before they install anything: it probes the
mode, writes the ledger of a mode that cannot run (skipped when absent, an error when
configured and broken), and says what the runner does next. Standard library only.
"""

from __future__ import annotations

import enum
import time
from collections.abc import Sequence
from dataclasses import dataclass

from test_framework.modes import Mode
from test_framework.probes.result import ProbeResult
from test_framework.probes.runner import probe_modes
from test_framework.results.ledger import broken_ledger, ledger_path, skipped_ledger, write_ledger
from test_framework.results.leftovers import clear_for_new_run
from test_framework.settings import Settings
from test_framework.settings_table import REQUIRED_MODES
from test_framework.sharding import parse_shard


class Action(enum.StrEnum):
    RUN = "run"
    SKIP = "skip"
    FAIL = "fail"


@dataclass(frozen=True)
class ModeDecision:
    mode: Mode
    action: Action
    # Why the mode is skipped or fails, in one line; empty when it runs.
    message: str
    probe: ProbeResult

    @property
    def probe_line(self) -> str:
        """The probe's answer as a runner logs it before acting on it."""
        probe = self.probe
        return f"probe {self.mode}: {probe.status} in {probe.elapsed_ms:.1f} ms: {probe.reason}"


def shard_from_args(args: Sequence[str]) -> tuple[int, int]:
    """The ``--shard i/N`` among the arguments passed on to pytest, or (1, 1)."""
    for index, arg in enumerate(args):
        if arg.startswith("--shard="):
            return parse_shard(arg.partition("=")[2])
        if arg == "--shard" and index + 1 < len(args):
            return parse_shard(args[index + 1])
    return (1, 1)


def clear_ledgers(
    settings: Settings, mode: Mode, shard: tuple[int, int], label: str = "a new run"
) -> None:
    """Remove what earlier runs left for this mode, which the gate would judge with this run,
    or which would lie beside this run's ledger as if it were this run's (JUnit XML,
    transcripts), and mark the HTML report stale until the gate writes it again; ``label``
    names the run in that mark.

    A shard keeps its sibling shards' ledgers (and transcripts) of the same split, so shards
    run one after another into one folder can be gated together. The folder stays, empty if
    need be: the gate fails a mode whose folder holds no ledger.
    """
    own = ledger_path(settings.report_dir, mode.value, *shard)
    own.parent.mkdir(parents=True, exist_ok=True)
    for old in own.parent.glob("ledger*.json"):
        sibling = shard[1] > 1 and old.name.endswith(f"-of-{shard[1]}.json")
        if old == own or not sibling:
            old.unlink()
    clear_for_new_run(
        settings.report_dir, mode.value, label, time.time(), keep_transcripts=shard[1] > 1
    )


def decide_mode(
    settings: Settings,
    mode: Mode,
    shard: tuple[int, int] = (1, 1),
    invocation: str | None = None,
    *,
    asked_by: str = "",
) -> ModeDecision:
    """Probe ``mode``; for a mode that cannot run, write its ledger and say skip or fail.

    Absent (nothing configured, no daemon) is a skip; configured but failing a step is a
    failure, here and in the gate, whether or not the mode is required; a required mode that
    cannot run fails, and so does one ``asked_by`` a command that exists only to run it
    (``nox -s staging``): absent there is a failure, never a green run that tested nothing.
    """
    probe = probe_modes(settings, [mode])[mode]
    if probe.available:
        return ModeDecision(mode, Action.RUN, "", probe)
    make = broken_ledger if probe.broken else skipped_ledger
    write_ledger(
        make(mode.value, probe.verdict, [probe.to_json()], shard, invocation),
        ledger_path(settings.report_dir, mode.value, *shard),
    )
    if probe.broken:
        return ModeDecision(mode, Action.FAIL, f"{mode} is {probe.verdict}", probe)
    if mode in settings.required_modes:
        message = f"{mode} is required by {REQUIRED_MODES.env} but cannot run: {probe.reason}"
        return ModeDecision(mode, Action.FAIL, message, probe)
    if asked_by:
        message = f"{mode} is what {asked_by} runs, but it cannot run here: {probe.reason}"
        return ModeDecision(mode, Action.FAIL, message, probe)
    return ModeDecision(mode, Action.SKIP, f"{mode} cannot run here: {probe.reason}", probe)

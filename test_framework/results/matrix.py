"""Ledgers from any number of modes and shards, merged into one test-by-mode matrix.

The gate judges the matrix, the reports draw it, parity compares along its rows. Standard
library only: the gate runs in nox's own process.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from test_framework.errors import HarnessError
from test_framework.modes import ALL_MODES
from test_framework.results.ledger import Ledger, Outcome, RunStatus, TestRecord

LEDGER_GLOB = "ledger*.json"
TRANSCRIPTS_DIR = "transcripts"
MODE_SKIPPED = "mode skipped"
# A folder holding this file is not searched for ledgers: the monitor marks its own, so its
# rounds never mix into a gate run over the whole report folder.
SKIP_MARKER = ".gate-skip"


class LedgerReadError(HarnessError):
    """A path given to the gate or the reports is missing, or is not a readable ledger."""


@dataclass(frozen=True)
class LoadedLedger:
    path: Path
    ledger: Ledger

    @property
    def label(self) -> str:
        """``minimal`` or ``minimal shard 2/4``."""
        led = self.ledger
        if led.shard_count == 1:
            return led.mode
        return f"{led.mode} shard {led.shard_index}/{led.shard_count}"

    def transcript_path(self, record: TestRecord) -> Path | None:
        if not record.transcript:
            return None
        return self.path.parent / TRANSCRIPTS_DIR / record.transcript


def find_ledgers(paths: Iterable[Path]) -> list[Path]:
    """Files as given; folders searched recursively for ``ledger*.json``, except below a
    folder that holds a ``.gate-skip`` file (unless that folder is the one given)."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found.extend(
                sorted(
                    p
                    for p in path.rglob(LEDGER_GLOB)
                    if p.is_file() and not _skipped(p.parent, path)
                )
            )
        elif path.is_file():
            found.append(path)
        else:
            raise LedgerReadError(f"{path}: no such file or folder: give ledger files or folders")
    unique: dict[Path, None] = {}
    for path in found:
        unique.setdefault(path.resolve(), None)
    return list(unique)


# What to do about a file that is not a ledger: the gate reads only what the plugin wrote.
_GIVE_LEDGERS = "give the ledger*.json files the pytest plugin wrote, or their folders"


def _skipped(folder: Path, top: Path) -> bool:
    while folder != top and top in folder.parents:
        if (folder / SKIP_MARKER).exists():
            return True
        folder = folder.parent
    return False


def load_ledger(path: Path) -> LoadedLedger:
    try:
        data = json.loads(path.read_text("utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise LedgerReadError(f"{path}: cannot read the ledger ({exc}): {_GIVE_LEDGERS}") from None
    if not isinstance(data, dict):
        raise LedgerReadError(f"{path}: not a ledger (a JSON object is expected): {_GIVE_LEDGERS}")
    try:
        return LoadedLedger(path, Ledger.from_json(data))
    except (KeyError, ValueError, TypeError, AttributeError) as exc:
        raise LedgerReadError(
            f"{path}: not a valid ledger ({type(exc).__name__}: {exc}): {_GIVE_LEDGERS}"
        ) from None


def load_ledgers(paths: Iterable[Path]) -> list[LoadedLedger]:
    return [load_ledger(path) for path in find_ledgers(paths)]


@dataclass(frozen=True)
class Cell:
    """One test in one mode."""

    outcome: Outcome
    reason: str = ""  # skip reason, failure message, or why it was not collected
    record: TestRecord | None = None
    source: LoadedLedger | None = None  # the ledger that holds the record (for its transcript)

    @property
    def transcript_path(self) -> Path | None:
        if self.record is None or self.source is None:
            return None
        return self.source.transcript_path(self.record)


@dataclass(frozen=True)
class ModeRun:
    """Everything the ledgers say about one mode: all its shards together."""

    mode: str
    ledgers: tuple[LoadedLedger, ...]
    tests: dict[str, tuple[TestRecord, LoadedLedger]]

    @property
    def status(self) -> RunStatus | None:
        """RAN when any shard ran; None when no ledger for the mode was given."""
        statuses = {loaded.ledger.status for loaded in self.ledgers}
        for status in (RunStatus.RAN, RunStatus.ERROR, RunStatus.SKIPPED):
            if status in statuses:
                return status
        return None

    @property
    def reason(self) -> str:
        if not self.ledgers:
            return "no ledger for this mode"
        status = self.status
        reasons = [lo.ledger.reason for lo in self.ledgers if lo.ledger.status is status]
        return next((r for r in reasons if r), "")

    @property
    def probes(self) -> tuple[dict[str, object], ...]:
        for loaded in self.ledgers:
            if loaded.ledger.probes:
                return loaded.ledger.probes
        return ()

    @property
    def deployment(self) -> dict[str, object]:
        for loaded in self.ledgers:
            if loaded.ledger.deployment:
                return loaded.ledger.deployment
        return {}

    def counts(self) -> Counter[Outcome]:
        return Counter(record.outcome for record, _ in self.tests.values())

    @property
    def executed(self) -> int:
        return sum(1 for record, _ in self.tests.values() if record.outcome.executed)


@dataclass(frozen=True)
class Matrix:
    modes: tuple[ModeRun, ...]
    nodeids: tuple[str, ...]
    markers: dict[str, frozenset[str]]

    @property
    def ledgers(self) -> list[LoadedLedger]:
        return [loaded for run in self.modes for loaded in run.ledgers]

    def mode(self, name: str) -> ModeRun | None:
        return next((run for run in self.modes if run.mode == name), None)

    def is_mission_critical(self, nodeid: str) -> bool:
        return "mission_critical" in self.markers.get(nodeid, frozenset())

    @property
    def mission_critical(self) -> tuple[str, ...]:
        return tuple(n for n in self.nodeids if self.is_mission_critical(n))

    def cell(self, nodeid: str, mode: str) -> Cell:
        run = self.mode(mode)
        if run is None or not run.ledgers:
            return Cell(Outcome.NOT_COLLECTED, "no ledger for this mode")
        found = run.tests.get(nodeid)
        if found is not None:
            record, source = found
            reason = record.skip_reason or record.message or ""
            return Cell(record.outcome, reason, record, source)
        if run.status is RunStatus.SKIPPED:
            return Cell(Outcome.SKIPPED, f"{MODE_SKIPPED}: {run.reason}")
        if run.status is RunStatus.ERROR:
            return Cell(Outcome.NOT_COLLECTED, f"the run failed: {run.reason}")
        return Cell(Outcome.NOT_COLLECTED, f"not collected in {mode}")

    def row(self, nodeid: str) -> list[tuple[str, Cell]]:
        return [(run.mode, self.cell(nodeid, run.mode)) for run in self.modes]


def natural_key(nodeid: str) -> tuple[tuple[int, int | str], ...]:
    """``test_2`` before ``test_10``: digit runs compare as numbers."""
    return tuple(
        (0, int(part)) if part.isdigit() else (1, part) for part in re.split(r"(\d+)", nodeid)
    )


def mode_order(name: str) -> tuple[int, str]:
    known = [m.value for m in ALL_MODES]
    return (known.index(name) if name in known else len(known), name)


def build_matrix(ledgers: Sequence[LoadedLedger], extra_modes: Iterable[str] = ()) -> Matrix:
    """Merge ``ledgers``; ``extra_modes`` (e.g. required ones) get a column even without one.

    When two shards of a mode hold the same test (a disagreement the gate reports), the
    first by shard index is kept here.
    """
    by_mode: dict[str, list[LoadedLedger]] = {name: [] for name in extra_modes}
    for loaded in ledgers:
        by_mode.setdefault(loaded.ledger.mode, []).append(loaded)
    runs: list[ModeRun] = []
    markers: dict[str, set[str]] = {}
    for name in sorted(by_mode, key=mode_order):
        group = sorted(
            by_mode[name], key=lambda lo: (lo.ledger.shard_count, lo.ledger.shard_index, lo.path)
        )
        tests: dict[str, tuple[TestRecord, LoadedLedger]] = {}
        for loaded in group:
            for record in loaded.ledger.tests:
                tests.setdefault(record.nodeid, (record, loaded))
                markers.setdefault(record.nodeid, set()).update(record.markers)
        runs.append(ModeRun(name, tuple(group), tests))
    return Matrix(
        modes=tuple(runs),
        nodeids=tuple(sorted(markers, key=natural_key)),
        markers={nodeid: frozenset(names) for nodeid, names in markers.items()},
    )

"""The baseline: the committed list of the suite's mission-critical tests, and what a run's
ledgers say about each of them.

The file is plain text, one node id a line, sorted, under a header comment that says how to
update it, so that deleting a test shows in the pull request's diff. ``judge`` compares it
with the matrix: a baseline test that ran in no mode is missing (the gate's ``MISSING TEST``),
a mission-critical test not in it is new (a warning), and a run that selected part of the
suite is named as a subset (``subsets``). Pure apart from ``read_baseline``,
``write_baseline`` and ``configured_path``. Standard library only: the gate reads it.
"""

from __future__ import annotations

import math
import shlex
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from test_framework.errors import ConfigError, HarnessError
from test_framework.given import in_pyproject
from test_framework.results.ledger import MISSION_CRITICAL, Outcome, RunStatus, Selection
from test_framework.results.matrix import Matrix, ModeRun
from test_framework.settings import find_root, read_pyproject
from test_framework.settings_table import ALLOW_SUBSET, BASELINE

COMMAND = "python -m test_framework baseline"
HEADER = (
    "# The mission-critical tests of this suite, one pytest node id a line, sorted.",
    "# The gate fails when one of them runs in no mode (MISSING TEST). After adding, renaming",
    f"# or removing one on purpose, rewrite this file with `{COMMAND}`",
    "# and commit it with the change, so the diff shows what the suite gained or lost.",
)
EMPTY = "a baseline with no test guards nothing"
COLLECTED_NOWHERE = "collected in no mode"
UNMARKED = "no longer marked mission_critical"


class BaselineError(HarnessError):
    """The configured baseline cannot be read, or is empty."""


@dataclass(frozen=True)
class Baseline:
    """A baseline file as read: its distinct node ids, sorted, and where each first appears."""

    path: Path
    nodeids: tuple[str, ...]
    lines: dict[str, int]  # node id -> its first line number
    duplicates: tuple[tuple[int, str], ...] = ()  # (line number, node id) of each repeat

    def where(self, nodeid: str) -> str:
        return f"{self.path.name}:{self.lines[nodeid]}"


def parse(text: str, path: Path = Path("BASELINE")) -> Baseline:
    """Read a baseline's text: ``\\r\\n`` or ``\\n`` line ends, surrounding spaces, blank lines and
    ``#`` comment lines are ignored, and a repeated node id counts once."""
    lines: dict[str, int] = {}
    duplicates: list[tuple[int, str]] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line in lines:
            duplicates.append((number, line))
        else:
            lines[line] = number
    return Baseline(path, tuple(sorted(lines)), lines, tuple(duplicates))


def render(nodeids: Iterable[str]) -> str:
    """The file's text: the header, then the distinct node ids sorted, one a line."""
    return "\n".join([*HEADER, *sorted(set(nodeids))]) + "\n"


def read_baseline(path: Path, shown: str | None = None) -> Baseline:
    """The baseline at ``path`` (``shown`` is how messages name it); a missing, unreadable or
    empty file is a usage error naming the command that writes it."""
    name = shown or str(path)
    try:
        text = path.read_text("utf-8")
    except FileNotFoundError:
        raise BaselineError(
            f"the baseline {name} does not exist: write it with `{COMMAND}` and commit it"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise BaselineError(
            f"the baseline {name} cannot be read ({exc}): rewrite it with `{COMMAND}`"
        ) from None
    baseline = parse(text, path)
    if not baseline.nodeids:
        raise BaselineError(
            f"the baseline {name} lists no test: {EMPTY}; write it with `{COMMAND}`"
        )
    return baseline


def write_baseline(path: Path, nodeids: Iterable[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render(nodeids), "utf-8", newline="\n")


def configured_path(root: Path) -> tuple[Path, str] | None:
    """The baseline ``[tool.test_framework]`` names, relative to the project at or above
    ``root``, and how to name it in messages; None when none is configured."""
    project = find_root(root.resolve())
    source = project / "pyproject.toml"
    value = read_pyproject(source).get(BASELINE.pyproject)
    if value is None:
        return None
    where = f"{in_pyproject(source, 'tool.test_framework')} {BASELINE.pyproject}"
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"{where} must be a file name, e.g. tests/mission_critical/BASELINE")
    path = Path(value)
    return (path if path.is_absolute() else project / path), value


@dataclass(frozen=True)
class Difference:
    """What the suite gained and lost since the baseline."""

    added: tuple[str, ...]
    removed: tuple[str, ...]

    @property
    def changed(self) -> bool:
        return bool(self.added or self.removed)


def compare(baseline: Iterable[str], current: Iterable[str]) -> Difference:
    before, now = set(baseline), set(current)
    return Difference(tuple(sorted(now - before)), tuple(sorted(before - now)))


# -- selections --------------------------------------------------------------------------


def within(prefix: str, nodeid: str) -> bool:
    """``nodeid`` is ``prefix`` or below it: a folder, a file, a class or a test given to
    pytest (``""`` is the rootdir; ``test_a`` selects its parameters ``test_a[1]``)."""
    if not prefix or nodeid == prefix:
        return True
    return nodeid.startswith((prefix + "/", prefix + "::", prefix + "["))


def narrower(selection: Selection) -> bool:
    """The run was given paths that leave part of the suite out."""
    if not selection.suite or not selection.paths:
        return False
    return not any(within(path, selection.suite) for path in selection.paths)


def is_subset(selection: Selection | None) -> bool:
    if selection is None:
        return False
    return bool(
        narrower(selection)
        or selection.keyword
        or selection.markexpr
        or selection.deselect
        or selection.ignore
        or selection.ignore_glob
        or selection.last_failed
        or selection.deselected
    )


def describe(selection: Selection) -> str:
    """The selection as a command line would give it, e.g. ``-k 'handshake' (140 deselected)``."""
    words: list[str] = []
    if narrower(selection):
        words += [shlex.quote(path) for path in selection.paths]
    if selection.keyword:
        words += ["-k", shlex.quote(selection.keyword)]
    if selection.markexpr:
        words += ["-m", shlex.quote(selection.markexpr)]
    for option, values in (
        ("--deselect", selection.deselect),
        ("--ignore", selection.ignore),
        ("--ignore-glob", selection.ignore_glob),
    ):
        for value in values:
            words += [option, shlex.quote(value)]
    if selection.last_failed:
        words.append("--lf")
    text = " ".join(words)
    if selection.deselected:
        count = f"({len(selection.deselected)} deselected)"
        text = f"{text} {count}" if text else f"a plugin's deselection {count}"
    return text


def covers(selection: Selection | None, nodeid: str) -> bool:
    """Whether a test the run neither recorded nor deselected was the run's to collect: it is
    below a path the run was given and not below one it ignored. ``-k`` and ``-m`` cannot be
    matched against a test that was never collected, so such a test (a deleted file, a
    ``collect_ignore``) counts as missing, never as left out; ``--lf`` and ``--ignore-glob``
    leave no way to tell, so the run covers only what it recorded. A run of the whole suite
    covers every line of the baseline, one that names no test of the suite too."""
    if not is_subset(selection):
        return True
    assert selection is not None
    if selection.last_failed or selection.ignore_glob:
        return False
    paths = selection.paths or ("",)
    return any(within(p, nodeid) for p in paths) and not any(
        within(i, nodeid) for i in selection.ignore
    )


def mode_selection(run: ModeRun) -> Selection | None:
    """The selection of a mode's run, its shards together: each shard records the same
    selection and the same deselected tests (those left out before the shard split)."""
    for loaded in run.ledgers:
        if loaded.ledger.status is RunStatus.RAN and loaded.ledger.selection is not None:
            return loaded.ledger.selection
    return None


@dataclass(frozen=True)
class Subset:
    """A mode whose run selected part of the suite."""

    mode: str
    text: str
    allowed: bool


def subsets(matrix: Matrix) -> tuple[Subset, ...]:
    found: list[Subset] = []
    for run in matrix.modes:
        selection = mode_selection(run)
        if selection is not None and is_subset(selection):
            found.append(Subset(run.mode, describe(selection), selection.allowed))
    return tuple(found)


def render_subsets(found: Sequence[Subset]) -> list[str]:
    """One ``subset run:`` line per distinct selection, naming its modes."""
    by_text: dict[str, list[str]] = {}
    for subset in found:
        by_text.setdefault(subset.text, []).append(subset.mode)
    return [f"subset run: {text} ({', '.join(modes)})" for text, modes in by_text.items()]


def subset_refusal(subset: Subset) -> str:
    return (
        f"a subset run under CI ({subset.text}): the build would pass on part of the suite;"
        f" run the whole suite, or ask for a subset: {ALLOW_SUBSET.env}=true for the run"
    )


# -- judging -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Missing:
    nodeid: str
    why: str


@dataclass(frozen=True)
class Judgement:
    """The baseline against the matrix: which of its tests ran, are missing, or were left out
    by a subset run; which mission-critical tests are new."""

    baseline: Baseline
    ran: tuple[str, ...]
    missing: tuple[Missing, ...]
    outside: tuple[str, ...]  # outside every mode's selection, or no mode ran: not judged
    new: tuple[str, ...]

    @property
    def total(self) -> int:
        return len(self.baseline.nodeids)

    def coverage_line(self) -> str:
        line = f"baseline {self.total}, ran in at least one mode {len(self.ran)}"
        line += f" ({percent(len(self.ran), self.total)})"
        if self.missing:
            line += f", missing {len(self.missing)}"
        if self.outside:
            line += f", not judged {len(self.outside)} (outside the selection, or no mode ran)"
        return line


def percent(part: int, whole: int) -> str:
    """Rounded down to a tenth, so that 150 of 151 never reads as 100 %."""
    if whole <= 0:
        return "0 %"
    tenths = math.floor(part * 1000 / whole) / 10
    return f"{tenths:g} %"


@dataclass(frozen=True)
class _ModeView:
    """What one mode that ran knows of a test: recorded, deselected, or its to collect."""

    run: ModeRun
    selection: Selection | None
    deselected: dict[str, tuple[str, ...]]


def judge(baseline: Baseline, matrix: Matrix) -> Judgement:
    """Each baseline test: ran (executed in a mode, marked mission_critical); missing
    (collected in no mode that should have, or collected without the marker); or not judged
    (outside every mode's selection, or no mode ran). A test the matrix holds as
    mission-critical that executed nowhere is the gate's ``RAN NOWHERE``, not missing."""
    views = [
        _ModeView(run, selection, _deselected(selection))
        for run in matrix.modes
        if run.status is RunStatus.RAN
        for selection in (mode_selection(run),)
    ]
    # Only a ledger's record executes a test (a skipped mode's cells are skips): the records
    # say it once for all, where the matrix's cells would be built test by test.
    ran_outcomes = {outcome for outcome in Outcome if outcome.executed}
    executed = {
        nodeid
        for run in matrix.modes
        for nodeid, (record, _) in run.tests.items()
        if record.outcome in ran_outcomes
    }
    ran: list[str] = []
    missing: list[Missing] = []
    outside: list[str] = []
    for nodeid in baseline.nodeids:
        if matrix.is_mission_critical(nodeid):
            if nodeid in executed:
                ran.append(nodeid)
            continue
        if not views:
            outside.append(nodeid)
            continue
        why = _why_missing(nodeid, views)
        if why is None:
            outside.append(nodeid)
        else:
            missing.append(Missing(nodeid, f"in the baseline ({baseline.where(nodeid)}), {why}"))
    listed = set(baseline.nodeids)
    new = tuple(n for n in matrix.mission_critical if n not in listed)
    return Judgement(baseline, tuple(ran), tuple(missing), tuple(outside), new)


def _deselected(selection: Selection | None) -> dict[str, tuple[str, ...]]:
    if selection is None:
        return {}
    return {d.nodeid: d.markers for d in selection.deselected}


def _why_missing(nodeid: str, views: Sequence[_ModeView]) -> str | None:
    """Why a baseline test that no ledger marks mission-critical is missing, or None when no
    mode's selection covers it."""
    unmarked: list[str] = []
    expected = False
    for view in views:
        if nodeid in view.run.tests:
            unmarked.append(view.run.mode)
        elif nodeid in view.deselected:
            if MISSION_CRITICAL not in view.deselected[nodeid]:
                unmarked.append(f"{view.run.mode}, deselected")
        elif covers(view.selection, nodeid):
            expected = True
    if unmarked:
        return f"collected ({'; '.join(unmarked)}), {UNMARKED}"
    if expected:
        return COLLECTED_NOWHERE
    return None

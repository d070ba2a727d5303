"""The verdict of ``nox -s mutants`` over mutmut's results in ``mutants/``: the score, and every
mutant that survived with its diff.

Exit 1 when the score is under the floor, when a survivor is neither killed nor listed in
``equivalents.txt``, or when a line there matches no survivor (the code changed or a test now
kills it: remove the line). A timeout counts as killed. Run from the project's root after
``mutmut run``; ``nox -s mutants`` does both.

An entry is keyed by the function and the text of the mutant's diff, never by mutmut's running
number, so it survives unrelated edits of the module.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

FLOOR = 95.0
EQUIVALENTS = Path(__file__).with_name("equivalents.txt")
SEPARATOR = " :: "
# mutmut's words for a mutant's fate; a timeout kills too (the mutant hung the tests).
KILLED = frozenset({"killed", "timeout"})
NOT_COUNTED = frozenset({"skipped"})


@dataclass(frozen=True)
class Mutant:
    name: str  # mutmut's, e.g. test_framework.results.gate.x__check_shards__mutmut_12
    status: str
    diff: str

    @property
    def function(self) -> str:
        return function_of(self.name)

    @property
    def key(self) -> tuple[str, str, str]:
        removed, added = changed_lines(self.diff)
        return (self.function, removed, added)


@dataclass(frozen=True)
class Equivalent:
    function: str
    removed: str
    added: str
    reason: str
    line: int

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.function, self.removed, self.added)


def function_of(name: str) -> str:
    """``pkg.mod.x_func__mutmut_3`` -> ``pkg.mod.func``; ``pkg.mod.xǁClsǁmeth__mutmut_3`` ->
    ``pkg.mod.Cls.meth``."""
    stem = name.rpartition("__mutmut_")[0] or name
    module, _, mangled = stem.rpartition(".")
    if mangled.startswith("x_"):
        plain = mangled[2:]
    else:
        plain = ".".join(part for part in mangled.split("ǁ")[1:] if part)
    return f"{module}.{plain}"


def changed_lines(diff: str) -> tuple[str, str]:
    """The diff's removed and added lines, each stripped, joined by `` / ``."""
    removed: list[str] = []
    added: list[str] = []
    for line in diff.splitlines():
        if line.startswith(("---", "+++")):
            continue
        if line.startswith("-"):
            removed.append(line[1:].strip())
        elif line.startswith("+"):
            added.append(line[1:].strip())
    return " / ".join(removed), " / ".join(added)


def parse_equivalents(text: str) -> list[Equivalent]:
    entries: list[Equivalent] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        parts = line.split(SEPARATOR)
        if len(parts) != 4 or not parts[3].strip():
            raise ValueError(
                f"{EQUIVALENTS.name}:{number}: expected"
                f" 'function{SEPARATOR}removed{SEPARATOR}added{SEPARATOR}reason', got {raw!r}"
            )
        function, removed, added, reason = (part.strip() for part in parts)
        entries.append(Equivalent(function, removed, added, reason, number))
    return entries


def entry_line(mutant: Mutant, reason: str = "WHY NO INPUT TELLS IT APART") -> str:
    """The line that lists ``mutant`` as equivalent, for pasting into the file."""
    return SEPARATOR.join((*mutant.key, reason))


@dataclass(frozen=True)
class Judgement:
    total: int
    killed: int
    survivors: tuple[Mutant, ...]  # neither killed nor listed
    equivalent: tuple[Mutant, ...]  # survived, listed
    stale: tuple[Equivalent, ...]  # listed, matching no survivor

    @property
    def score(self) -> float:
        return 100.0 * self.killed / self.total if self.total else 0.0

    @property
    def passed(self) -> bool:
        return bool(self.total) and self.score >= FLOOR and not self.survivors and not self.stale


def judge(mutants: Iterable[Mutant], equivalents: Sequence[Equivalent]) -> Judgement:
    """The score counts listed equivalents as not killed: listing a mutant never raises it."""
    counted = [m for m in mutants if m.status not in NOT_COUNTED]
    killed = [m for m in counted if m.status in KILLED]
    alive = [m for m in counted if m.status not in KILLED]
    listed = {e.key for e in equivalents}
    matched = {m.key for m in alive}
    return Judgement(
        total=len(counted),
        killed=len(killed),
        survivors=tuple(m for m in alive if m.key not in listed),
        equivalent=tuple(m for m in alive if m.key in listed),
        stale=tuple(e for e in equivalents if e.key not in matched),
    )


def render(judgement: Judgement) -> str:
    out: list[str] = []
    for mutant in judgement.survivors:
        out.append(f"SURVIVED ({mutant.status}): {mutant.name}")
        out.append(mutant.diff)
        out.append(f"  to list it as equivalent: {entry_line(mutant)}")
        out.append("")
    for entry in judgement.stale:
        out.append(
            f"STALE: {EQUIVALENTS.name}:{entry.line} matches no survivor (the code changed, or a"
            f" test kills it now): remove it: {entry.function}{SEPARATOR}{entry.removed}"
            f"{SEPARATOR}{entry.added}"
        )
    if judgement.stale:
        out.append("")
    out.append(
        f"mutants: {judgement.total}, killed (timeouts included): {judgement.killed},"
        f" equivalent (listed): {len(judgement.equivalent)},"
        f" survived unlisted: {len(judgement.survivors)}"
    )
    verdict = "PASSED" if judgement.passed else "FAILED"
    out.append(f"mutation score: {judgement.score:.1f} % (floor {FLOOR:.0f} %): {verdict}")
    return "\n".join(out)


def mutmut_results() -> list[Mutant]:
    """Every mutant mutmut made, with its fate and diff (mutmut's own reading of ``mutants/``)."""
    from mutmut.mutation.data import SourceFileMutationData
    from mutmut.mutation.diff_apply import get_diff_for_mutant
    from mutmut.stats import status_by_exit_code
    from mutmut.utils.file_utils import walk_mutatable_files

    found: list[Mutant] = []
    for path in walk_mutatable_files():
        data = SourceFileMutationData(path=path)
        data.load()
        for name, code in sorted(data.exit_code_by_key.items()):
            status = status_by_exit_code[code]
            diff = "" if status in KILLED else get_diff_for_mutant(name, path=path)
            found.append(Mutant(name, status, diff))
    return found


def main() -> int:
    equivalents = parse_equivalents(EQUIVALENTS.read_text("utf-8"))
    mutants = mutmut_results()
    if not mutants:
        print("mutants: mutmut left no results in mutants/: run `mutmut run` first")
        return 1
    judgement = judge(mutants, equivalents)
    print(render(judgement))
    return 0 if judgement.passed else 1


if __name__ == "__main__":
    sys.exit(main())

"""The verdict of ``nox -s mutants`` over mutmut's results: the score, the survivors it prints,
and the equivalents file keyed by function and diff text, never by mutmut's running number."""

from __future__ import annotations

import pytest

from mutation.report import (
    EQUIVALENTS,
    Mutant,
    changed_lines,
    entry_line,
    function_of,
    judge,
    parse_equivalents,
    render,
)

DIFF = """--- test_framework/results/gate.py
+++ test_framework/results/gate.py
@@ -1,3 +1,3 @@
 def _check_shards(run: ModeRun) -> Iterable[Problem]:
-    if count > 1:
+    if count >= 1:
         yield x"""


def mutant(number: int, status: str, diff: str = DIFF) -> Mutant:
    return Mutant(f"test_framework.results.gate.x__check_shards__mutmut_{number}", status, diff)


def test_a_mutants_function_is_named_as_in_the_source() -> None:
    assert function_of("pkg.mod.x__check__mutmut_12") == "pkg.mod._check"
    assert function_of("pkg.mod.xǁLedgerǁfrom_json__mutmut_3") == "pkg.mod.Ledger.from_json"


def test_the_key_is_the_changed_lines_stripped_whatever_the_number_and_line_numbers() -> None:
    assert changed_lines(DIFF) == ("if count > 1:", "if count >= 1:")
    moved = DIFF.replace("@@ -1,3 +1,3 @@", "@@ -40,3 +40,3 @@")
    assert mutant(7, "survived", moved).key == mutant(12, "survived").key


def test_a_listed_survivor_is_equivalent_and_an_unlisted_one_fails_the_run() -> None:
    listed = parse_equivalents(entry_line(mutant(1, "survived"), "count is never 1 here") + "\n")
    other = mutant(2, "survived", DIFF.replace(">= 1", "> 2"))
    judgement = judge([mutant(1, "survived"), other, mutant(3, "killed", "")], listed)
    assert judgement.equivalent == (mutant(1, "survived"),)
    assert judgement.survivors == (other,)
    assert not judgement.passed
    text = render(judgement)
    assert f"SURVIVED (survived): {other.name}\n{other.diff}" in text
    assert "mutants: 3, killed (timeouts included): 1, equivalent (listed): 1" in text


def test_the_score_counts_timeouts_as_killed_and_equivalents_as_not() -> None:
    killed = [mutant(i, "killed", "") for i in range(18)]
    listed = parse_equivalents(entry_line(mutant(99, "survived"), "why") + "\n")
    judgement = judge([*killed, mutant(50, "timeout", ""), mutant(99, "survived")], listed)
    assert judgement.score == pytest.approx(95.0)
    assert judgement.passed
    under = judge([*killed, mutant(98, "survived"), mutant(99, "survived")], listed)
    assert under.score == pytest.approx(90.0)
    assert not under.passed


def test_no_tests_and_not_checked_mutants_are_not_killed() -> None:
    judgement = judge([mutant(1, "no tests"), mutant(2, "not checked", DIFF + " ")], [])
    assert judgement.killed == 0
    assert len(judgement.survivors) == 2


def test_a_listed_mutant_that_no_longer_survives_is_stale_and_fails_the_run() -> None:
    listed = parse_equivalents(entry_line(mutant(1, "survived"), "why") + "\n")
    judgement = judge([mutant(1, "killed", "")] * 20, listed)
    assert judgement.stale == tuple(listed)
    assert not judgement.passed
    assert f"STALE: {EQUIVALENTS.name}:1 matches no survivor" in render(judgement)


def test_an_entry_without_its_reason_is_refused_naming_its_line() -> None:
    with pytest.raises(ValueError, match=r"equivalents.txt:2: expected"):
        parse_equivalents("# comment\nmod.f :: a :: b\n")
    with pytest.raises(ValueError, match=r"equivalents.txt:1: expected"):
        parse_equivalents("mod.f :: a :: b ::  \n")


def test_the_committed_equivalents_file_parses_and_gives_every_entry_a_reason() -> None:
    entries = parse_equivalents(EQUIVALENTS.read_text("utf-8"))
    assert entries
    assert all(e.function.startswith("test_framework.") and e.reason for e in entries)
    assert len({e.key for e in entries}) == len(entries)

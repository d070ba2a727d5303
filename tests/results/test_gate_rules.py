"""One test per rule of the gate (docs/reports.md's table), named after the rule: each sets up
what that rule alone catches and asserts the gate fails with exactly that rule's problem, as
the user reads it. Removing the rule from the gate fails its test.

The problems are compared line by line, whole: a user acts on their text (which ledger, which
shard, what to rerun), so the text is behaviour too.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import pytest

from test_framework.results import gate
from test_framework.results.ledger import CollectionError, Ledger, Outcome, RunStatus
from test_framework.results.verdict import Rule
from tests.support.ledger_samples import ledger, nid, record, sharded, write

SKIPPED_DOCKER = ledger("docker_local", status=RunStatus.SKIPPED, reason="no Docker daemon")


@pytest.fixture(autouse=True)
def no_required_modes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MC_REQUIRED_MODES", "")


def gate_over(capsys: pytest.CaptureFixture[str], *argv: str | Path) -> tuple[int, list[str], str]:
    """The gate's exit status, its problem lines, and all it printed."""
    code = gate.main([str(a) for a in argv])
    out = capsys.readouterr().out
    lines = out.splitlines()
    verdict = next(i for i, line in enumerate(lines) if line.startswith("gate: "))
    return code, lines[verdict + 1 :], out


def judged(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    ledgers: Sequence[Ledger],
    *args: str,
) -> tuple[int, list[str], list[Path]]:
    reports = tmp_path / "reports"
    reports.mkdir(exist_ok=True)
    paths = [write(reports, led) for led in ledgers]
    code, problems, _ = gate_over(capsys, reports, *args)
    return code, problems, paths


# FAILED


def test_rule_failed_a_test_that_failed_in_one_mode_fails_the_gate_though_it_passed_in_another(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, problems, _ = judged(
        tmp_path,
        capsys,
        [
            ledger("minimal", [record("test_a", Outcome.FAILED, reason="assert 1 == 2\nmore")]),
            ledger("docker_local", [record("test_a")]),
        ],
    )
    assert code == 1
    assert problems == [f"  FAILED: {nid('test_a')} [minimal]: failed: assert 1 == 2"]


def test_rule_failed_an_error_without_a_message_says_none_was_recorded(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, problems, _ = judged(
        tmp_path, capsys, [ledger("minimal", [record("test_a", Outcome.ERROR)])]
    )
    assert code == 1
    assert problems == [f"  FAILED: {nid('test_a')} [minimal]: error: no message recorded"]


# RAN NOWHERE


def test_rule_ran_nowhere_a_mission_critical_test_skipped_in_every_mode_fails_the_gate(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, problems, _ = judged(
        tmp_path,
        capsys,
        [
            SKIPPED_DOCKER,
            ledger(
                "minimal",
                [record("test_a", Outcome.SKIPPED, reason="needs Docker\nmore"), record("test_b")],
            ),
        ],
    )
    assert code == 1
    assert problems == [
        f"  RAN NOWHERE: {nid('test_a')}: mission-critical, ran in no mode"
        " (docker_local: mode skipped; minimal: needs Docker)"
    ]


# REQUIRED MODE


@pytest.mark.parametrize(
    ("ledgers", "why"),
    [
        ([], "no ledger for this mode"),
        ([SKIPPED_DOCKER], "mode skipped: no Docker daemon"),
        (
            [ledger("docker_local", [record("test_a", Outcome.SKIPPED, reason="slow")])],
            "it ran but executed no test (1 skipped)",
        ),
    ],
    ids=["no ledger", "skipped", "ran and skipped everything"],
)
def test_rule_required_mode_a_required_mode_that_executed_no_test_fails_the_gate(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], ledgers: list[Ledger], why: str
) -> None:
    minimal = ledger("minimal", [record("test_a")])
    code, problems, _ = judged(
        tmp_path, capsys, [minimal, *ledgers], "--required", "docker_local,minimal"
    )
    assert code == 1
    assert problems == [f"  REQUIRED MODE: docker_local: required, but executed no test: {why}"]


def test_rule_required_mode_a_required_mode_that_recorded_no_test_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    empty = ledger("docker_local", [], exit_status=5)
    code, problems, _ = judged(
        tmp_path, capsys, [empty, ledger("minimal", [record("t")])], "--required", "docker_local"
    )
    assert code == 1
    assert (
        "  REQUIRED MODE: docker_local: required, but executed no test: it ran but executed no"
        " test (no tests)"
    ) in problems


def test_rule_required_mode_counts_each_kind_of_test_that_did_not_execute(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # A ledger another tool wrote may record a test as not collected.
    led = ledger(
        "docker_local",
        [record("test_a", Outcome.SKIPPED, reason="r"), record("test_b", Outcome.NOT_COLLECTED)],
    )
    _, problems, _ = judged(
        tmp_path,
        capsys,
        [led, ledger("minimal", [record("test_a"), record("test_b")])],
        "--required",
        "docker_local",
    )
    assert problems == [
        "  REQUIRED MODE: docker_local: required, but executed no test: it ran but executed no"
        " test (1 skipped, 1 not_collected)"
    ]


def test_rule_required_mode_a_required_mode_that_ran_a_test_passes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, problems, _ = judged(
        tmp_path, capsys, [ledger("minimal", [record("test_a")])], "--required", "minimal"
    )
    assert (code, problems) == (0, [])


# COLLECTION ERROR


def test_rule_collection_error_a_module_that_failed_to_import_fails_the_gate(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    error = CollectionError("tests/mission_critical/test_x.py", "ImportError: no x\ntraceback")
    code, problems, _ = judged(
        tmp_path,
        capsys,
        [ledger("minimal", [record("test_a")], collection_errors=[error], exit_status=2)],
    )
    assert code == 1
    assert f"  COLLECTION ERROR: {error.nodeid} [minimal]: ImportError: no x" in problems
    assert problems == [
        f"  RUN ERROR: minimal ({tmp_path / 'reports/minimal/ledger.json'}): pytest exited 2"
        " (interrupted)",
        f"  COLLECTION ERROR: {error.nodeid} [minimal]: ImportError: no x",
    ]


def test_rule_collection_error_alone_fails_a_run_whose_exit_status_is_unrecorded(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    error = CollectionError("tests/mission_critical/test_x.py", "SyntaxError")
    led = replace(
        ledger("minimal", [record("test_a")], collection_errors=[error]), exit_status=None
    )
    code, problems, _ = judged(tmp_path, capsys, [led])
    assert code == 1
    assert problems == [f"  COLLECTION ERROR: {error.nodeid} [minimal]: SyntaxError"]


# INCOMPLETE


def test_rule_incomplete_an_interrupted_run_fails_the_gate_with_what_it_recorded(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    led = ledger("minimal", [record("test_a"), record("test_b")], complete=False)
    code, problems, paths = judged(tmp_path, capsys, [led])
    assert code == 1
    assert problems == [
        f"  INCOMPLETE: minimal ({paths[0]}): the run was interrupted or is still running"
        " (2 tests recorded); rerun it"
    ]


def test_rule_incomplete_counts_one_test_in_the_singular(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    led = ledger("minimal", [record("test_a")], complete=False)
    _, problems, _ = judged(tmp_path, capsys, [led])
    assert problems[0].endswith("(1 test recorded); rerun it")


def test_rule_incomplete_never_applies_to_a_skipped_mode(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    skipped = replace(SKIPPED_DOCKER, complete=False)
    code, problems, _ = judged(tmp_path, capsys, [skipped, ledger("minimal", [record("t")])])
    assert (code, problems) == (0, [])


# RUN ERROR


def test_rule_run_error_a_run_that_could_not_start_fails_the_gate(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    broken = ledger("staging_fallback", status=RunStatus.ERROR, reason="unhealthy: refused")
    code, problems, paths = judged(tmp_path, capsys, [broken, ledger("minimal", [record("t")])])
    assert code == 1
    assert problems == [
        f"  RUN ERROR: staging_fallback ({paths[0]}): the run could not start: unhealthy: refused"
    ]


@pytest.mark.parametrize(
    ("status", "what"), [(2, "interrupted"), (3, "internal error"), (4, "usage error")]
)
def test_rule_run_error_pytest_exiting_broken_fails_the_gate_though_every_test_passed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], status: int, what: str
) -> None:
    led = ledger("minimal", [record("test_a")], exit_status=status)
    code, problems, paths = judged(tmp_path, capsys, [led])
    assert code == 1
    assert problems == [f"  RUN ERROR: minimal ({paths[0]}): pytest exited {status} ({what})"]


def test_rule_run_error_pytest_exiting_1_with_no_failed_test_recorded_fails_the_gate(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    led = ledger("minimal", [record("test_a")], exit_status=1)
    code, problems, paths = judged(tmp_path, capsys, [led])
    assert code == 1
    assert problems == [
        f"  RUN ERROR: minimal ({paths[0]}): pytest exited 1 (tests failed) but the ledger"
        " records no failed test"
    ]


@pytest.mark.parametrize("outcome", [Outcome.FAILED, Outcome.ERROR])
def test_rule_run_error_pytest_exiting_1_with_a_failed_test_is_that_failure_alone(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], outcome: Outcome
) -> None:
    led = ledger("minimal", [record("test_a"), record("test_b", outcome, reason="x")])
    assert led.exit_status == 1
    code, problems, _ = judged(tmp_path, capsys, [led])
    assert code == 1
    assert problems == [f"  FAILED: {nid('test_b')} [minimal]: {outcome.value}: x"]


# SHARDS DISAGREE

TESTS = [record(f"test_{i}") for i in range(4)]


def test_rule_shards_disagree_two_ledgers_for_one_shard_fail_the_gate(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    one, two = sharded("minimal", TESTS, 2)
    again = replace(one, run_id="other")
    reports = tmp_path / "reports"
    first = write(reports, one)
    write(reports, two)
    copy = reports / "older" / "minimal" / first.name
    write(reports / "older", again)
    code, problems, _ = gate_over(capsys, reports)
    assert code == 1
    names = sorted(str(p) for p in (first, copy))
    assert problems[0] == f"  SHARDS DISAGREE: minimal shard 1/2: 2 ledgers: {', '.join(names)}"
    assert len(problems) == 1 + len(one.tests)
    assert all(" [minimal]: in more than one shard: minimal shard 1/2" in p for p in problems[1:])


def test_rule_shards_disagree_a_ran_and_a_skipped_ledger_of_one_mode_fail_the_gate(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ran = ledger("minimal", [record("test_a")])
    skipped = ledger("minimal", status=RunStatus.SKIPPED, reason="gone")
    reports = tmp_path / "reports"
    ran_path = write(reports, ran)
    skipped_path = write(reports / "old", skipped)
    code, problems, _ = gate_over(capsys, reports)
    assert code == 1
    paths = ", ".join(str(p) for p in sorted([ran_path, skipped_path]))
    assert problems == [
        "  SHARDS DISAGREE: minimal: ledgers say the mode both ran and was skipped: remove stale"
        f" ledgers from an older run ({paths})"
    ]


def test_rule_shards_disagree_ledgers_of_different_shard_counts_fail_the_gate(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    halves = sharded("minimal", TESTS, 2)
    thirds = sharded("minimal", TESTS, 3)
    reports = tmp_path / "reports"
    for led in halves:
        write(reports, led)
    write(reports, thirds[0])
    code, problems, _ = gate_over(capsys, reports)
    assert code == 1
    folder = reports / "minimal"
    listed = ", ".join(
        f"minimal shard {i}/{n}: {folder / f'ledger-shard-{i}-of-{n}.json'}"
        for i, n in ((1, 2), (2, 2), (1, 3))
    )
    assert problems == [
        f"  SHARDS DISAGREE: minimal: ledgers split the mode into different numbers of shards"
        f" ({listed}): remove stale ledgers from an older run"
    ]


def test_rule_shards_disagree_a_missing_shard_leaves_its_tests_unaccounted_for(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ledgers = sharded("minimal", [record(f"test_{i}") for i in range(9)], 4)
    code, problems, _ = judged(tmp_path, capsys, [ledgers[0], ledgers[2]])
    assert code == 1
    assert problems == [
        "  SHARDS DISAGREE: minimal: no ledger for shard 2/4, 4/4: its tests are unaccounted for"
    ]


def test_rule_shards_disagree_a_missing_first_shard_is_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ledgers = sharded("minimal", TESTS, 2)
    _, problems, _ = judged(tmp_path, capsys, [ledgers[1]])
    assert problems == [
        "  SHARDS DISAGREE: minimal: no ledger for shard 1/2: its tests are unaccounted for"
    ]


def test_rule_shards_disagree_a_test_recorded_by_two_shards_fails_the_gate(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    one, two = sharded("minimal", TESTS, 2)
    stolen = one.tests[0]
    two = replace(two, tests=(*two.tests, stolen))
    code, problems, _ = judged(tmp_path, capsys, [one, two])
    assert code == 1
    assert problems == [
        f"  SHARDS DISAGREE: {stolen.nodeid} [minimal]: in more than one shard:"
        " minimal shard 1/2, minimal shard 2/2"
    ]


def test_rule_shards_disagree_shards_that_collected_different_sets_fail_the_gate(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    one, two = sharded("minimal", TESTS, 2)
    other = ledger("minimal", two.tests, shard=(2, 2), collected=[t.nodeid for t in TESTS[:3]])
    code, problems, _ = judged(tmp_path, capsys, [one, other])
    assert code == 1
    assert problems == [
        "  SHARDS DISAGREE: minimal: shards collected different test sets:"
        f" minimal shard 1/2 collected 4 ({one.collected_sha256!s:.12});"
        f" minimal shard 2/2 collected 3 ({other.collected_sha256!s:.12})"
    ]


def test_rule_shards_disagree_shards_that_did_not_record_the_collected_set_fail_the_gate(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    one, two = sharded("minimal", TESTS, 2)
    two = replace(two, collected_sha256=None, collected_count=None)
    code, problems, _ = judged(tmp_path, capsys, [one, two])
    assert code == 1
    assert problems == [
        "  SHARDS DISAGREE: minimal: cannot check that the shards agree: minimal shard 2/2 did"
        " not record the collected set"
    ]


def test_rule_shards_disagree_names_every_shard_that_did_not_record_the_collected_set(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    unrecorded = [
        replace(led, collected_sha256=None, collected_count=None)
        for led in sharded("minimal", TESTS, 2)
    ]
    _, problems, _ = judged(tmp_path, capsys, unrecorded)
    assert problems == [
        "  SHARDS DISAGREE: minimal: cannot check that the shards agree: minimal shard 1/2,"
        " minimal shard 2/2 did not record the collected set"
    ]


def test_rule_shards_disagree_two_ledgers_for_a_shard_are_named_without_counting_the_rest(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # With two ledgers for one shard the run is not one run: the gate names the ledgers and
    # does not go on to count tests over a mix of runs.
    one, two = sharded("minimal", TESTS, 2)
    reports = tmp_path / "reports"
    write(reports, one)
    write(reports, replace(two, tests=two.tests[1:]))
    write(reports / "older", one)
    _, problems, _ = gate_over(capsys, reports)
    assert problems[0].startswith("  SHARDS DISAGREE: minimal shard 1/2: 2 ledgers: ")
    assert not [p for p in problems if "together" in p]


def test_rule_shards_disagree_one_unsharded_run_need_not_record_the_collected_set(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    led = replace(ledger("minimal", TESTS), collected_sha256=None, collected_count=None)
    code, problems, _ = judged(tmp_path, capsys, [led])
    assert (code, problems) == (0, [])


def test_rule_shards_disagree_shards_that_together_ran_fewer_tests_than_collected_fail(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    one, two = sharded("minimal", TESTS, 2)
    two = replace(two, tests=two.tests[1:])
    code, problems, _ = judged(tmp_path, capsys, [one, two])
    assert code == 1
    assert problems == [
        "  SHARDS DISAGREE: minimal: the shards together recorded 3 tests, but each collected 4:"
        " some test ran in no shard"
    ]


def test_rule_shards_disagree_an_unsharded_run_that_lost_a_test_fails_naming_its_count(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    led = ledger("minimal", TESTS[:1], collected=[t.nodeid for t in TESTS[:2]])
    code, problems, _ = judged(tmp_path, capsys, [led])
    assert code == 1
    assert problems == [
        "  SHARDS DISAGREE: minimal: the shards together recorded 1 test, but each collected 2:"
        " some test ran in no shard"
    ]


def test_rule_shards_disagree_is_silent_for_shards_that_agree(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, problems, _ = judged(tmp_path, capsys, sharded("minimal", TESTS, 3))
    assert (code, problems) == (0, [])


# NO LEDGERS


def test_rule_no_ledgers_a_folder_with_no_ledger_anywhere_fails_the_gate(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "reports").mkdir()
    code, problems, _ = gate_over(capsys, tmp_path / "reports")
    assert code == 1
    assert problems == ["  NO LEDGERS: (all): no ledger was given: nothing ran"]


# MISSING LEDGER


def test_rule_missing_ledger_a_mode_folder_given_that_holds_none_fails_the_gate(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    reports = tmp_path / "reports"
    write(reports, ledger("docker_local", [record("test_a")]))
    (reports / "minimal").mkdir()
    code, problems, out = gate_over(capsys, reports / "docker_local", reports / "minimal")
    assert code == 1
    assert problems == [
        f"  MISSING LEDGER: minimal: {reports / 'minimal'} holds no ledger: the run that should"
        " have written one crashed or never started pytest; rerun it"
    ]
    assert "minimal: missing: no ledger for this mode" in out


def test_rule_missing_ledger_another_folder_given_is_named_by_its_path(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    reports = tmp_path / "reports"
    write(reports, ledger("minimal", [record("test_a")]))
    empty = tmp_path / "shard-9"
    empty.mkdir()
    code, problems, out = gate_over(capsys, reports, empty)
    # A folder that is not named after a mode gets no row of its own in the table.
    rows = out.splitlines()[2:4]
    assert rows[0].split()[:2] == ["minimal", "ran"]
    assert rows[1] == ""
    assert code == 1
    assert problems == [
        f"  MISSING LEDGER: {empty}: {empty} holds no ledger: the run that should have written"
        " one crashed or never started pytest; rerun it"
    ]


def test_rule_missing_ledger_an_empty_ledger_file_fails_the_gate_and_the_rest_is_judged(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    reports = tmp_path / "reports"
    write(reports, ledger("minimal", [record("test_a")]))
    empty = reports / "docker_local" / "ledger-shard-1-of-2.json"
    empty.parent.mkdir(parents=True)
    empty.write_text(" \n")
    write(reports, ledger("docker_local", [record("test_a")], shard=(2, 2)))
    code, problems, _ = gate_over(capsys, reports)
    assert code == 1
    assert problems == [
        f"  MISSING LEDGER: {empty}: the ledger is empty: the run that writes it was killed"
        " before it wrote anything; rerun it",
        "  SHARDS DISAGREE: docker_local: no ledger for shard 1/2: its tests are unaccounted for",
    ]


# STALE LEDGER


def test_rule_stale_ledger_a_ledger_another_command_wrote_fails_the_gate_and_is_not_judged(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    reports = tmp_path / "reports"
    current = replace(ledger("minimal", [record("test_a")]), invocation="now")
    old = replace(ledger("docker_local", [record("test_a", Outcome.FAILED)]), invocation=None)
    write(reports, current)
    old_path = write(reports, old)
    code, problems, out = gate_over(capsys, reports, "--invocation", "now")
    assert code == 1
    assert problems == [
        f"  STALE LEDGER: docker_local ({old_path}): written by an earlier run (run"
        " run-docker_local-1, started 2023-11-14 22:13:20 UTC, invocation none), not by this"
        " one (now): not judged; rerun the mode"
    ]
    assert "docker_local: missing: no ledger for this mode" in out


def test_rule_stale_ledger_every_stale_ledger_in_a_folder_is_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    reports = tmp_path / "reports"
    write(reports, replace(ledger("minimal", [record("test_a")]), invocation="now"))
    for led in sharded("docker_local", TESTS, 2):
        write(reports, replace(led, invocation="then"))
    code, problems, _ = gate_over(capsys, reports, "--invocation", "now")
    assert code == 1
    assert [p.split(" (")[0] for p in problems] == [
        "  STALE LEDGER: docker_local shard 1/2",
        "  STALE LEDGER: docker_local shard 2/2",
    ]


# EMPTY RUN


def test_rule_empty_run_a_mode_that_ran_and_recorded_no_test_fails_the_gate(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    empty = ledger("docker_local", [], exit_status=5)
    code, problems, _ = judged(tmp_path, capsys, [empty, ledger("minimal", [record("t")])])
    assert code == 1
    assert problems == [
        "  EMPTY RUN: docker_local: the run recorded no test (pytest exit 5): it collected"
        " nothing; check the suite's path and any -k or -m"
    ]


def test_rule_empty_run_names_every_exit_status_of_the_shards(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    shards = [
        ledger("docker_local", [], shard=(1, 2), exit_status=5),
        ledger("docker_local", [], shard=(2, 2), exit_status=0),
    ]
    _, problems, _ = judged(tmp_path, capsys, [*shards, ledger("minimal", [record("t")])])
    assert problems == [
        "  EMPTY RUN: docker_local: the run recorded no test (pytest exit 0, 5): it collected"
        " nothing; check the suite's path and any -k or -m"
    ]


# NOTHING RAN


def test_rule_nothing_ran_when_every_mission_critical_test_was_skipped(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    led = ledger("minimal", [record("test_a", Outcome.SKIPPED, reason="r"), record("x", mc=False)])
    code, problems, _ = judged(tmp_path, capsys, [led])
    assert code == 1
    assert problems == [
        f"  RAN NOWHERE: {nid('test_a')}: mission-critical, ran in no mode (minimal: r)",
        "  NOTHING RAN: (all): every mission-critical test was skipped or not collected",
    ]


def test_rule_nothing_ran_when_no_ledger_holds_a_mission_critical_test(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, problems, _ = judged(tmp_path, capsys, [ledger("minimal", [record("t", mc=False)])])
    assert code == 1
    assert problems == ["  NOTHING RAN: (all): no ledger holds a test marked mission_critical"]


def test_every_rule_of_the_gate_has_a_test_named_after_it() -> None:
    # A new rule comes with its test_rule_<rule>_... here or beside it in tests/results, which
    # mutation/remove_each_rule.py then checks by removing the rule.
    source = "\n".join(p.read_text("utf-8") for p in Path(__file__).parent.glob("test_*.py"))
    missing = [
        rule.value
        for rule in Rule
        if f"def test_rule_{rule.value.replace(' ', '_')}_" not in source
    ]
    assert missing == []

"""The gate's MISSING TEST and SUBSET RUN rules: the committed baseline against real ledger
files, through the gate's command line, in a project whose pyproject.toml configures it."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from test_framework.results import gate
from test_framework.results.ledger import Deselected, Ledger, Outcome, RunStatus, Selection
from test_framework.results.matrix import build_matrix, load_ledgers
from tests.support.ledger_samples import ledger, nid, record, sharded, write

SUITE = "tests/mission_critical"
WHOLE = Selection(paths=(SUITE,), suite=SUITE)


@pytest.fixture(autouse=True)
def project(outside_this_repository: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("MC_REQUIRED_MODES", "")
    monkeypatch.delenv("CI", raising=False)
    (outside_this_repository / "pyproject.toml").write_text(
        '[tool.test_framework]\nbaseline = "BASELINE"\n', "utf-8"
    )
    return outside_this_repository


def baseline(project: Path, *names: str, text: str = "") -> None:
    (project / "BASELINE").write_text(text or "".join(f"{nid(n)}\n" for n in names), "utf-8")


def gate_over(
    capsys: pytest.CaptureFixture[str], project: Path, *ledgers: Ledger
) -> tuple[int, str, str]:
    for led in ledgers:
        write(project / "reports", led)
    code = gate.main([str(project / "reports")])
    out, err = capsys.readouterr()
    return code, out, err


def whole(led: Ledger, **fields: object) -> Ledger:
    return dataclasses.replace(led, selection=dataclasses.replace(WHOLE, **fields))  # type: ignore[arg-type]


def missing_lines(out: str) -> list[str]:
    return [line.strip() for line in out.splitlines() if line.strip().startswith("MISSING TEST:")]


# -- MISSING TEST ----------------------------------------------------------------------------


def test_rule_missing_test_passes_when_every_baseline_test_ran_and_counts_against_it(
    capsys: pytest.CaptureFixture[str], project: Path
) -> None:
    baseline(project, "test_a", "test_b")
    code, out, _ = gate_over(
        capsys,
        project,
        whole(ledger("minimal", [record("test_a"), record("test_b")])),
        ledger("docker_local", status=RunStatus.SKIPPED),
    )
    assert code == 0, out
    assert "baseline 2, ran in at least one mode 2 (100 %)" in out
    assert "gate: PASSED" in out
    assert missing_lines(out) == []
    assert "baseline: none configured" not in out


def test_rule_missing_test_fails_for_a_deleted_or_renamed_test(
    capsys: pytest.CaptureFixture[str], project: Path
) -> None:
    baseline(project, "test_a", "test_renamed_away")
    code, out, _ = gate_over(
        capsys, project, whole(ledger("minimal", [record("test_a"), record("test_new_name")]))
    )
    assert code == 1
    assert missing_lines(out) == [
        f"MISSING TEST: {nid('test_renamed_away')}: in the baseline (BASELINE:2),"
        " collected in no mode"
    ]
    assert f"{nid('test_new_name')}: new: not in the baseline; add it with" in out
    assert "baseline 2, ran in at least one mode 1 (50 %), missing 1" in out


def test_rule_missing_test_fails_for_a_test_whose_marker_was_dropped(
    capsys: pytest.CaptureFixture[str], project: Path
) -> None:
    baseline(project, "test_a", "test_b")
    code, out, _ = gate_over(
        capsys, project, whole(ledger("minimal", [record("test_a"), record("test_b", mc=False)]))
    )
    assert code == 1
    assert missing_lines(out) == [
        f"MISSING TEST: {nid('test_b')}: in the baseline (BASELINE:2), collected (minimal),"
        " no longer marked mission_critical"
    ]


def test_rule_missing_test_fails_for_a_file_a_mode_no_longer_collects(
    capsys: pytest.CaptureFixture[str], project: Path
) -> None:
    # collect_ignore or a module-level importorskip: the file is simply absent from the ledger.
    other = "tests/mission_critical/test_other.py::test_c"
    baseline(project, text=f"{nid('test_a')}\n{other}\n")
    code, out, _ = gate_over(capsys, project, whole(ledger("minimal", [record("test_a")])))
    assert code == 1
    assert missing_lines(out) == [
        f"MISSING TEST: {other}: in the baseline (BASELINE:2), collected in no mode"
    ]


def test_rule_missing_test_fails_for_a_marker_dropped_on_a_test_the_run_deselected(
    capsys: pytest.CaptureFixture[str], project: Path
) -> None:
    baseline(project, "test_a", "test_b")
    led = whole(
        ledger("minimal", [record("test_a")]),
        markexpr="mission_critical",
        deselected=(Deselected(nid("test_b"), ()),),
        allowed=True,
    )
    code, out, _ = gate_over(capsys, project, led)
    assert code == 1
    assert missing_lines(out) == [
        f"MISSING TEST: {nid('test_b')}: in the baseline (BASELINE:2), collected (minimal,"
        " deselected), no longer marked mission_critical"
    ]


def test_rule_missing_test_reports_a_line_that_is_no_node_id_of_the_suite_with_its_text(
    capsys: pytest.CaptureFixture[str], project: Path
) -> None:
    baseline(project, text=f"{nid('test_a')}\ntest_typo.py::tset_a  \n")
    code, out, _ = gate_over(capsys, project, whole(ledger("minimal", [record("test_a")])))
    assert code == 1
    assert missing_lines(out) == [
        "MISSING TEST: test_typo.py::tset_a: in the baseline (BASELINE:2), collected in no mode"
    ]


def test_rule_missing_test_reads_crlf_comments_spaces_and_duplicates_and_warns_of_the_repeat(
    capsys: pytest.CaptureFixture[str], project: Path
) -> None:
    text = f"# header\r\n{nid('test_a')}  \r\n\r\n{nid('test_b')}\r\n{nid('test_a')}\r\n"
    baseline(project, text=text)
    code, out, _ = gate_over(
        capsys, project, whole(ledger("minimal", [record("test_a"), record("test_b")]))
    )
    assert code == 0, out
    assert "baseline 2, ran in at least one mode 2 (100 %)" in out
    assert f"BASELINE:5 repeats {nid('test_a')} (line 2): rewrite the file with" in out


def test_rule_missing_test_leaves_a_marked_test_that_ran_nowhere_to_ran_nowhere(
    capsys: pytest.CaptureFixture[str], project: Path
) -> None:
    baseline(project, "test_a")
    skipped = record("test_a", Outcome.SKIPPED, reason="needs control")
    code, out, _ = gate_over(capsys, project, whole(ledger("minimal", [skipped])))
    assert code == 1
    assert f"RAN NOWHERE: {nid('test_a')}" in out
    assert missing_lines(out) == []


def test_rule_missing_test_is_not_judged_when_no_mode_ran(
    capsys: pytest.CaptureFixture[str], project: Path
) -> None:
    baseline(project, "test_a")
    code, out, _ = gate_over(capsys, project, ledger("minimal", status=RunStatus.SKIPPED))
    assert code == 1
    assert "NOTHING RAN" in out
    assert missing_lines(out) == []
    assert "baseline 1, ran in at least one mode 0 (0 %), not judged 1" in out


def test_rule_missing_test_counts_shards_of_one_mode_together_as_the_whole(
    capsys: pytest.CaptureFixture[str], project: Path
) -> None:
    names = [f"test_{i}" for i in range(8)]
    baseline(project, *names)
    shards = [whole(led) for led in sharded("minimal", [record(n) for n in names], 3)]
    code, out, _ = gate_over(capsys, project, *shards)
    assert code == 0, out
    assert "baseline 8, ran in at least one mode 8 (100 %)" in out
    assert "subset run" not in out


def test_a_missing_shard_makes_its_tests_missing_too(
    capsys: pytest.CaptureFixture[str], project: Path
) -> None:
    names = [f"test_{i}" for i in range(8)]
    baseline(project, *names)
    shards = [whole(led) for led in sharded("minimal", [record(n) for n in names], 2)]
    code, out, _ = gate_over(capsys, project, shards[0])
    assert code == 1
    lost = {t.nodeid for t in shards[1].tests}
    assert {line.split(": ")[1] for line in missing_lines(out)} == lost
    assert "SHARDS DISAGREE" in out


# -- the baseline file ---------------------------------------------------------------------


def test_a_configured_baseline_that_is_missing_is_one_usage_error(
    capsys: pytest.CaptureFixture[str], project: Path
) -> None:
    code, out, err = gate_over(capsys, project, whole(ledger("minimal", [record("test_a")])))
    assert code == 2
    assert out == ""
    assert err.splitlines() == [
        "gate: error: the baseline BASELINE does not exist: write it with"
        " `python -m test_framework baseline` and commit it"
    ]


def test_an_empty_baseline_is_refused(capsys: pytest.CaptureFixture[str], project: Path) -> None:
    baseline(project, text="# nothing here\n\n")
    code, _, err = gate_over(capsys, project, whole(ledger("minimal", [record("test_a")])))
    assert code == 2
    assert "a baseline with no test guards nothing" in err


def test_with_no_baseline_configured_the_verdict_says_so_once(
    capsys: pytest.CaptureFixture[str], project: Path
) -> None:
    (project / "pyproject.toml").write_text("[tool.test_framework]\n", "utf-8")
    code, out, _ = gate_over(capsys, project, whole(ledger("minimal", [record("test_a")])))
    assert code == 0, out
    assert out.count("baseline: none configured") == 1
    assert out.index("baseline: none configured") < out.index("gate: PASSED")
    assert "baseline 1" not in out


# -- subset runs -----------------------------------------------------------------------------


def test_a_subset_run_is_named_in_the_verdict_and_judged_for_what_it_covers(
    capsys: pytest.CaptureFixture[str], project: Path
) -> None:
    baseline(project, "test_a", "test_b")
    led = whole(
        ledger("minimal", [record("test_a")]),
        keyword="test_a",
        deselected=(Deselected(nid("test_b"), ("mission_critical",)),),
    )
    code, out, _ = gate_over(capsys, project, led)
    assert code == 0, out
    assert "subset run: -k test_a (1 deselected) (minimal)" in out
    assert "baseline 2, ran in at least one mode 1 (50 %), not judged 1" in out


def test_rule_subset_run_fails_under_ci_unless_it_asked_for_a_subset(
    capsys: pytest.CaptureFixture[str], project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CI", "true")
    baseline(project, "test_a")
    narrow = dataclasses.replace(
        ledger("minimal", [record("test_a")]),
        selection=Selection(paths=(f"{SUITE}/test_protocol.py",), suite=SUITE),
    )
    code, out, _ = gate_over(capsys, project, narrow)
    assert code == 1
    assert (
        "SUBSET RUN: minimal: a subset run under CI (tests/mission_critical/test_protocol.py):"
        " the build would pass on part of the suite; run the whole suite, or ask for a subset:"
        " MC_ALLOW_SUBSET=true for the run"
    ) in out

    allowed = dataclasses.replace(
        narrow,
        selection=dataclasses.replace(narrow.selection, allowed=True),  # type: ignore[arg-type]
    )
    code, out, _ = gate_over(capsys, project, allowed)
    assert code == 0, out
    assert "subset run: tests/mission_critical/test_protocol.py (minimal)" in out


@pytest.mark.parametrize("value", ["", "0", "false", "no"])
def test_a_subset_run_outside_ci_passes(
    capsys: pytest.CaptureFixture[str], project: Path, monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("CI", value)
    baseline(project, "test_a")
    code, out, _ = gate_over(
        capsys, project, whole(ledger("minimal", [record("test_a")]), keyword="a")
    )
    assert code == 0, out
    assert "subset run: -k a (minimal)" in out


def test_a_verdict_not_told_it_is_in_ci_passes_a_subset_run_and_names_it(tmp_path: Path) -> None:
    """What a caller of ``evaluate`` that does not pass ``ci`` (the monitor) gets."""
    write(tmp_path, whole(ledger("minimal", [record("test_a")]), keyword="a"))
    verdict = gate.evaluate(build_matrix(load_ledgers([tmp_path])))
    assert verdict.passed, verdict.problems
    assert [s.text for s in verdict.subsets] == ["-k a"]


def test_the_whole_suite_passes_under_ci(
    capsys: pytest.CaptureFixture[str], project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CI", "true")
    baseline(project, "test_a")
    code, out, _ = gate_over(capsys, project, whole(ledger("minimal", [record("test_a")])))
    assert code == 0, out
    assert "subset run" not in out

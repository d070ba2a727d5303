"""benchmarks/figures.py: medians, paired ratios, pytest's summary line, the table."""

from __future__ import annotations

import pytest

from benchmarks.figures import (
    Figure,
    GateOutcome,
    difference_text,
    median,
    paired_difference,
    paired_differences,
    paired_ratio,
    paired_ratios,
    parse_gate_output,
    parse_pytest_summary,
    ratio_text,
    render_table,
    with_range,
)


def test_a_median_of_fewer_than_five_samples_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 5"):
        median([1.0, 2.0, 3.0, 4.0])


def test_a_median_ignores_one_outlier() -> None:
    assert median([1.0, 1.1, 0.9, 1.0, 50.0]) == 1.0


def test_a_paired_ratio_is_the_median_of_each_repetitions_ratio() -> None:
    # Load doubles both sides in the last two repetitions; the pairs stay at 2x.
    slow = [2.0, 2.0, 2.0, 4.0, 4.0]
    fast = [1.0, 1.0, 1.0, 2.0, 2.0]
    assert paired_ratio(slow, fast) == 2.0


def test_unpaired_samples_are_refused() -> None:
    with pytest.raises(ValueError, match="pair them"):
        paired_ratio([1.0] * 5, [1.0] * 6)
    with pytest.raises(ValueError, match="pair them"):
        paired_difference([1.0] * 6, [1.0] * 5)


def test_a_paired_difference_keeps_its_sign() -> None:
    assert paired_difference([10.5, 11.0, 10.2, 10.4, 10.6], [10.0] * 5) == pytest.approx(0.5)
    assert paired_difference([9.0] * 5, [10.0] * 5) == pytest.approx(-1.0)


def test_ratio_and_difference_texts_show_the_median_pair_and_the_extremes() -> None:
    ratios = paired_ratios([1.2, 1.1, 1.5, 1.0, 1.2], [1.0] * 5)
    assert ratio_text(ratios) == "1.20x (1.00-1.50)"
    differences = paired_differences([10.2, 9.8, 11.0, 10.1, 10.0], [10.0] * 5)
    assert difference_text(differences) == "+0.10 s (-0.20 to +1.00)"


def test_with_range_gives_the_median_and_the_extremes_in_the_unit_asked() -> None:
    samples = [0.002, 0.001, 0.003, 0.002, 0.010]
    assert with_range(samples, "ms") == "2.0 ms (1.0-10.0)"
    assert with_range([12.0, 11.5, 13.25, 12.5, 12.0]) == "12.00 s (11.50-13.25)"


def test_the_quiet_summary_line_is_parsed_with_every_count() -> None:
    output = "....\n[gw0] ...\n148 passed, 3 deselected, 2 rerun in 11.62s\n"
    summary = parse_pytest_summary(output)
    assert summary.seconds == 11.62
    assert summary.count("passed") == 148
    assert summary.count("deselected") == 3
    assert summary.count("failed") == 0
    assert summary.short() == "148 passed, 3 deselected, 2 rerun"


def test_the_bordered_summary_line_past_a_minute_is_parsed() -> None:
    line = "===== 1 failed, 150 passed, 2 errors in 75.20s (0:01:15) ====="
    summary = parse_pytest_summary(f"lots of output\n{line}\n")
    assert (summary.count("failed"), summary.count("passed"), summary.count("error")) == (1, 150, 2)
    assert summary.seconds == 75.2


def test_output_without_a_summary_line_says_what_it_ended_with() -> None:
    with pytest.raises(ValueError, match="INTERNALERROR> boom"):
        parse_pytest_summary("collecting ...\nINTERNALERROR> boom\n")


def test_the_table_has_one_row_per_figure_with_its_verdict() -> None:
    table = render_table(
        [
            Figure("probe", "no daemon", "2.0 ms (1.0-3.0)", "< 20 ms", True),
            Figure("suite", "staging / docker", "1.7x", "<= 1.5x", False),
            Figure("suite", "a|b reference", "3 s"),
        ]
    )
    lines = table.splitlines()
    assert len(lines) == 5
    assert lines[2] == "| probe | no daemon | 2.0 ms (1.0-3.0) | < 20 ms | met |"
    assert lines[3].endswith("| <= 1.5x | NOT met |")
    # A pipe inside a cell would split the Markdown row.
    assert lines[4] == "| suite | a/b reference | 3 s |  |  |"


def test_a_figure_whose_runs_take_minutes_may_ask_for_fewer_samples() -> None:
    assert median([3.0], least=1) == 3.0
    assert with_range([40.0, 42.0], least=1) == "41.00 s (40.00-42.00)"
    assert ratio_text([0.5], least=1) == "0.50x (0.50-0.50)"
    with pytest.raises(ValueError, match="at least 1"):
        median([], least=1)
    with pytest.raises(ValueError, match="at least 5"):
        with_range([40.0, 42.0])


MODES = ("docker_local", "staging_fallback", "minimal")
GATE_OUTPUT = """\
nox > Running session gate
mode              run  passed  failed  errors  skipped  not coll.
----------------  ---  ------  ------  ------  -------  ---------
docker_local      ran     151       0       0        0          0
staging_fallback  {staging}     148       0       0        3          0
minimal           ran     151       0       0        0          0

docker_local: ran: docker_local requested: Docker/20.10.24
mission-critical tests: 151, ran in at least one mode: 151, ran nowhere: 0

gate: {verdict}
nox > Session gate was successful.
"""


def test_the_gates_verdict_and_table_are_read_from_a_nox_run() -> None:
    outcome = parse_gate_output(GATE_OUTPUT.format(staging="ran", verdict="PASSED"))
    assert outcome.verdict == "PASSED"
    assert outcome.table == {
        "docker_local": ("ran", "151", "0", "0", "0", "0"),
        "staging_fallback": ("ran", "148", "0", "0", "3", "0"),
        "minimal": ("ran", "151", "0", "0", "0", "0"),
    }
    assert outcome.problem(0, MODES) is None


def test_a_main_job_run_is_not_comparable_if_it_failed_or_its_gate_did_or_a_mode_did_not_run() -> (
    None
):
    passed = parse_gate_output(GATE_OUTPUT.format(staging="ran", verdict="PASSED"))
    assert passed.problem(1, MODES) == "exit 1, gate: PASSED"
    failed = parse_gate_output(GATE_OUTPUT.format(staging="ran", verdict="FAILED (1 problem)"))
    assert failed.verdict == "FAILED (1 problem)"
    assert failed.problem(0, MODES) == "gate: FAILED (1 problem)"
    skipped = parse_gate_output(GATE_OUTPUT.format(staging="skipped", verdict="PASSED"))
    assert skipped.problem(0, MODES) == "did not run: staging_fallback"
    assert GateOutcome("PASSED", {}).problem(0, MODES) == (
        "did not run: docker_local, staging_fallback, minimal"
    )


def test_output_without_a_gate_verdict_says_what_it_ended_with() -> None:
    with pytest.raises(ValueError, match="no gate verdict in the output; last line: boom"):
        parse_gate_output("nox > Running session gate\nboom\n")

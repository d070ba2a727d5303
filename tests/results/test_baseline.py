"""results/baseline.py: the file's format, reading it, comparing it, and judging it against the
matrix the ledgers make (pure logic; the gate's own tests run it end to end)."""

from __future__ import annotations

import dataclasses
import locale
from pathlib import Path

import pytest

from test_framework.errors import ConfigError, HarnessError
from test_framework.results import baseline as bl
from test_framework.results.baseline import Baseline, parse
from test_framework.results.ledger import Deselected, Ledger, Outcome, RunStatus, Selection
from test_framework.results.matrix import LoadedLedger, Matrix, build_matrix
from tests.support.ledger_samples import FILE, ledger, nid, record

SUITE = "tests/mission_critical"


def matrix_of(*ledgers: Ledger) -> Matrix:
    return build_matrix(
        [LoadedLedger(Path(f"{led.mode}-{i}.json"), led) for i, led in enumerate(ledgers)]
    )


def selected(led: Ledger, **fields: object) -> Ledger:
    return dataclasses.replace(led, selection=Selection(paths=(SUITE,), suite=SUITE, **fields))  # type: ignore[arg-type]


def baseline_of(*names: str) -> Baseline:
    return parse("\n".join(nid(n) for n in names) + "\n", Path("BASELINE"))


# -- the file -------------------------------------------------------------------------------


def test_the_written_file_is_the_header_then_the_distinct_ids_sorted_one_a_line() -> None:
    text = bl.render(["b::t", "a::t", "b::t"])
    assert text == "\n".join([*bl.HEADER, "a::t", "b::t"]) + "\n"
    assert all(line.startswith("# ") for line in bl.HEADER)
    assert "python -m test_framework baseline" in "".join(bl.HEADER)


def test_what_is_written_reads_back_as_the_same_ids() -> None:
    ids = [nid("test_2"), nid("test_10"), nid("test_1[a]")]
    assert parse(bl.render(ids)).nodeids == tuple(sorted(ids))


def test_crlf_line_ends_trailing_spaces_blank_lines_and_comments_are_read_correctly() -> None:
    text = "# header\r\n\r\n  a::t  \r\nb::t\t\r\n   # indented comment\r\n\r\n"
    read = parse(text)
    assert read.nodeids == ("a::t", "b::t")
    assert read.lines == {"a::t": 3, "b::t": 4}
    assert read.duplicates == ()


def test_a_repeated_line_counts_once_and_is_kept_with_its_line_number() -> None:
    read = parse("a::t\nb::t\na::t\n a::t\n")
    assert read.nodeids == ("a::t", "b::t")
    assert read.lines["a::t"] == 1
    assert read.duplicates == ((3, "a::t"), (4, "a::t"))


def test_a_hash_inside_a_node_id_is_part_of_it_not_a_comment() -> None:
    assert parse("f.py::t[a#b]\n").nodeids == ("f.py::t[a#b]",)


def test_where_names_the_file_and_the_first_line() -> None:
    read = parse("# c\na::t\n", Path("/x/y/BASELINE"))
    assert read.where("a::t") == "BASELINE:2"


def test_reading_a_file_that_is_missing_names_the_command_that_writes_it(tmp_path: Path) -> None:
    with pytest.raises(bl.BaselineError) as caught:
        bl.read_baseline(tmp_path / "BASELINE", "tests/BASELINE")
    assert str(caught.value) == (
        "the baseline tests/BASELINE does not exist: write it with"
        " `python -m test_framework baseline` and commit it"
    )
    assert isinstance(caught.value, HarnessError)


@pytest.mark.parametrize("text", ["", "\n\n", "# only\r\n# comments\n", "   \n\t\n"])
def test_an_empty_baseline_is_refused(tmp_path: Path, text: str) -> None:
    path = tmp_path / "BASELINE"
    path.write_text(text, "utf-8")
    with pytest.raises(bl.BaselineError, match="a baseline with no test guards nothing"):
        bl.read_baseline(path)


def test_a_baseline_that_is_not_text_is_refused_in_one_line(tmp_path: Path) -> None:
    path = tmp_path / "BASELINE"
    path.write_bytes(b"\xff\xfe\x00bad")
    with pytest.raises(bl.BaselineError, match=r"cannot be read .*rewrite it with"):
        bl.read_baseline(path)


def test_a_baseline_is_read_with_its_path(tmp_path: Path) -> None:
    path = tmp_path / "BASELINE"
    path.write_text("a::t\n", "utf-8")
    read = bl.read_baseline(path)
    assert (read.path, read.nodeids) == (path, ("a::t",))


def test_writing_creates_the_folder_and_uses_newlines_only(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "er" / "BASELINE"
    bl.write_baseline(path, ["b::t", "a::t"])
    assert path.read_bytes() == bl.render(["a::t", "b::t"]).encode()
    assert b"\r" not in path.read_bytes()


def test_rewriting_a_baseline_in_place_replaces_its_list(tmp_path: Path) -> None:
    path = tmp_path / "tests" / "BASELINE"
    bl.write_baseline(path, ["a::t", "b::t"])
    bl.write_baseline(path, ["c::t"])
    assert bl.read_baseline(path).nodeids == ("c::t",)


def test_a_node_id_with_non_ascii_text_is_written_and_read_as_utf8_whatever_the_locale(
    tmp_path: Path,
) -> None:
    path = tmp_path / "BASELINE"
    before = locale.setlocale(locale.LC_CTYPE)
    locale.setlocale(locale.LC_CTYPE, "C")
    try:
        bl.write_baseline(path, ["t.py::test_calc[café]"])
        assert "t.py::test_calc[café]".encode() in path.read_bytes()
        assert bl.read_baseline(path).nodeids == ("t.py::test_calc[café]",)
    finally:
        locale.setlocale(locale.LC_CTYPE, before)


def test_reading_a_missing_file_given_no_name_names_its_path(tmp_path: Path) -> None:
    with pytest.raises(bl.BaselineError) as caught:
        bl.read_baseline(tmp_path / "BASELINE")
    assert str(caught.value).startswith(f"the baseline {tmp_path / 'BASELINE'} does not exist")


def test_compare_lists_what_was_added_and_removed_sorted() -> None:
    difference = bl.compare(["a", "b", "c"], ["d", "b", "a", "e"])
    assert difference == bl.Difference(added=("d", "e"), removed=("c",))
    assert difference.changed
    assert not bl.compare(["a", "b"], ["b", "a", "a"]).changed


# -- where it is configured ------------------------------------------------------------------


def test_the_baseline_path_is_read_from_pyproject_relative_to_the_project(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[tool.test_framework]\nbaseline = "tests/BASELINE"\n', "utf-8"
    )
    (tmp_path / "sub").mkdir()
    assert bl.configured_path(tmp_path / "sub") == (tmp_path / "tests/BASELINE", "tests/BASELINE")


def test_no_baseline_key_means_none_is_configured(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[tool.test_framework]\nmode = "auto"\n', "utf-8")
    assert bl.configured_path(tmp_path) is None


@pytest.mark.parametrize("value", ['""', "3", '"  "'])
def test_a_baseline_key_that_is_not_a_file_name_is_refused(tmp_path: Path, value: str) -> None:
    (tmp_path / "pyproject.toml").write_text(f"[tool.test_framework]\nbaseline = {value}\n")
    with pytest.raises(ConfigError) as caught:
        bl.configured_path(tmp_path)
    assert str(caught.value) == (
        f"{tmp_path / 'pyproject.toml'} [tool.test_framework] baseline must be a file name,"
        " e.g. tests/mission_critical/BASELINE"
    )


def test_an_absolute_baseline_path_is_kept(tmp_path: Path) -> None:
    target = tmp_path / "elsewhere" / "B"
    (tmp_path / "pyproject.toml").write_text(f'[tool.test_framework]\nbaseline = "{target}"\n')
    assert bl.configured_path(tmp_path) == (target, str(target))


# -- selections ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("prefix", "nodeid", "inside"),
    [
        ("", "a/b.py::t", True),
        ("a", "a/b.py::t", True),
        ("a/b.py", "a/b.py::t", True),
        ("a/b.py::t", "a/b.py::t", True),
        ("a/b.py::t", "a/b.py::t[1]", True),
        ("a/b.py::C", "a/b.py::C::t", True),
        ("a/b", "a/b.py::t", False),
        ("a/b.py::t", "a/b.py::test", False),
        ("b", "a/b.py::t", False),
        ("tests/mission", "tests/mission_critical", False),
        ("tests", "tests/mission_critical", True),
    ],
)
def test_within_is_below_a_folder_a_file_a_class_or_a_test(
    prefix: str, nodeid: str, inside: bool
) -> None:
    assert bl.within(prefix, nodeid) is inside


def test_a_run_given_the_suite_or_a_folder_above_it_is_the_whole() -> None:
    for paths in [(SUITE,), ("tests",), ("",), ("tests/other", SUITE)]:
        whole = Selection(paths=paths, suite=SUITE)
        assert not bl.narrower(whole)
        assert not bl.is_subset(whole)


def test_a_run_given_a_file_or_node_id_of_the_suite_is_narrower() -> None:
    for paths in [(f"{SUITE}/test_a.py",), (f"{SUITE}/test_a.py::t",), ("tests/other",)]:
        assert bl.narrower(Selection(paths=paths, suite=SUITE))
        assert bl.is_subset(Selection(paths=paths, suite=SUITE))


def test_without_a_suite_or_paths_nothing_is_narrower() -> None:
    assert not bl.narrower(Selection(paths=("x",), suite=""))
    assert not bl.narrower(Selection(paths=(), suite=SUITE))


@pytest.mark.parametrize(
    "fields",
    [
        {"keyword": "handshake"},
        {"markexpr": "not slow"},
        {"deselect": ("a::t",)},
        {"ignore": ("a",)},
        {"ignore_glob": ("*x*",)},
        {"last_failed": True},
        {"deselected": (Deselected("a::t"),)},
    ],
)
def test_each_selection_option_or_a_deselection_makes_a_subset(fields: dict[str, object]) -> None:
    whole = Selection(paths=(SUITE,), suite=SUITE)
    assert not bl.is_subset(whole)
    assert bl.is_subset(dataclasses.replace(whole, **fields))  # type: ignore[arg-type]


def test_no_selection_recorded_is_the_whole() -> None:
    assert not bl.is_subset(None)
    assert bl.covers(None, "anything::t")


def test_describe_gives_the_selection_as_a_command_line_would() -> None:
    selection = Selection(
        paths=(f"{SUITE}/test_a.py", "tests/other"),
        suite=SUITE,
        keyword="hand shake",
        markexpr="not slow",
        deselect=("a::t",),
        ignore=("b",),
        ignore_glob=("*c*",),
        last_failed=True,
        deselected=(Deselected("x::t"), Deselected("y::t")),
    )
    assert bl.describe(selection) == (
        f"{SUITE}/test_a.py tests/other -k 'hand shake' -m 'not slow' --deselect a::t --ignore b"
        " --ignore-glob '*c*' --lf (2 deselected)"
    )


def test_describe_leaves_out_paths_that_are_the_whole_suite() -> None:
    assert bl.describe(Selection(paths=(SUITE,), suite=SUITE, keyword="k")) == "-k k"


def test_describe_names_a_deselection_no_option_explains() -> None:
    selection = Selection(paths=(SUITE,), suite=SUITE, deselected=(Deselected("x::t"),))
    assert bl.describe(selection) == "a plugin's deselection (1 deselected)"


def test_covers_a_test_below_the_paths_and_not_below_an_ignored_one() -> None:
    selection = Selection(
        paths=(f"{SUITE}/a.py", f"{SUITE}/b"), suite=SUITE, ignore=(f"{SUITE}/b/x.py",)
    )
    assert bl.covers(selection, f"{SUITE}/a.py::t")
    assert bl.covers(selection, f"{SUITE}/b/y.py::t")
    assert not bl.covers(selection, f"{SUITE}/b/x.py::t")
    assert not bl.covers(selection, f"{SUITE}/c.py::t")


def test_a_keyword_or_marker_selection_still_covers_a_test_below_its_paths() -> None:
    # A test that was never collected cannot be matched against -k: it counts as missing.
    selection = Selection(paths=(SUITE,), suite=SUITE, keyword="x", markexpr="y")
    assert bl.covers(selection, f"{SUITE}/gone.py::t")


def test_with_no_paths_recorded_everything_is_covered() -> None:
    assert bl.covers(Selection(paths=(), suite=SUITE, keyword="k"), "anywhere::t")


def test_a_run_of_the_whole_suite_covers_even_a_line_outside_its_paths() -> None:
    assert bl.covers(Selection(paths=(SUITE,), suite=SUITE), "elsewhere.py::t")
    assert not bl.covers(Selection(paths=(SUITE,), suite=SUITE, keyword="k"), "elsewhere.py::t")


@pytest.mark.parametrize("fields", [{"last_failed": True}, {"ignore_glob": ("*a*",)}])
def test_last_failed_and_ignore_glob_cover_nothing_they_did_not_record(
    fields: dict[str, object],
) -> None:
    selection = dataclasses.replace(Selection(paths=(SUITE,), suite=SUITE), **fields)  # type: ignore[arg-type]
    assert not bl.covers(selection, f"{SUITE}/b.py::t")


def test_a_modes_selection_is_that_of_its_first_ledger_that_ran_and_recorded_one() -> None:
    wanted = Selection(paths=(SUITE,), suite=SUITE, keyword="k")
    skipped = dataclasses.replace(
        ledger("minimal", status=RunStatus.SKIPPED),
        selection=Selection(keyword="skipped"),
    )
    unrecorded = ledger("minimal", [record("test_a")], shard=(1, 2))
    recorded = dataclasses.replace(
        ledger("minimal", [record("test_b")], shard=(2, 2)), selection=wanted
    )
    (run,) = matrix_of(skipped, unrecorded, recorded).modes
    assert bl.mode_selection(run) == wanted
    (alone,) = matrix_of(unrecorded).modes
    assert bl.mode_selection(alone) is None


def test_subsets_names_each_mode_whose_run_was_one_with_whether_it_was_asked_for() -> None:
    matrix = matrix_of(
        selected(ledger("docker_local", [record("test_a")])),
        selected(ledger("staging_fallback", [record("test_a")]), keyword="a", allowed=True),
        selected(ledger("minimal", [record("test_a")]), keyword="a"),
    )
    assert bl.subsets(matrix) == (
        bl.Subset("staging_fallback", "-k a", True),
        bl.Subset("minimal", "-k a", False),
    )


def test_the_subset_lines_group_modes_that_share_a_selection() -> None:
    found = [bl.Subset("docker_local", "-k a", False), bl.Subset("minimal", "-k a", True)]
    found.append(bl.Subset("staging_fallback", "-m b", False))
    assert bl.render_subsets(found) == [
        "subset run: -k a (docker_local, minimal)",
        "subset run: -m b (staging_fallback)",
    ]
    assert bl.render_subsets([]) == []


def test_the_subset_refusal_names_the_selection_and_the_variable_that_allows_it() -> None:
    text = bl.subset_refusal(bl.Subset("minimal", "-k a", False))
    assert text == (
        "a subset run under CI (-k a): the build would pass on part of the suite; run the whole"
        " suite, or ask for a subset: MC_ALLOW_SUBSET=true for the run"
    )


# -- judging -------------------------------------------------------------------------------


def test_a_baseline_test_that_ran_in_one_mode_ran() -> None:
    matrix = matrix_of(
        ledger("docker_local", status=RunStatus.SKIPPED),
        ledger("minimal", [record("test_a"), record("test_b", Outcome.FAILED)]),
    )
    judged = bl.judge(baseline_of("test_a", "test_b"), matrix)
    assert judged.ran == (nid("test_a"), nid("test_b"))
    assert (judged.missing, judged.outside, judged.new) == ((), (), ())


def test_a_baseline_test_collected_in_no_mode_is_missing_with_its_line() -> None:
    matrix = matrix_of(ledger("minimal", [record("test_a")]))
    judged = bl.judge(parse(f"# c\n{nid('test_a')}\n{nid('test_gone')}\n"), matrix)
    assert judged.missing == (
        bl.Missing(nid("test_gone"), "in the baseline (BASELINE:3), collected in no mode"),
    )


def test_a_line_that_is_no_node_id_of_the_suite_is_missing_with_its_text() -> None:
    matrix = matrix_of(ledger("minimal", [record("test_a")]))
    judged = bl.judge(parse(f"{nid('test_a')}\nnot a node id at all\n"), matrix)
    assert [m.nodeid for m in judged.missing] == ["not a node id at all"]


def test_a_baseline_test_that_ran_without_its_marker_is_missing_as_unmarked() -> None:
    matrix = matrix_of(
        ledger("docker_local", [record("test_a", mc=False)]),
        ledger("minimal", [record("test_a", mc=False), record("test_b")]),
    )
    judged = bl.judge(baseline_of("test_a", "test_b"), matrix)
    assert judged.missing == (
        bl.Missing(
            nid("test_a"),
            "in the baseline (BASELINE:1), collected (docker_local; minimal),"
            " no longer marked mission_critical",
        ),
    )
    assert judged.ran == (nid("test_b"),)


def test_a_marker_dropped_on_a_deselected_test_is_still_missing_as_unmarked() -> None:
    led = selected(
        ledger("minimal", [record("test_b")]),
        markexpr="mission_critical",
        deselected=(Deselected(nid("test_a"), ("asyncio",)),),
    )
    judged = bl.judge(baseline_of("test_a", "test_b"), matrix_of(led))
    assert judged.missing == (
        bl.Missing(
            nid("test_a"),
            "in the baseline (BASELINE:1), collected (minimal, deselected),"
            " no longer marked mission_critical",
        ),
    )


def test_a_marked_test_the_selection_deselected_is_outside_it_not_missing() -> None:
    led = selected(
        ledger("minimal", [record("test_b")]),
        keyword="test_b",
        deselected=(Deselected(nid("test_a"), ("mission_critical",)),),
    )
    judged = bl.judge(baseline_of("test_a", "test_b"), matrix_of(led))
    assert (judged.missing, judged.outside, judged.ran) == ((), (nid("test_a"),), (nid("test_b"),))


def test_a_subset_run_still_misses_a_deleted_test_below_its_paths() -> None:
    led = selected(ledger("minimal", [record("test_b")]), keyword="test_b")
    judged = bl.judge(baseline_of("test_gone", "test_b"), matrix_of(led))
    assert [m.nodeid for m in judged.missing] == [nid("test_gone")]


def test_a_narrower_path_leaves_the_rest_of_the_baseline_unjudged() -> None:
    led = dataclasses.replace(
        ledger("minimal", [record("test_b")]),
        selection=Selection(paths=(FILE,), suite=SUITE),
    )
    other = "tests/mission_critical/test_other.py::test_c"
    judged = bl.judge(parse(f"{nid('test_b')}\n{other}\n{nid('test_gone')}\n"), matrix_of(led))
    assert judged.outside == (other,)
    assert [m.nodeid for m in judged.missing] == [nid("test_gone")]


def test_a_test_one_mode_covers_and_no_mode_collected_is_missing_whatever_the_others() -> None:
    narrow = dataclasses.replace(
        ledger("docker_local", [record("test_b")]),
        selection=Selection(paths=("tests/other",), suite=SUITE),
    )
    whole = selected(ledger("minimal", [record("test_b")]))
    judged = bl.judge(baseline_of("test_gone", "test_b"), matrix_of(narrow, whole))
    assert [m.nodeid for m in judged.missing] == [nid("test_gone")]


def test_a_test_no_modes_selection_covers_is_not_judged() -> None:
    narrow = dataclasses.replace(
        ledger("minimal", [record("test_b")]),
        selection=Selection(paths=("tests/other",), suite=SUITE),
    )
    judged = bl.judge(baseline_of("test_gone", "test_b"), matrix_of(narrow))
    assert (judged.missing, judged.outside) == ((), (nid("test_gone"),))


def test_a_marked_test_that_ran_nowhere_is_the_gates_ran_nowhere_not_missing() -> None:
    matrix = matrix_of(ledger("minimal", [record("test_a", Outcome.SKIPPED, reason="no")]))
    judged = bl.judge(baseline_of("test_a"), matrix)
    assert (judged.ran, judged.missing, judged.outside) == ((), (), ())


def test_when_no_mode_ran_nothing_is_judged() -> None:
    matrix = matrix_of(
        ledger("docker_local", status=RunStatus.SKIPPED),
        ledger("minimal", status=RunStatus.ERROR),
    )
    judged = bl.judge(baseline_of("test_a", "test_b"), matrix)
    assert judged.outside == (nid("test_a"), nid("test_b"))
    assert (judged.ran, judged.missing) == ((), ())


def test_a_skipped_mode_does_not_make_a_test_missing_where_another_ran_it() -> None:
    matrix = matrix_of(
        ledger("docker_local", status=RunStatus.SKIPPED),
        ledger("minimal", [record("test_a")]),
    )
    assert bl.judge(baseline_of("test_a"), matrix).missing == ()


def test_a_mission_critical_test_not_in_the_baseline_is_new() -> None:
    matrix = matrix_of(
        ledger("minimal", [record("test_a"), record("test_new"), record("x", mc=False)])
    )
    judged = bl.judge(baseline_of("test_a"), matrix)
    assert judged.new == (nid("test_new"),)


def test_the_coverage_line_counts_against_the_baseline() -> None:
    matrix = matrix_of(ledger("minimal", [record("test_a")]))
    assert bl.judge(baseline_of("test_a"), matrix).coverage_line() == (
        "baseline 1, ran in at least one mode 1 (100 %)"
    )
    judged = bl.judge(baseline_of("test_a", "test_gone", "test_x"), matrix)
    assert judged.coverage_line() == "baseline 3, ran in at least one mode 1 (33.3 %), missing 2"


def test_the_coverage_line_says_how_many_were_not_judged() -> None:
    matrix = matrix_of(ledger("minimal", status=RunStatus.SKIPPED))
    assert bl.judge(baseline_of("test_a"), matrix).coverage_line() == (
        "baseline 1, ran in at least one mode 0 (0 %),"
        " not judged 1 (outside the selection, or no mode ran)"
    )


@pytest.mark.parametrize(
    ("part", "whole", "text"),
    [
        (151, 151, "100 %"),
        (150, 151, "99.3 %"),
        (0, 151, "0 %"),
        (1, 3, "33.3 %"),
        (1, 2, "50 %"),
        (1999, 2000, "99.9 %"),
        (0, 0, "0 %"),
    ],
)
def test_percent_rounds_down_to_a_tenth(part: int, whole: int, text: str) -> None:
    assert bl.percent(part, whole) == text

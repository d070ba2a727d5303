"""The plugin records the run's selection in the ledger: -k, -m, node ids, narrower paths,
--deselect, and the tests they deselected; the shard split is not a selection."""

from __future__ import annotations

import pytest

from test_framework.results.baseline import describe, is_subset
from test_framework.results.ledger import Deselected, Ledger, read_ledger
from tests.support.projects import AGENT_EVENTS, harness_project

pytest_plugins = ["pytester"]

PROJECT = (
    '[tool.test_framework]\nreport_dir = "out"\nsuite = "suite"\n\n'
    + AGENT_EVENTS
    + 'factory = "agent_backend.testing:start_in_process"\n'
)
TESTS = """
import pytest

pytestmark = pytest.mark.mission_critical

def test_one():
    pass

def test_two():
    pass

@pytest.mark.slow
def test_three():
    pass
"""


@pytest.fixture
def project(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    monkeypatch.delenv("MC_ALLOW_SUBSET", raising=False)
    harness_project(pytester, monkeypatch, PROJECT, ini="markers =\n    slow: slow\n")
    (pytester.path / "suite").mkdir()
    (pytester.path / "suite" / "test_a.py").write_text(TESTS, "utf-8")
    (pytester.path / "suite" / "test_b.py").write_text(TESTS, "utf-8")
    return pytester


def run(project: pytest.Pytester, *args: str, ledger: str = "ledger.json") -> Ledger:
    result = project.runpytest_subprocess("--mc-mode", "minimal", *args)
    assert result.ret == 0, result.stdout.str()
    return read_ledger(project.path / "out" / "minimal" / ledger)


def test_a_run_of_the_suite_records_it_as_the_whole(project: pytest.Pytester) -> None:
    led = run(project, "suite")
    assert led.selection is not None
    assert led.selection.paths == ("suite",)
    assert led.selection.suite == "suite"
    assert not is_subset(led.selection)


def test_a_keyword_is_recorded_with_the_tests_it_deselected_and_their_markers(
    project: pytest.Pytester,
) -> None:
    led = run(project, "suite", "-k", "one")
    assert led.selection is not None
    assert led.selection.keyword == "one"
    assert set(led.selection.deselected) == {
        Deselected("suite/test_a.py::test_two", ("mission_critical",)),
        Deselected("suite/test_a.py::test_three", ("mission_critical", "slow")),
        Deselected("suite/test_b.py::test_two", ("mission_critical",)),
        Deselected("suite/test_b.py::test_three", ("mission_critical", "slow")),
    }
    assert describe(led.selection) == "-k one (4 deselected)"


def test_a_marker_expression_is_recorded(project: pytest.Pytester) -> None:
    led = run(project, "suite", "-m", "not slow")
    assert led.selection is not None
    assert led.selection.markexpr == "not slow"
    assert len(led.selection.deselected) == 2


def test_a_node_id_from_a_subfolder_is_recorded_relative_to_the_rootdir(
    project: pytest.Pytester,
) -> None:
    project.chdir()
    (project.path / "suite").joinpath("conftest.py").write_text("", "utf-8")
    result = project.runpytest_subprocess(
        "--mc-mode", "minimal", "--rootdir", str(project.path), "suite/test_a.py::test_one"
    )
    assert result.ret == 0, result.stdout.str()
    led = read_ledger(project.path / "out" / "minimal" / "ledger.json")
    assert led.selection is not None
    assert led.selection.paths == ("suite/test_a.py::test_one",)
    assert describe(led.selection) == "suite/test_a.py::test_one"


def test_a_narrower_path_and_a_deselect_are_recorded(project: pytest.Pytester) -> None:
    led = run(project, "suite/test_b.py", "--deselect", "suite/test_b.py::test_two")
    assert led.selection is not None
    assert led.selection.paths == ("suite/test_b.py",)
    assert led.selection.deselect == ("suite/test_b.py::test_two",)
    assert describe(led.selection) == (
        "suite/test_b.py --deselect suite/test_b.py::test_two (1 deselected)"
    )


def test_the_shard_split_is_not_a_selection(project: pytest.Pytester) -> None:
    first = run(project, "suite", "--shard", "1/2", ledger="ledger-shard-1-of-2.json")
    second = run(project, "suite", "--shard", "2/2", ledger="ledger-shard-2-of-2.json")
    for led in (first, second):
        assert led.selection is not None
        assert led.selection.deselected == ()
        assert not is_subset(led.selection)
    assert len(first.tests) + len(second.tests) == 6


def test_under_xdist_the_selection_the_workers_collected_is_recorded(
    project: pytest.Pytester,
) -> None:
    led = run(project, "suite", "-k", "two", "-n", "2")
    assert led.selection is not None
    assert led.selection.keyword == "two"
    assert {d.nodeid for d in led.selection.deselected} == {
        f"suite/test_{f}.py::test_{t}" for f in "ab" for t in ("one", "three")
    }


def test_a_subset_asked_for_is_recorded_as_allowed(
    project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MC_ALLOW_SUBSET", "true")
    led = run(project, "suite", "-k", "one")
    assert led.selection is not None
    assert led.selection.allowed


def test_a_suite_setting_that_names_nothing_here_leaves_the_whole_unknown(
    project: pytest.Pytester,
) -> None:
    (project.path / "pyproject.toml").write_text(
        PROJECT.replace('suite = "suite"', 'suite = "elsewhere"'), "utf-8"
    )
    led = run(project, "suite/test_a.py")
    assert led.selection is not None
    assert led.selection.suite == ""
    assert not is_subset(led.selection)

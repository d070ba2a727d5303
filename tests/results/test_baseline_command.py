"""``python -m test_framework baseline [--check]`` in a real project, and the gate after a real
run: each way a mission-critical test used to vanish unnoticed now fails, as a new user would
meet it (a deleted file, a dropped marker, collect_ignore, a module-level importorskip, -k)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from test_framework.results.baseline import HEADER, parse
from tests.support.projects import AGENT_EVENTS, harness_project

pytest_plugins = ["pytester"]

PROJECT = (
    '[tool.test_framework]\nreport_dir = "out"\nsuite = "suite"\nbaseline = "suite/BASELINE"\n\n'
    + AGENT_EVENTS
    + 'factory = "agent_backend.testing:start_in_process"\n'
)
MARKED = "import pytest\n\npytestmark = pytest.mark.mission_critical\n\n"
TWO = MARKED + "def test_one():\n    pass\n\ndef test_two():\n    pass\n"
IDS = [f"suite/test_{f}.py::test_{t}" for f in "ab" for t in ("one", "two")]


@pytest.fixture
def project(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    for name in ("CI", "MC_ALLOW_SUBSET"):
        monkeypatch.delenv(name, raising=False)
    harness_project(pytester, monkeypatch, PROJECT)
    suite = pytester.path / "suite"
    suite.mkdir()
    (suite / "test_a.py").write_text(TWO, "utf-8")
    (suite / "test_b.py").write_text(TWO, "utf-8")
    (suite / "test_helpers.py").write_text("def test_not_mission_critical():\n    pass\n")
    return pytester


def command(project: pytest.Pytester, *args: str) -> pytest.RunResult:
    return project.run(sys.executable, "-m", "test_framework", *args, timeout=120)


def baseline_file(project: pytest.Pytester) -> Path:
    return project.path / "suite" / "BASELINE"


def run_minimal_then_gate(project: pytest.Pytester, *args: str) -> pytest.RunResult:
    project.runpytest_subprocess("suite", "--mc-mode", "minimal", *args)
    return command(project, "gate", "out")


def test_baseline_writes_the_sorted_mission_critical_ids_under_its_header(
    project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A mode in the environment must not reach the collection: it would probe, and clear out/.
    monkeypatch.setenv("TEST_MODE", "minimal")
    done = command(project, "baseline")
    assert done.ret == 0, done.stderr.str()
    assert done.outlines == ["wrote suite/BASELINE: 4 tests (4 added, 0 removed)"]
    assert baseline_file(project).read_text("utf-8") == "\n".join([*HEADER, *IDS]) + "\n"
    assert not (project.path / "out").exists(), "the collection started a run"


def test_check_passes_on_an_up_to_date_baseline_and_writes_nothing(
    project: pytest.Pytester,
) -> None:
    assert command(project, "baseline").ret == 0
    before = baseline_file(project).read_bytes()
    done = command(project, "baseline", "--check")
    assert done.ret == 0
    assert done.outlines == ["baseline suite/BASELINE is up to date: 4 tests"]
    assert baseline_file(project).read_bytes() == before


def test_check_of_a_hand_edited_file_with_the_same_tests_passes_and_says_to_rewrite_it(
    project: pytest.Pytester,
) -> None:
    baseline_file(project).write_text("\r\n".join([*reversed(IDS), IDS[0]]) + "\r\n", "utf-8")
    done = command(project, "baseline", "--check")
    assert done.ret == 0
    assert "up to date: 4 tests; not in the form the command writes" in done.stdout.str()


def test_check_lists_what_was_added_and_removed_and_exits_1(project: pytest.Pytester) -> None:
    assert command(project, "baseline").ret == 0
    before = baseline_file(project).read_bytes()
    (project.path / "suite" / "test_a.py").unlink()
    (project.path / "suite" / "test_c.py").write_text(MARKED + "def test_new():\n    pass\n")
    done = command(project, "baseline", "--check")
    assert done.ret == 1
    assert done.outlines == [
        "baseline suite/BASELINE differs from the suite: 1 added, 2 removed since the file:",
        "+ suite/test_c.py::test_new",
        "- suite/test_a.py::test_one",
        "- suite/test_a.py::test_two",
        "if that is intended, run `python -m test_framework baseline` and commit"
        " suite/BASELINE with the change",
    ]
    assert baseline_file(project).read_bytes() == before


def test_check_without_a_baseline_file_is_a_usage_error_naming_the_command(
    project: pytest.Pytester,
) -> None:
    done = command(project, "baseline", "--check")
    assert done.ret == 2
    assert done.errlines == [
        "error: the baseline suite/BASELINE does not exist: write it with"
        " `python -m test_framework baseline` and commit it"
    ]


def test_a_module_that_skips_itself_at_collection_is_named(project: pytest.Pytester) -> None:
    assert command(project, "baseline").ret == 0
    text = (project.path / "suite" / "test_b.py").read_text()
    (project.path / "suite" / "test_b.py").write_text(
        'import pytest\npytest.importorskip("not_installed_here")\n' + text
    )
    done = command(project, "baseline", "--check")
    assert done.ret == 1
    assert done.outlines[0].startswith(
        "skipped at collection: suite/test_b.py (could not import 'not_installed_here'"
    )
    assert "- suite/test_b.py::test_one" in done.outlines


# -- the gate after a real run: every way a test vanished ----------------------------------


def test_the_gate_passes_a_whole_run_against_its_baseline(project: pytest.Pytester) -> None:
    assert command(project, "baseline").ret == 0
    done = run_minimal_then_gate(project)
    assert done.ret == 0, done.stdout.str()
    assert "baseline 4, ran in at least one mode 4 (100 %)" in done.outlines


def test_the_gate_fails_a_deleted_file(project: pytest.Pytester) -> None:
    assert command(project, "baseline").ret == 0
    (project.path / "suite" / "test_b.py").unlink()
    done = run_minimal_then_gate(project)
    assert done.ret == 1
    assert [line for line in done.outlines if "MISSING TEST" in line] == [
        f"  MISSING TEST: {n}: in the baseline (BASELINE:{i}), collected in no mode"
        for i, n in ((7, IDS[2]), (8, IDS[3]))
    ]


def test_the_gate_fails_a_dropped_marker(project: pytest.Pytester) -> None:
    assert command(project, "baseline").ret == 0
    text = (project.path / "suite" / "test_b.py").read_text()
    (project.path / "suite" / "test_b.py").write_text(
        text.replace("pytestmark = pytest.mark.mission_critical", "")
    )
    done = run_minimal_then_gate(project)
    assert done.ret == 1
    assert (
        f"  MISSING TEST: {IDS[2]}: in the baseline (BASELINE:7), collected (minimal),"
        " no longer marked mission_critical"
    ) in done.outlines


def test_the_gate_fails_a_file_collect_ignore_hides(project: pytest.Pytester) -> None:
    assert command(project, "baseline").ret == 0
    (project.path / "suite" / "conftest.py").write_text('collect_ignore = ["test_a.py"]\n')
    done = run_minimal_then_gate(project)
    assert done.ret == 1
    assert sum("MISSING TEST: suite/test_a.py" in line for line in done.outlines) == 2


def test_the_gate_fails_a_file_a_module_level_importorskip_hides(
    project: pytest.Pytester,
) -> None:
    assert command(project, "baseline").ret == 0
    text = (project.path / "suite" / "test_a.py").read_text()
    (project.path / "suite" / "test_a.py").write_text(
        'import pytest\npytest.importorskip("not_installed_here")\n' + text
    )
    done = run_minimal_then_gate(project)
    assert done.ret == 1
    assert sum("MISSING TEST: suite/test_a.py" in line for line in done.outlines) == 2


def test_the_gate_names_a_keyword_subset_and_fails_it_under_ci_unless_asked_for(
    project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert command(project, "baseline").ret == 0
    monkeypatch.setenv("CI", "true")
    done = run_minimal_then_gate(project, "-k", "one")
    assert done.ret == 1
    assert "subset run: -k one (3 deselected) (minimal)" in done.outlines
    assert any(
        line.startswith("  SUBSET RUN: minimal: a subset run under CI") for line in done.outlines
    )
    assert "baseline 4, ran in at least one mode 2 (50 %), not judged 2" in done.stdout.str()

    monkeypatch.setenv("MC_ALLOW_SUBSET", "true")
    done = run_minimal_then_gate(project, "-k", "one")
    assert done.ret == 0, done.stdout.str()
    assert "subset run: -k one (3 deselected) (minimal)" in done.outlines


def test_a_written_baseline_reads_back_as_the_collected_set(project: pytest.Pytester) -> None:
    assert command(project, "baseline").ret == 0
    assert parse(baseline_file(project).read_text()).nodeids == tuple(IDS)

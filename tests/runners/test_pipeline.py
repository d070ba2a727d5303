"""The steps of one run that every runner takes: its id, the mode's clearing and decision, and
the pytest and gate command lines."""

from __future__ import annotations

import re
from pathlib import Path

from test_framework.modes import Mode
from test_framework.results.ledger import RunStatus, read_ledger
from test_framework.runners.decision import Action
from test_framework.runners.pipeline import gate_argv, new_invocation, prepare_mode, pytest_argv
from test_framework.settings import Settings


def test_a_run_id_sorts_by_time_and_names_its_runner() -> None:
    first, second = new_invocation("tox"), new_invocation("tox")
    assert re.fullmatch(r"\d{14}-tox-[0-9a-f]{6}", first)
    assert first != second


def test_preparing_a_mode_removes_an_earlier_runs_ledger_before_it_decides(
    tmp_path: Path,
) -> None:
    settings = Settings(root=tmp_path, report_dir=tmp_path / "reports")
    stale = tmp_path / "reports" / "minimal" / "ledger-shard-1-of-2.json"
    stale.parent.mkdir(parents=True)
    stale.write_text("{}")
    decision = prepare_mode(settings, Mode.MINIMAL, (1, 1), "run-1", "tox")
    assert decision.action is Action.SKIP  # nothing configured: absent
    assert not stale.exists()
    ledger = read_ledger(tmp_path / "reports" / "minimal" / "ledger.json")
    assert (ledger.status, ledger.invocation) == (RunStatus.SKIPPED, "run-1")


def test_the_pytest_command_carries_the_mode_the_runners_options_and_the_profiles_workers(
    tmp_path: Path,
) -> None:
    settings = Settings(root=tmp_path, report_dir=tmp_path / "reports")
    workers = settings.profile(Mode.MINIMAL).pacing.workers
    argv = pytest_argv(["pytest"], settings, Mode.MINIMAL, "tests", options=["-c", "x.toml"])
    assert argv[:6] == ["pytest", "tests", "--mc-mode", "minimal", "-c", "x.toml"]
    assert argv[6:8] == ["-p", "no:cacheprovider"]
    assert argv[8:] == (["-n", str(workers)] if workers > 0 else [])
    given = pytest_argv(
        ["pytest"], settings, Mode.MINIMAL, "tests", tail=["-q"], workers_given=True
    )
    assert given[-3:] == ["-p", "no:cacheprovider", "-q"]


def test_the_gate_judges_the_runs_mode_folders_or_else_the_whole_report_folder(
    tmp_path: Path,
) -> None:
    assert gate_argv(tmp_path, ["minimal"], "run-1", required="minimal") == [
        str(tmp_path / "minimal"),
        "--invocation",
        "run-1",
        "--required",
        "minimal",
        "--reports",
        str(tmp_path),
    ]
    assert gate_argv(tmp_path, [], None) == [str(tmp_path), "--reports", str(tmp_path)]

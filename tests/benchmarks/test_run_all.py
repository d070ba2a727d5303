"""benchmarks/run_all.py's command line: how many repetitions each section takes."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from benchmarks import run_all


@pytest.mark.parametrize(
    ("argv", "complaint"),
    [
        (["--only", "probe", "--reps", "2"], "probe at least 5"),
        (["--only", "mainjob,nox", "--reps", "2"], "nox at least 5"),
        (["--only", "mainjob", "--reps", "0"], "mainjob at least 1"),
    ],
)
def test_a_section_refuses_fewer_repetitions_than_its_figures_need(
    argv: list[str], complaint: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as stopped:
        run_all.main(argv)
    assert stopped.value.code == 2
    assert complaint in capsys.readouterr().err


def test_the_suite_baseline_variables_give_every_mode_the_minimal_profile(
    tmp_path: Path,
) -> None:
    from test_framework.modes import ALL_MODES, Mode
    from test_framework.settings import load_settings

    settings = load_settings(tmp_path, environ=run_all.minimal_profile_variables())
    minimal = settings.profile(Mode.MINIMAL)
    for mode in ALL_MODES:
        assert dataclasses.replace(settings.profile(mode), mode=Mode.MINIMAL) == minimal, mode

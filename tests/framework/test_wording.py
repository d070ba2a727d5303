"""Messages count in good English: "1 problem", "2 problems"."""

from __future__ import annotations

from pathlib import Path

import pytest

from test_framework.results import gate
from test_framework.wording import counted


def test_a_count_of_one_takes_the_singular_and_any_other_the_plural() -> None:
    assert counted(1, "problem") == "1 problem"
    assert counted(0, "problem") == "0 problems"
    assert counted(2, "entry", "entries") == "2 entries"


def test_a_gate_that_finds_one_problem_says_1_problem(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MC_REQUIRED_MODES", "")
    assert gate.main([str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert "gate: FAILED (1 problem)\n" in out

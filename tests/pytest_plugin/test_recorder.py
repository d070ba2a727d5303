"""LedgerRecorder as pytest sees it: a plugin object."""

from __future__ import annotations

from pathlib import Path

import pytest

from test_framework.pytest_plugin.recorder import LedgerRecorder
from test_framework.results.ledger import Ledger, RunStatus


def test_the_recorder_registers_as_a_plugin_because_it_hashes_by_identity(tmp_path: Path) -> None:
    base = Ledger(run_id="r", mode="minimal", status=RunStatus.RAN, reason="", started_at=0.0)
    one = LedgerRecorder(path=tmp_path / "ledger.json", base=base)
    two = LedgerRecorder(path=tmp_path / "ledger.json", base=base)
    # pytest 8.4.0 keeps the plugins it has seen in a set; an unhashable one stops the session.
    assert len({one, two}) == 2
    manager = pytest.PytestPluginManager()
    manager.register(one, "mc-ledger-recorder")
    assert manager.get_plugin("mc-ledger-recorder") is one

"""N shards as N separate pytest processes, gated, say what one unsharded run says."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from test_framework.results.ledger import read_ledger
from tests.support.projects import harness_project

pytest_plugins = ["pytester"]


SUITE = """
import pytest

pytestmark = pytest.mark.mission_critical

@pytest.mark.parametrize("n", range(10))
def test_counts_up_to_nine(n):
    assert n < 10

def test_fails_in_every_run():
    assert 1 + 1 == 3

def test_skipped_in_every_mode():
    pytest.skip("needs something no mode has")

def test_reaches_the_deployment(mc_endpoints):
    assert mc_endpoints.ws_url.startswith("ws://127.0.0.1:")

class TestGrouped:
    @pytest.mark.parametrize("word", ["a", "bb", "ccc"])
    def test_word_length(self, word):
        assert len(word) in (1, 2, 3)
"""
SHARDS = 4


@pytest.fixture
def project(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    harness_project(pytester, monkeypatch)
    pytester.makepyfile(test_suite=SUITE)
    return pytester


def gate(folder: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "test_framework", "gate", str(folder)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def nodeids(folder: Path) -> list[str]:
    return sorted(
        t.nodeid for path in folder.rglob("ledger*.json") for t in read_ledger(path).tests
    )


@pytest.mark.parametrize("balanced", [False, True], ids=["equal-weights", "by-durations"])
def test_four_shard_processes_gate_like_one_unsharded_run(
    project: pytest.Pytester, balanced: bool
) -> None:
    whole = project.path / "whole"
    project.runpytest_subprocess("--mc-mode", "minimal", "--mc-report-dir", str(whole))

    sharded = project.path / "sharded"
    extra = ["--shard-durations", str(whole / "minimal" / "ledger.json")] if balanced else []
    parts: list[list[str]] = []
    for index in range(1, SHARDS + 1):
        project.runpytest_subprocess(
            "--mc-mode", "minimal", "--mc-report-dir", str(sharded),
            "--shard", f"{index}/{SHARDS}", *extra,
        )  # fmt: skip
        shard = read_ledger(sharded / "minimal" / f"ledger-shard-{index}-of-{SHARDS}.json")
        assert (shard.shard_index, shard.shard_count) == (index, SHARDS)
        parts.append([t.nodeid for t in shard.tests])

    # Each shard is its own process and run, ran a real part, and no test ran twice.
    run_ids = {read_ledger(p).run_id for p in (sharded / "minimal").glob("ledger*.json")}
    assert len(run_ids) == SHARDS
    assert all(parts)
    assert sorted(n for part in parts for n in part) == nodeids(whole) == nodeids(sharded)
    assert len(nodeids(whole)) == 16

    one, many = gate(whole), gate(sharded)
    assert one.returncode == many.returncode == 1
    assert one.stdout == many.stdout
    assert one.stderr == many.stderr == ""
    assert "FAILED: test_suite.py::test_fails_in_every_run [minimal]" in one.stdout
    assert "RAN NOWHERE: test_suite.py::test_skipped_in_every_mode" in one.stdout


def test_losing_a_shard_ledger_fails_the_gate_where_the_whole_run_passes(
    project: pytest.Pytester,
) -> None:
    project.makepyfile(
        test_suite="""
        import pytest

        @pytest.mark.mission_critical
        @pytest.mark.parametrize("n", range(6))
        def test_n(n):
            assert n >= 0
        """
    )
    sharded = project.path / "sharded"
    for index in (1, 2):
        project.runpytest_subprocess(
            "--mc-mode", "minimal", "--mc-report-dir", str(sharded), "--shard", f"{index}/2"
        )
    assert gate(sharded).returncode == 0
    (sharded / "minimal" / "ledger-shard-2-of-2.json").unlink()
    lost = gate(sharded)
    assert lost.returncode == 1
    assert "SHARDS DISAGREE: minimal: no ledger for shard 2/2" in lost.stdout
    data = json.loads((sharded / "minimal" / "ledger-shard-1-of-2.json").read_text())
    assert data["collected"]["count"] == 6

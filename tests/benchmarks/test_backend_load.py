"""benchmarks/backend_load.py: its client's bookkeeping, and one small run end to end."""

from __future__ import annotations

import json

import pytest

from benchmarks import backend_load
from benchmarks.backend_load import PhaseResult, RunWatch


def _event(kind: str, **payload: object) -> bytes:
    return json.dumps({"type": kind, "seq": 1, "payload": payload}).encode()


async def test_a_watch_times_agent_started_and_counts_the_status_of_agent_completed() -> None:
    result = PhaseResult("backend", 1, 0.0, 0.0)
    watch = RunWatch(result, events=True)
    watch.on_frame(_event("agent_started", client_msg_id="m"))
    watch.on_frame(_event("agent_thinking", text="step 1"))
    assert not watch.done.done()
    watch.on_frame(_event("agent_completed", status="failed", error="x"))
    assert watch.done.done()
    assert len(result.first_ms) == 1
    assert len(result.last_ms) == 1
    assert result.statuses == {"failed": 1}


async def test_a_watch_counts_a_run_whose_first_event_is_not_agent_started() -> None:
    result = PhaseResult("backend", 1, 0.0, 0.0)
    watch = RunWatch(result, events=True)
    watch.on_frame(_event("agent_thinking", text="too early"))
    assert watch.done.done()
    assert result.statuses == {"first event agent_thinking": 1}


async def test_an_echo_watch_is_done_at_the_first_frame() -> None:
    result = PhaseResult("echo", 1, 0.0, 0.0)
    watch = RunWatch(result, events=False)
    watch.on_frame(b"anything")
    assert watch.done.done()
    assert len(result.first_ms) == 1
    assert result.last_ms == []


async def test_a_small_load_runs_every_run_against_all_three_servers(
    capsys: pytest.CaptureFixture[str],
) -> None:
    args = backend_load.parse_args(["--connections", "20", "--rounds", "2", "--json"])
    assert await backend_load.main(args) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["server_exit_status"] == 0
    for row in data["rounds"]:
        assert row["statuses"] == {"succeeded": 20}
        assert row["runs_per_s"] > 0
        assert row["echo_msgs_per_s"] > 0
        assert row["ratio"] == pytest.approx(row["runs_per_s"] / row["echo_msgs_per_s"], rel=0.01)
        assert row["agent_started_p99_ms"] <= row["agent_completed_p99_ms"]

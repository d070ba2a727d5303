"""Mode parity: the shape of a test's transcript compared between the modes it passed in."""

from __future__ import annotations

from pathlib import Path

import pytest

from test_framework.results import gate
from test_framework.results.ledger import Outcome
from test_framework.results.matrix import build_matrix, load_ledgers
from test_framework.results.parity import compare, entry_token, shape_of
from tests.support.ledger_samples import frame, ledger, nid, record, write, write_transcript


def conversation(
    user: str, run_id: str, *, code: str = "unknown_run", close: int = 1000, port: int = 5000
) -> list[dict[str, object]]:
    """What the client records for one test, in the real transcript format."""
    base = f"http://127.0.0.1:{port}"
    return [
        frame("http", "out", {"method": "GET", "url": f"{base}/auth/token"}, "http"),
        frame("http", "in", {"url": f"{base}/auth/token", "status": 200}, "http", 0.001),
        frame("ws1", "note", {"url": f"ws://127.0.0.1:{port}/ws"}, "open", 0.002),
        frame("ws1", "note", {"attempt": 1}, "opened", 0.003),
        frame("ws1", "in", {"type": "connection_ready", "user_id": user}, t=0.004),
        frame("ws1", "out", {"type": "ping"}, t=0.005),
        frame("ws1", "in", {"type": "pong"}, t=0.006),
        frame("ws1", "out", {"type": "user_message", "content": "calc 1+1"}, t=0.007),
        frame("ws1", "in", {"type": "agent_started", "run_id": run_id}, t=0.008),
        frame("ws1", "in", {"type": "error", "code": code, "ref": run_id}, t=0.009),
        frame("ws1", "out", {"code": close, "reason": ""}, "close", 0.010),
    ]


def two_modes(
    tmp_path: Path,
    minimal: list[dict[str, object]] | str,
    docker: list[dict[str, object]] | str,
    docker_outcome: Outcome = Outcome.PASSED,
) -> None:
    for mode, entries, outcome in (
        ("minimal", minimal, Outcome.PASSED),
        ("docker_local", docker, docker_outcome),
    ):
        if isinstance(entries, str):
            folder = tmp_path / mode / "transcripts"
            folder.mkdir(parents=True)
            (folder / "t.json").write_text(entries)
            name = "t.json"
        else:
            name = write_transcript(tmp_path, mode, "t.json", entries)
        write(tmp_path, ledger(mode, [record("test_conv", outcome, transcript=name)]))


def differences(tmp_path: Path) -> list[str]:
    return [d.render() for d in compare(build_matrix(load_ledgers([tmp_path])))]


def test_ids_times_ports_and_connection_labels_do_not_count(tmp_path: Path) -> None:
    other = conversation("bob", "run-2", port=6000)
    for entry in other:
        entry["t"] = float(str(entry["t"])) + 50
        entry["source"] = {"ws1": "ws7"}.get(str(entry["source"]), entry["source"])
    two_modes(tmp_path, conversation("alice", "run-1"), other)
    assert differences(tmp_path) == []


def test_keep_alive_pings_and_client_notes_do_not_count(tmp_path: Path) -> None:
    other = conversation("alice", "run-1")
    other.insert(6, frame("ws1", "out", {"type": "ping"}))
    other.insert(3, frame("ws1", "note", {"attempt": 2}, "opened"))
    two_modes(tmp_path, conversation("alice", "run-1"), other)
    assert differences(tmp_path) == []


def test_a_different_error_code_is_reported_with_the_event(tmp_path: Path) -> None:
    two_modes(tmp_path, conversation("a", "r"), conversation("a", "r", code="permission_denied"))
    assert differences(tmp_path) == [
        f"parity: {nid('test_conv')}: docker_local vs minimal: c2 in event 2:"
        " 'in text error code=permission_denied' vs 'in text error code=unknown_run'"
    ]


def test_a_different_close_code_is_reported(tmp_path: Path) -> None:
    two_modes(tmp_path, conversation("a", "r"), conversation("a", "r", close=1011))
    (found,) = differences(tmp_path)
    assert "'out close code=1011' vs 'out close code=1000'" in found


def test_the_same_events_in_another_order_are_reported_as_order(tmp_path: Path) -> None:
    swapped = conversation("a", "r")
    swapped[4], swapped[9] = swapped[9], swapped[4]  # the error before connection_ready
    two_modes(tmp_path, conversation("a", "r"), swapped)
    (found,) = differences(tmp_path)
    assert found.endswith("c2 in: the same 2 events in a different order")


def concurrent(order: list[tuple[str, str]]) -> list[dict[str, object]]:
    """Two runs on one connection; ``order`` is the arrival order of (run, event type)."""
    entries = [frame("ws1", "out", {"type": "user_message"}) for _ in range(2)]
    for run, kind in order:
        entries.append(frame("ws1", "in", {"type": kind, "run_id": run}))
    return entries


RUN = ["agent_started", "tool_executing", "tool_completed", "agent_completed"]


def test_concurrent_runs_may_interleave_differently(tmp_path: Path) -> None:
    one_then_other = [("r1", k) for k in RUN] + [("r2", k) for k in RUN]
    interleaved = [(run, k) for k in RUN for run in ("r9", "r8")]
    two_modes(tmp_path, concurrent(one_then_other), concurrent(interleaved))
    assert differences(tmp_path) == []


def test_a_run_whose_own_events_differ_is_reported(tmp_path: Path) -> None:
    broken = [("r1", k) for k in RUN] + [("r2", k) for k in RUN if k != "tool_completed"]
    two_modes(tmp_path, concurrent([(r, k) for r in ("r1", "r2") for k in RUN]), concurrent(broken))
    (found,) = differences(tmp_path)
    assert found.endswith(
        "c1 runs: a run went 'text agent_started > text tool_executing > text agent_completed'"
        " vs 'text agent_started > text tool_executing > text tool_completed"
        " > text agent_completed'"
    )


def test_an_extra_connection_is_reported(tmp_path: Path) -> None:
    extra = [*conversation("a", "r"), frame("ws2", "in", {"type": "connection_ready"})]
    two_modes(tmp_path, conversation("a", "r"), extra)
    (found,) = differences(tmp_path)
    assert found.endswith("3 connections vs 2")


def test_a_missing_event_is_reported_with_the_first_extra_one(tmp_path: Path) -> None:
    short = conversation("a", "r")[:-1]
    two_modes(tmp_path, conversation("a", "r"), short)
    (found,) = differences(tmp_path)
    assert found.endswith("c2 out: 1 event vs 2 (first extra: 'out close code=1000')")


def test_a_test_that_failed_in_one_mode_is_left_to_the_gate(tmp_path: Path) -> None:
    two_modes(
        tmp_path,
        conversation("a", "r"),
        conversation("a", "r", code="other"),
        docker_outcome=Outcome.FAILED,
    )
    assert differences(tmp_path) == []


def test_an_unreadable_transcript_is_reported(tmp_path: Path) -> None:
    two_modes(tmp_path, conversation("a", "r"), "{broken")
    (found,) = differences(tmp_path)
    assert "docker_local vs docker_local: " in found
    assert "cannot read" in found


def test_http_exchanges_keep_method_path_and_status_only() -> None:
    out = frame("http", "out", {"method": "POST", "url": "https://h:1/auth/token?x=1"}, "http")
    refused = frame("ws1", "in", {"status": 401}, "refused")
    assert entry_token(out) == "out http POST /auth/token"
    assert entry_token(refused) == "in refused status=401"
    assert shape_of([out, refused]) == {
        "c1 out": ("out http POST /auth/token",),
        "c2 in": ("in refused status=401",),
    }


def test_the_gate_lists_parity_differences_as_warnings_and_still_passes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MC_REQUIRED_MODES", "")
    two_modes(tmp_path, conversation("a", "r"), conversation("a", "r", close=1011))
    assert gate.main([str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "warnings (1):" in out
    assert "parity: " in out
    assert gate.main([str(tmp_path), "--no-parity"]) == 0
    assert "parity: " not in capsys.readouterr().out

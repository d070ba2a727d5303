"""The run state machine, the registry, and the scripted agent driving them (no sockets)."""

from __future__ import annotations

import asyncio
import gc
import json

import pytest

from agent_backend.agent import MAX_STEPS_RUN_NOW, can_run_now, drive, run_now
from agent_backend.runs import (
    EventType,
    FinishedRun,
    RunEvent,
    RunMachine,
    RunRegistry,
    RunStateError,
)
from agent_backend.steps import parse_steps


class FakeClock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def machine(
    run_id: str = "run_1", user_id: str = "alice", clock: FakeClock | None = None
) -> RunMachine:
    clock = clock or FakeClock()
    return RunMachine(
        run_id=run_id, thread_id="t", user_id=user_id, wall_clock=clock, monotonic=clock
    )


def kinds(events: list[RunEvent]) -> list[str]:
    return [e.type.value for e in events]


def test_events_carry_gapless_seq_and_encode_as_the_wire_form() -> None:
    run = machine()
    events = [
        run.start("m1"),
        run.think("plan"),
        run.execute_tool("calculator", {"e": 1}),
        run.complete_tool(ok=True, result=2),
        run.succeed("done"),
    ]
    assert [e.seq for e in events] == [1, 2, 3, 4, 5]
    for event in events:
        assert json.loads(event.wire) == event.as_dict()
    assert events[0].payload == {"client_msg_id": "m1"}
    assert events[2].payload == {"call_id": "call_1", "tool": "calculator", "args": {"e": 1}}
    assert events[4].payload == {"status": "succeeded", "answer": "done"}
    assert run.finished
    assert run.status is not None
    assert run.status.value == "succeeded"


def test_tool_completed_carries_result_or_error_and_a_duration() -> None:
    clock = FakeClock()
    run = machine(clock=clock)
    run.start(None)
    run.think("x")
    run.execute_tool("sleep", {"ms": 5})
    clock.now += 0.25
    ok = run.complete_tool(ok=True, result={"slept_ms": 5})
    assert ok.payload == {
        "call_id": "call_1",
        "tool": "sleep",
        "ok": True,
        "result": {"slept_ms": 5},
        "duration_ms": 250.0,
    }
    run.execute_tool("fail", {"message": "m"})
    bad = run.complete_tool(ok=False, error="m")
    assert bad.payload["call_id"] == "call_2"
    assert bad.payload["error"] == "m"
    assert "result" not in bad.payload
    assert run.fail("tool fail failed: m").payload == {
        "status": "failed",
        "error": "tool fail failed: m",
    }


@pytest.mark.parametrize(
    "steps",
    [
        ["think"],  # before agent_started
        ["start", "tool"],  # tool before any thinking
        ["start", "succeed"],  # completion without thinking
        ["start", "think", "tool", "think"],  # thinking while a tool is in flight
        ["start", "think", "tool", "tool"],  # second tool before the first completed
        ["start", "think", "tool", "succeed"],  # completion while a tool is in flight
        ["start", "think", "complete"],  # tool_completed with no tool
        ["start", "think", "succeed", "think"],  # anything after agent_completed
        ["start", "start"],
    ],
)
def test_transitions_that_break_the_order_rules_are_refused(steps: list[str]) -> None:
    run = machine()
    actions = {
        "start": lambda: run.start(None),
        "think": lambda: run.think("t"),
        "tool": lambda: run.execute_tool("calculator", {}),
        "complete": lambda: run.complete_tool(ok=True, result=1),
        "succeed": lambda: run.succeed("a"),
    }
    *allowed, refused = steps
    for step in allowed:
        actions[step]()
    with pytest.raises(RunStateError):
        actions[refused]()


def test_cancel_completes_a_tool_in_flight_first() -> None:
    run = machine()
    run.start(None)
    run.think("t")
    run.execute_tool("sleep", {"ms": 1000})
    events = run.cancel()
    assert kinds(events) == ["tool_completed", "agent_completed"]
    assert events[0].payload["ok"] is False
    assert events[0].payload["error"] == "cancelled"
    assert events[1].payload == {"status": "cancelled"}


def test_cancel_between_steps_only_completes_the_run() -> None:
    run = machine()
    run.start(None)
    run.think("t")
    assert kinds(run.cancel()) == ["agent_completed"]


def test_cancel_before_any_thinking_still_thinks_once() -> None:
    run = machine()
    run.start(None)
    assert kinds(run.cancel()) == ["agent_thinking", "agent_completed"]


def test_cancel_of_a_finished_run_changes_nothing() -> None:
    run = machine()
    run.start(None)
    run.think("t")
    run.succeed("a")
    assert run.cancel() == []
    assert run.last_seq == 3
    assert run.status is not None
    assert run.status.value == "succeeded"


def test_wires_after_replays_the_tail_in_order() -> None:
    run = machine()
    run.start(None)
    run.think("a")
    run.think("b")
    assert [json.loads(w)["seq"] for w in run.wires_after(0)] == [1, 2, 3]
    assert [json.loads(w)["seq"] for w in run.wires_after(2)] == [3]
    assert run.wires_after(3) == []
    assert run.wires_after(99) == []


def test_registry_finds_a_run_only_for_its_owner() -> None:
    registry = RunRegistry(retention_s=60)
    run = machine("run_a", "alice")
    registry.add(run)
    assert registry.get("run_a", "alice") is run
    assert registry.get("run_a", "bob") is None
    assert registry.get("run_missing", "alice") is None


def test_registry_counts_active_runs_per_user() -> None:
    registry = RunRegistry(retention_s=60)
    runs = [machine(f"run_{i}", "alice") for i in range(3)]
    for run in runs:
        registry.add(run)
    registry.add(machine("run_b", "bob"))
    assert registry.active_count("alice") == 3
    assert registry.active_count("bob") == 1
    runs[0].start(None)
    runs[0].cancel()
    registry.finished(runs[0])
    assert registry.active_count("alice") == 2
    assert registry.active_total() == 3


def test_a_finished_run_is_kept_for_resume_with_its_events() -> None:
    registry = RunRegistry(retention_s=60)
    run = machine()
    registry.add(run)
    run.start("m")
    run.think("t")
    run.execute_tool("calculator", {"expression": "1+1"})
    run.complete_tool(ok=True, result=2)
    run.succeed("1+1 = 2")
    wires = registry.finished(run)
    kept = registry.get("run_1", "alice")
    assert isinstance(kept, FinishedRun)
    assert kept.wires == wires == tuple(run.wires_after(0))
    assert kept.finished
    assert [json.loads(w)["seq"] for w in kept.wires_after(3)] == [4, 5]
    assert registry.get("run_1", "bob") is None


def test_finished_runs_leave_nothing_for_the_garbage_collector_to_track() -> None:
    registry = RunRegistry(retention_s=60)
    gc.collect()
    before = len(gc.get_objects())
    for index in range(1000):
        run = machine(f"run_{index}")
        registry.add(run)
        run.start(None)
        run.think("t")
        run.succeed("a")
        registry.finished(run)
    del run
    gc.collect()  # tuples of untracked objects are untracked when a collection sees them
    gc.collect()
    assert len(gc.get_objects()) - before < 50
    assert len(registry) == 1000


def test_registry_refuses_to_finish_a_run_that_has_not_finished() -> None:
    registry = RunRegistry(retention_s=60)
    run = machine()
    registry.add(run)
    with pytest.raises(RunStateError):
        registry.finished(run)


def test_finished_runs_stay_resumable_for_the_retention_then_expire() -> None:
    clock = FakeClock()
    registry = RunRegistry(retention_s=60, monotonic=clock)
    run = machine()
    registry.add(run)
    run.start(None)
    run.cancel()
    registry.finished(run)
    clock.now += 59.9
    kept = registry.get("run_1", "alice")
    assert kept == FinishedRun("run_1", "alice", tuple(run.wires_after(0)))
    clock.now += 0.2
    assert registry.get("run_1", "alice") is None
    assert len(registry) == 0


async def test_the_agent_runs_every_step_and_joins_the_answers() -> None:
    run = machine()
    events = [run.start("m")]
    slept: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        slept.append(seconds)

    await drive(
        run,
        parse_steps("calc 2*3; search json; sleep 20; hi there"),
        events.append,
        sleep=fake_sleep,
    )
    assert slept == [0.02]
    assert kinds(events) == ["agent_started"] + [
        "agent_thinking",
        "tool_executing",
        "tool_completed",
    ] * 3 + ["agent_thinking", "agent_completed"]
    assert events[-1].payload == {
        "status": "succeeded",
        "answer": "2*3 = 6; found 1 results for json; slept 20 ms; hi there",
    }


async def test_a_failed_tool_ends_the_run_at_once() -> None:
    run = machine()
    events = [run.start(None)]
    await drive(run, parse_steps("calc 1/0; calc 1+1"), events.append)
    assert kinds(events) == [
        "agent_started",
        "agent_thinking",
        "tool_executing",
        "tool_completed",
        "agent_completed",
    ]
    assert events[-1].payload["status"] == "failed"
    assert "division by zero" in events[-1].payload["error"]


async def test_a_message_with_no_steps_thinks_once_and_succeeds_with_an_empty_answer() -> None:
    run = machine()
    events = [run.start(None)]
    await drive(run, parse_steps(" ; "), events.append)
    assert kinds(events) == ["agent_started", "agent_thinking", "agent_completed"]
    assert events[-1].payload == {"status": "succeeded", "answer": ""}


async def test_cancelling_the_driver_during_sleep_interrupts_the_tool() -> None:
    run = RunMachine(run_id="run_1", thread_id="t", user_id="alice")
    events = [run.start(None)]
    tool_started = asyncio.Event()

    def emit(event: RunEvent) -> None:
        events.append(event)
        if event.type is EventType.TOOL_EXECUTING:
            tool_started.set()

    task = asyncio.create_task(drive(run, parse_steps("sleep 30000; calc 1"), emit))
    await asyncio.wait_for(tool_started.wait(), 5)
    task.cancel()
    await asyncio.wait_for(task, 5)
    assert not task.cancelled()  # the driver turned cancellation into events
    assert kinds(events)[-2:] == ["tool_completed", "agent_completed"]
    assert events[-2].payload["ok"] is False
    assert events[-2].payload["duration_ms"] < 5000
    assert events[-1].payload == {"status": "cancelled"}


async def test_run_now_and_drive_produce_the_same_events_for_instant_steps() -> None:
    content = "calc 2*3; search json; hi; calc 1/0; never"
    now_run, driven = machine("run_a"), machine("run_a")
    now_events = [now_run.start("m")]
    driven_events = [driven.start("m")]
    run_now(now_run, parse_steps(content), now_events.append)
    await drive(driven, parse_steps(content), driven_events.append)
    strip = [
        (e.type, e.payload | {"duration_ms": 0} if "duration_ms" in e.payload else e.payload)
        for e in now_events
    ]
    assert strip == [
        (e.type, e.payload | {"duration_ms": 0} if "duration_ms" in e.payload else e.payload)
        for e in driven_events
    ]
    assert now_events[-1].payload["status"] == "failed"


def test_only_short_scripts_without_sleep_run_now() -> None:
    assert can_run_now(parse_steps("calc 1; search x; hello; fail y"))
    assert can_run_now([])
    assert not can_run_now(parse_steps("calc 1; sleep 0"))
    assert not can_run_now(parse_steps(";".join(["hi"] * (MAX_STEPS_RUN_NOW + 1))))
    run = machine()
    run.start(None)
    with pytest.raises(ValueError, match="drive"):
        run_now(run, parse_steps("sleep 5"), lambda event: None)

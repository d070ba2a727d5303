"""The scripted agent: drives one ``RunMachine`` through its steps, with real waiting for
``sleep``. It knows nothing of sockets: every event goes to the ``emit`` callback.

``drive`` is the general driver, run as a task. Cancelling that task is how a run is
cancelled: the ``CancelledError`` is turned into the run's closing events (a tool in flight
first gets ``tool_completed`` with ``ok: false``), then the coroutine returns normally.

``run_now`` runs a short script with no ``sleep`` at once, synchronously: nothing could
interleave with it anyway, and it saves a task per run on the hot path.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence

from agent_backend.runs import RunEvent, RunMachine
from agent_backend.steps import Step, Tool
from agent_backend.tools import ToolOutcome, run_instant_tool, sleep_duration, sleep_outcome

Emit = Callable[[RunEvent], None]
Sleep = Callable[[float], Awaitable[None]]

# A script longer than this runs as a task that yields between steps, so one long message
# cannot hold the event loop.
MAX_STEPS_RUN_NOW = 32


def can_run_now(steps: Sequence[Step]) -> bool:
    """Whether ``run_now`` may run these steps: few, and none that waits."""
    return len(steps) <= MAX_STEPS_RUN_NOW and all(s.tool is not Tool.SLEEP for s in steps)


def run_now(machine: RunMachine, steps: Sequence[Step], emit: Emit) -> None:
    """Run steps that take no time on a started ``machine``, to completion."""
    if not can_run_now(steps):
        raise ValueError("these steps wait or are too many: use drive()")
    if not steps:
        _nothing_to_do(machine, emit)
        return
    answers: list[str] = []
    for number, step in enumerate(steps, start=1):
        answer = _instant_step(machine, step, number, len(steps), emit)
        if answer is None:
            return
        answers.append(answer)
    emit(machine.succeed("; ".join(answers)))


async def drive(
    machine: RunMachine, steps: Sequence[Step], emit: Emit, *, sleep: Sleep = asyncio.sleep
) -> None:
    """Run ``steps`` on a started ``machine`` until it completes or is cancelled."""
    try:
        await _run_steps(machine, steps, emit, sleep)
    except asyncio.CancelledError:
        for event in machine.cancel():
            emit(event)


async def _run_steps(machine: RunMachine, steps: Sequence[Step], emit: Emit, sleep: Sleep) -> None:
    if not steps:
        _nothing_to_do(machine, emit)
        return
    answers: list[str] = []
    total = len(steps)
    for number, step in enumerate(steps, start=1):
        delay = sleep_duration(step) if step.tool is Tool.SLEEP else None
        if delay is None:
            answer = _instant_step(machine, step, number, total, emit)
        else:
            emit(machine.think(_thought(step, number, total)))
            emit(machine.execute_tool(Tool.SLEEP.value, step.args))
            await sleep(delay)
            answer = _complete_tool(machine, step, sleep_outcome(round(delay * 1000)), emit)
        if answer is None:
            return
        answers.append(answer)
        if number < total:
            # Long scripts yield between steps so other connections (and a cancel) get a turn.
            await asyncio.sleep(0)
    emit(machine.succeed("; ".join(answers)))


def _nothing_to_do(machine: RunMachine, emit: Emit) -> None:
    emit(machine.think("nothing to do: the message has no steps"))
    emit(machine.succeed(""))


def _thought(step: Step, number: int, total: int) -> str:
    return f"step {number} of {total}: {step.text}"


def _instant_step(
    machine: RunMachine, step: Step, number: int, total: int, emit: Emit
) -> str | None:
    """Think, then call the step's tool if any; the step answer, or ``None`` if the run failed."""
    emit(machine.think(_thought(step, number, total)))
    if step.tool is None:
        return step.text
    emit(machine.execute_tool(step.tool.value, step.args))
    return _complete_tool(machine, step, run_instant_tool(step), emit)


def _complete_tool(machine: RunMachine, step: Step, outcome: ToolOutcome, emit: Emit) -> str | None:
    assert step.tool is not None
    if outcome.ok:
        emit(machine.complete_tool(ok=True, result=outcome.result))
        return outcome.answer
    emit(machine.complete_tool(ok=False, error=outcome.error))
    emit(machine.fail(f"tool {step.tool.value} failed: {outcome.error}"))
    return None

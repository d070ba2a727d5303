"""The scripted agent: drives one ``RunMachine`` through its steps, with real waiting for
``sleep``. It knows nothing of sockets: every event goes to the ``emit`` callback.

Cancelling the task that runs ``drive`` is how a run is cancelled: the ``CancelledError`` is
turned into the run's closing events (a tool in flight first gets ``tool_completed`` with
``ok: false``), then the coroutine returns normally.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence

from agent_backend.runs import RunEvent, RunMachine
from agent_backend.steps import Step, Tool
from agent_backend.tools import run_instant_tool, sleep_duration, sleep_outcome

Emit = Callable[[RunEvent], None]
Sleep = Callable[[float], Awaitable[None]]


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
        emit(machine.think("nothing to do: the message has no steps"))
        emit(machine.succeed(""))
        return
    answers: list[str] = []
    total = len(steps)
    for number, step in enumerate(steps, start=1):
        emit(machine.think(f"step {number} of {total}: {step.text}"))
        if step.tool is None:
            answers.append(step.text)
            continue
        emit(machine.execute_tool(step.tool.value, step.args))
        delay = sleep_duration(step) if step.tool is Tool.SLEEP else None
        if delay is None:
            outcome = run_instant_tool(step)
        else:
            await sleep(delay)
            outcome = sleep_outcome(round(delay * 1000))
        if outcome.ok:
            emit(machine.complete_tool(ok=True, result=outcome.result))
        else:
            emit(machine.complete_tool(ok=False, error=outcome.error))
            emit(machine.fail(f"tool {step.tool.value} failed: {outcome.error}"))
            return
        answers.append(outcome.answer)
        if number < total:
            # Long scripts yield between steps so other connections (and a cancel) get a turn.
            await asyncio.sleep(0)
    emit(machine.succeed("; ".join(answers)))

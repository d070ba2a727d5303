"""Pacing: the connection cap holds across processes, the buckets pace, nothing binds a loop."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from test_framework.client.pacing import Pacer, PacingTimeoutError, TokenBucket
from test_framework.profiles import Pacing

ROOT = Path(__file__).resolve().parents[2]

# Runs in a child process: hold `holders` paced connections at once, each for `hold_s`, and
# write every connection's (enter, exit) monotonic times (one clock for all processes on Linux).
HOLDER = textwrap.dedent(
    """
    import asyncio, json, sys, time
    from pathlib import Path
    from test_framework.client.pacing import Pacer
    from test_framework.profiles import Pacing

    shared, out, cap, holders, hold_s = Path(sys.argv[1]), sys.argv[2], *map(float, sys.argv[3:])
    pacer = Pacer(Pacing(workers=1, max_connections=int(cap), connections_per_s=0,
                         messages_per_s=0), shared)

    async def one() -> tuple[float, float]:
        async with pacer.connection():
            entered = time.monotonic()
            await asyncio.sleep(hold_s)
            return entered, time.monotonic()

    async def main() -> None:
        spans = await asyncio.gather(*(one() for _ in range(int(holders))))
        Path(out).write_text(json.dumps(spans))

    asyncio.run(main())
    """
)

# Runs in a child process: take `count` tokens from the shared message bucket.
TAKER = textwrap.dedent(
    """
    import asyncio, json, sys, time
    from pathlib import Path
    from test_framework.client.pacing import Pacer
    from test_framework.profiles import Pacing

    shared, out = Path(sys.argv[1]), sys.argv[2]
    rate, count, start = float(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5])
    pacer = Pacer(Pacing(workers=1, max_connections=0, connections_per_s=0,
                         messages_per_s=rate), shared)

    async def main() -> None:
        await asyncio.sleep(max(start - time.monotonic(), 0))  # start together
        stamps = []
        for _ in range(count):
            await pacer.message()
            stamps.append(time.monotonic())
        Path(out).write_text(json.dumps(stamps))

    asyncio.run(main())
    """
)


def pacing(**limits: float) -> Pacing:
    values: dict[str, float] = {
        "workers": 1,
        "max_connections": 0,
        "connections_per_s": 0,
        "messages_per_s": 0,
    }
    values.update(limits)
    return Pacing(
        workers=int(values["workers"]),
        max_connections=int(values["max_connections"]),
        connections_per_s=values["connections_per_s"],
        messages_per_s=values["messages_per_s"],
    )


def max_overlap(spans: list[tuple[float, float]]) -> int:
    """The most spans open at one instant (an exit at the same instant as an entry comes first)."""
    events = sorted([(start, 1) for start, _ in spans] + [(end, -1) for _, end in spans])
    current = peak = 0
    for _, change in events:
        current += change
        peak = max(peak, current)
    return peak


def children(script: str, *argv_sets: list[str]) -> list[subprocess.Popen[bytes]]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return [
        subprocess.Popen([sys.executable, "-c", script, *argv], env=env, cwd=ROOT)
        for argv in argv_sets
    ]


def wait_all(processes: list[subprocess.Popen[bytes]]) -> None:
    for process in processes:
        assert process.wait(timeout=120) == 0


def test_the_connection_cap_holds_across_processes(tmp_path: Path) -> None:
    outs = [tmp_path / f"spans-{i}.json" for i in range(4)]
    # 4 processes x 5 connections each, against a cap of 3 for all of them together.
    wait_all(children(HOLDER, *[[str(tmp_path), str(out), "3", "5", "0.15"] for out in outs]))
    spans = [(start, end) for out in outs for start, end in json.loads(out.read_text())]
    assert len(spans) == 20
    assert max_overlap(spans) == 3


def test_without_a_shared_folder_the_cap_holds_within_the_process() -> None:
    pacer = Pacer(pacing(max_connections=2))
    inside = 0
    peak = 0

    async def hold() -> None:
        nonlocal inside, peak
        async with pacer.connection():
            inside += 1
            peak = max(peak, inside)
            await asyncio.sleep(0.02)
            inside -= 1

    async def main() -> None:
        await asyncio.gather(*(hold() for _ in range(8)))

    asyncio.run(main())
    assert peak == 2


def test_one_pacer_serves_tests_on_different_event_loops(tmp_path: Path) -> None:
    # pytest-asyncio gives each test its own loop; a pacer shared by tests must not bind one.
    for shared in (None, tmp_path):
        pacer = Pacer(pacing(max_connections=1, connections_per_s=100, messages_per_s=100), shared)

        async def use(pacer: Pacer = pacer) -> None:
            async with pacer.connection():
                await pacer.message()

        for _ in range(3):
            asyncio.run(use())


def test_a_slot_held_by_a_killed_process_is_freed(tmp_path: Path) -> None:
    (holder,) = children(HOLDER, [str(tmp_path), str(tmp_path / "never.json"), "1", "1", "600"])
    pacer = Pacer(pacing(max_connections=1), tmp_path, slot_wait_s=0.2)

    async def take() -> None:
        async with pacer.connection():
            pass

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:  # until the child holds the only slot
        try:
            asyncio.run(take())
        except PacingTimeoutError:
            break
        time.sleep(0.05)
    else:
        pytest.fail("the child never took the slot")
    holder.send_signal(signal.SIGKILL)
    holder.wait(30)
    asyncio.run(take())


async def test_waiting_too_long_for_a_slot_fails_with_a_clear_message(tmp_path: Path) -> None:
    pacer = Pacer(pacing(max_connections=1), tmp_path, slot_wait_s=0.1)
    async with pacer.connection():
        with pytest.raises(PacingTimeoutError, match="one of 1 connection slots"):
            async with pacer.connection():
                pass
    async with pacer.connection():  # free again afterwards
        pass


async def test_a_token_bucket_paces_beyond_its_burst() -> None:
    bucket = TokenBucket(rate=50, capacity=1)
    started = time.monotonic()
    for _ in range(11):
        await bucket.take()
    # The first token is free; ten more at 50/s take at least 0.2 s.
    assert time.monotonic() - started >= 0.18


async def test_a_rate_of_zero_never_waits() -> None:
    bucket = TokenBucket(rate=0)
    assert [await bucket.take() for _ in range(1000)] == [0.0] * 1000


def test_the_message_rate_is_shared_by_all_processes(tmp_path: Path) -> None:
    outs = [tmp_path / f"stamps-{i}.json" for i in range(2)]
    start = time.monotonic() + 1.0
    # 2 processes x 40 messages at 40/s for both together, bursts of 40. Each process alone
    # would be done after its own burst; together the second 40 must wait about a second.
    argv = [[str(tmp_path), str(out), "40", "40", str(start)] for out in outs]
    wait_all(children(TAKER, *argv))
    stamps = sorted(stamp for out in outs for stamp in json.loads(out.read_text()))
    assert len(stamps) == 80
    assert stamps[-1] - stamps[0] >= 0.9
    # At no moment have more tokens been granted than one burst plus the rate since.
    for count, stamp in enumerate(stamps, start=1):
        assert count <= 40 + 40 * (stamp - stamps[0]) + 1

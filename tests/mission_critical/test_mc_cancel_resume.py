"""Cancel a run, and resume its events from any point, on the same or another connection."""

from __future__ import annotations

import time

import pytest
from mc_rules import assert_seq, assert_well_formed, tool_pairs

pytestmark = pytest.mark.mission_critical

# Long enough that only a cancel ends it within the test's bounds.
LONG_SLEEP = "sleep 30000"
STEPS = "calc 1 + 1; search events; sleep 5; calc 2 * 3"


async def test_cancel_interrupts_a_tool_in_flight_which_completes_with_ok_false_first(
    mc_connect,
):
    client = await mc_connect()
    run_id = await client.start_run(LONG_SLEEP)
    executing = await client.wait_for_event(run_id, "tool_executing")
    cancelled_at = time.monotonic()
    await client.cancel(run_id)
    result = await client.collect(run_id)
    assert time.monotonic() - cancelled_at < 10, "the sleep was not interrupted"
    assert result.types[-2:] == ["tool_completed", "agent_completed"]
    [(call, done)] = tool_pairs(result)
    assert done["call_id"] == executing["payload"]["call_id"] == call["call_id"]
    assert done["ok"] is False
    assert isinstance(done["error"], str)


async def test_a_cancelled_run_ends_with_status_cancelled_and_keeps_the_order_rules(mc_connect):
    client = await mc_connect()
    run_id = await client.start_run(f"calc 1 + 1; {LONG_SLEEP}; calc 2 + 2")
    await client.wait_for_event(run_id, "tool_completed")
    await client.wait_for_event(run_id, "tool_executing")
    await client.cancel(run_id)
    result = await client.collect(run_id)
    assert_well_formed(result, status="cancelled")
    assert [call["tool"] for call, _ in tool_pairs(result)] == ["calculator", "sleep"]


async def test_cancelling_one_run_leaves_the_others_on_the_connection_running(mc_connect):
    client = await mc_connect()
    doomed = await client.start_run(LONG_SLEEP)
    survivor = await client.start_run("sleep 200; calc 20 + 22")
    await client.wait_for_event(doomed, "tool_executing")
    await client.cancel(doomed)
    assert (await client.collect(doomed)).status == "cancelled"
    result = await client.collect(survivor)
    assert_well_formed(result, status="succeeded")
    assert result.answer == "slept 200 ms; 20 + 22 = 42"


async def test_another_connection_of_the_same_user_can_cancel_the_run(mc_connect, mc_user):
    user = mc_user()
    starter = await mc_connect(user)
    other = await mc_connect(user)
    run_id = await starter.start_run(LONG_SLEEP)
    await starter.wait_for_event(run_id, "tool_executing")
    await other.cancel(run_id)
    result = await starter.collect(run_id)
    assert_well_formed(result, status="cancelled")
    await other.expect_no_message(for_s=0.2)


async def test_cancel_of_an_unknown_run_gets_unknown_run_with_the_run_id_as_ref(mc_connect):
    client = await mc_connect()
    await client.cancel("run-that-never-existed")
    error = await client.recv_error()
    assert error["code"] == "unknown_run"
    assert error["ref"] == "run-that-never-existed"
    assert isinstance(error["message"], str)


@pytest.mark.parametrize("point", ["start", "first", "middle", "before-last"])
async def test_resume_replays_the_events_after_the_given_seq_in_order(mc_connect, point):
    client = await mc_connect()
    original = await client.run(STEPS)
    last = len(original.events)
    after_seq = {"start": 0, "first": 1, "middle": last // 2, "before-last": last - 1}[point]
    await client.resume(original.run_id, after_seq)
    replay = await client.collect(original.run_id)
    assert list(replay.events) == list(original.events[after_seq:])
    assert_seq(replay.events, first=after_seq + 1)


async def test_resume_after_the_last_seq_replays_nothing(mc_connect):
    client = await mc_connect()
    original = await client.run(STEPS)
    await client.resume(original.run_id, len(original.events))
    await client.expect_no_events(original.run_id, for_s=0.5)
    assert (await client.ping("still open"))["nonce"] == "still open"


async def test_a_second_connection_of_the_same_user_resumes_a_finished_run(mc_connect, mc_user):
    user = mc_user()
    first = await mc_connect(user)
    original = await first.run(STEPS)
    second = await mc_connect(user)
    await second.resume(original.run_id, 2)
    replay = await second.collect(original.run_id)
    assert list(replay.events) == list(original.events[2:])


async def test_a_second_connection_resumes_a_live_run_and_follows_it_to_the_end(
    mc_connect, mc_user
):
    user = mc_user()
    first = await mc_connect(user)
    run_id = await first.start_run("calc 1 + 1; sleep 400; calc 2 + 2")
    await first.wait_for_event(run_id, "tool_completed")
    second = await mc_connect(user)
    await second.resume(run_id, 0)
    followed = await second.collect(run_id)
    original = await first.collect(run_id)
    assert_well_formed(followed, status="succeeded")
    assert list(followed.events) == list(original.events)


async def test_resume_of_a_live_run_from_the_middle_has_no_gap_and_no_repeat(mc_connect, mc_user):
    user = mc_user()
    first = await mc_connect(user)
    run_id = await first.start_run("calc 1 + 1; sleep 300; calc 3 + 3")
    await first.wait_for_event(run_id, "tool_executing")
    second = await mc_connect(user)
    await second.resume(run_id, 2)
    followed = await second.collect(run_id)
    assert_seq(followed.events, first=3)
    assert followed.types[-1] == "agent_completed"
    assert list(followed.events) == list((await first.collect(run_id)).events[2:])


async def test_resume_of_an_unknown_run_gets_unknown_run_with_the_run_id_as_ref(mc_connect):
    client = await mc_connect()
    await client.resume("run-that-never-existed", 0)
    error = await client.recv_error()
    assert error["code"] == "unknown_run"
    assert error["ref"] == "run-that-never-existed"

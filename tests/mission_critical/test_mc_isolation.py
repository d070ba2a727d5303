"""Whose events go where: users are isolated whatever the thread_id; runs on one connection
are independent."""

from __future__ import annotations

import asyncio

import pytest
from mc_rules import assert_well_formed

pytestmark = pytest.mark.mission_critical


async def test_users_on_the_same_thread_id_never_see_each_others_events(mc_connect, mc_user):
    alice = await mc_connect(mc_user("alice"))
    bob = await mc_connect(mc_user("bob"))
    thread_id = "shared-thread-1"
    alice_run, bob_run = await asyncio.gather(
        alice.start_run("sleep 150; calc 1 + 1", thread_id=thread_id),
        bob.start_run("sleep 150; calc 2 + 2", thread_id=thread_id),
    )
    alice_result, bob_result = await asyncio.gather(alice.collect(alice_run), bob.collect(bob_run))
    assert_well_formed(alice_result, thread_id=thread_id, status="succeeded")
    assert_well_formed(bob_result, thread_id=thread_id, status="succeeded")
    await asyncio.gather(alice.expect_no_events(), bob.expect_no_events())
    # In both directions: each saw its own run and nothing else.
    assert alice.run_ids_seen == {alice_run}
    assert bob.run_ids_seen == {bob_run}


async def test_many_concurrent_runs_of_two_users_on_one_thread_stay_apart(mc_connect, mc_user):
    alice = await mc_connect(mc_user("alice"))
    bob = await mc_connect(mc_user("bob"))
    thread_id = "shared-thread-2"
    alice_runs = await asyncio.gather(
        *(alice.start_run(f"sleep 50; calc {i} + 0", thread_id=thread_id) for i in range(3))
    )
    bob_runs = await asyncio.gather(
        *(bob.start_run(f"sleep 50; calc {i} * 1", thread_id=thread_id) for i in range(3))
    )
    results = await asyncio.gather(
        *(alice.collect(run) for run in alice_runs), *(bob.collect(run) for run in bob_runs)
    )
    for result in results:
        assert_well_formed(result, thread_id=thread_id, status="succeeded")
    await asyncio.gather(alice.expect_no_events(), bob.expect_no_events())
    assert alice.run_ids_seen == set(alice_runs)
    assert bob.run_ids_seen == set(bob_runs)


@pytest.mark.parametrize("action", ["cancel", "resume"])
async def test_another_users_run_id_gets_unknown_run(mc_connect, mc_user, action):
    owner = await mc_connect(mc_user("owner"))
    intruder = await mc_connect(mc_user("intruder"))
    run_id = await owner.start_run("sleep 300; calc 5 + 5")
    if action == "cancel":
        await intruder.cancel(run_id)
    else:
        await intruder.resume(run_id, 0)
    error = await intruder.recv_error()
    assert error["code"] == "unknown_run"
    assert error["ref"] == run_id
    # The run is untouched and the intruder saw none of it.
    result = await owner.collect(run_id)
    assert_well_formed(result, status="succeeded")
    assert result.answer == "slept 300 ms; 5 + 5 = 10"
    assert intruder.run_ids_seen == set()


async def test_another_users_unknown_run_answer_matches_a_run_that_never_existed(
    mc_connect, mc_user
):
    owner = await mc_connect(mc_user("owner"))
    intruder = await mc_connect(mc_user("intruder"))
    finished = await owner.run("calc 1 + 1")
    await intruder.resume(finished.run_id, 0)
    foreign = await intruder.recv_error()
    await intruder.resume("run-that-never-existed", 0)
    missing = await intruder.recv_error()
    # Indistinguishable: same code, and the message gives nothing away.
    assert foreign["code"] == missing["code"] == "unknown_run"
    assert foreign["message"].replace(finished.run_id, "<run>") == missing["message"].replace(
        "run-that-never-existed", "<run>"
    )


async def test_a_second_connection_of_the_same_user_gets_no_events_without_resume(
    mc_connect, mc_user
):
    user = mc_user()
    starter = await mc_connect(user)
    bystander = await mc_connect(user)
    result = await starter.run("sleep 50; calc 3 + 4")
    assert result.status == "succeeded"
    await bystander.expect_no_events(for_s=0.3)
    assert bystander.run_ids_seen == set()


async def test_concurrent_runs_on_one_connection_each_complete_with_their_own_events(
    mc_connect,
):
    client = await mc_connect()
    contents = ["sleep 120; calc 1 + 1", "calc 2 + 2; sleep 60", "search agent; sleep 30", "hi"]
    run_ids = await asyncio.gather(
        *(client.start_run(content, thread_id=f"thread-{i}") for i, content in enumerate(contents))
    )
    assert len(set(run_ids)) == len(contents)
    results = await asyncio.gather(*(client.collect(run_id) for run_id in run_ids))
    for i, result in enumerate(results):
        assert_well_formed(result, thread_id=f"thread-{i}", status="succeeded")
    assert results[0].answer == "slept 120 ms; 1 + 1 = 2"
    assert results[1].answer == "2 + 2 = 4; slept 60 ms"
    assert results[3].answer == "hi"

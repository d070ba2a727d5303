"""Run events: the envelope, the order rules, call_id pairing and seq, for 0, 1 and many tools."""

from __future__ import annotations

import time

import pytest
from mc_rules import (
    assert_call_pairing,
    assert_envelope,
    assert_order,
    assert_payload,
    assert_seq,
    assert_well_formed,
)

pytestmark = pytest.mark.mission_critical

RUNS = {
    "no-tool": "just think about it",
    "one-tool": "calc 6 * 7",
    "several-tools": "calc 1 + 1; search websocket; sleep 10; note to self; calc 2 ** 5",
}


@pytest.mark.parametrize("content", RUNS.values(), ids=RUNS.keys())
async def test_a_run_follows_the_order_rules(mc_connect, content):
    client = await mc_connect()
    result = await client.run(content)
    assert_order(result.events)
    assert result.status == "succeeded"


@pytest.mark.parametrize("content", RUNS.values(), ids=RUNS.keys())
async def test_seq_counts_from_one_without_gap_or_repeat(mc_connect, content):
    client = await mc_connect()
    result = await client.run(content)
    assert_seq(result.events)


@pytest.mark.parametrize("content", RUNS.values(), ids=RUNS.keys())
async def test_every_event_carries_the_envelope_and_its_payload_fields(mc_connect, content):
    client = await mc_connect()
    thread_id = "thread-envelope"
    before = time.time()
    result = await client.run(content, thread_id=thread_id)
    for event in result.events:
        assert_envelope(event, result.run_id, thread_id)
        assert_payload(event)
        # ts is Unix seconds: near this machine's clock (generous for a remote deployment).
        assert abs(event["ts"] - before) < 300, event


async def test_a_run_with_several_tools_pairs_every_call_id(mc_connect):
    client = await mc_connect()
    result = await client.run("calc 1 + 2; search agent; calc 3 * 3; sleep 5")
    assert_call_pairing(result.events)
    executing = result.payloads("tool_executing")
    assert [call["tool"] for call in executing] == ["calculator", "search", "calculator", "sleep"]
    assert len({call["call_id"] for call in executing}) == 4
    assert len(result.of_type("tool_completed")) == 4


async def test_a_run_without_tools_thinks_and_executes_nothing(mc_connect):
    client = await mc_connect()
    result = await client.run("tell me something")
    assert_well_formed(result, status="succeeded")
    assert result.of_type("agent_thinking")
    assert not result.of_type("tool_executing")
    assert not result.of_type("tool_completed")


async def test_agent_started_echoes_the_client_msg_id(mc_connect):
    client = await mc_connect()
    result = await client.run("hello", client_msg_id="my-message-42")
    assert result.events[0]["payload"]["client_msg_id"] == "my-message-42"


async def test_agent_started_has_a_null_client_msg_id_when_none_was_sent(mc_connect):
    client = await mc_connect()
    result = await client.run("hello", client_msg_id=None)
    assert result.events[0]["type"] == "agent_started"
    assert result.events[0]["payload"]["client_msg_id"] is None


async def test_every_run_gets_its_own_run_id_and_its_own_seq(mc_connect):
    client = await mc_connect()
    first = await client.run("calc 1 + 1", thread_id="same-thread")
    second = await client.run("calc 2 + 2", thread_id="same-thread")
    assert first.run_id != second.run_id
    assert_seq(first.events)
    assert_seq(second.events)


async def test_nothing_of_a_run_follows_its_agent_completed(mc_connect):
    client = await mc_connect()
    result = await client.run("calc 1 + 1; sleep 20; done")
    assert result.types[-1] == "agent_completed"
    await client.expect_no_events(result.run_id, for_s=0.3)
    assert client.events(result.run_id) == list(result.events)

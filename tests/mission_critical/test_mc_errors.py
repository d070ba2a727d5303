"""Errors that belong to no run, and the frames that close the connection."""

from __future__ import annotations

import asyncio
import json

import pytest
from mc_rules import assert_well_formed

pytestmark = pytest.mark.mission_critical

FRAME_LIMIT = 64 * 1024


def ping_frame(size: int) -> str:
    """A valid ``ping`` text frame of exactly ``size`` bytes (ASCII padding in the nonce)."""
    empty = json.dumps({"type": "ping", "nonce": ""})
    return json.dumps({"type": "ping", "nonce": "x" * (size - len(empty))})


NOT_JSON_OBJECTS = ["not json at all", "{", '{"type": "ping"', "[1, 2]", '"ping"', "42", "null"]

INVALID_MESSAGES = {
    "user_message-without-thread_id": {"type": "user_message", "content": "hi"},
    "user_message-without-content": {"type": "user_message", "thread_id": "t"},
    "empty-thread_id": {"type": "user_message", "thread_id": "", "content": "hi"},
    "65-char-thread_id": {"type": "user_message", "thread_id": "t" * 65, "content": "hi"},
    "empty-content": {"type": "user_message", "thread_id": "t", "content": ""},
    "8001-char-content": {"type": "user_message", "thread_id": "t", "content": "c" * 8001},
    "content-not-a-string": {"type": "user_message", "thread_id": "t", "content": 5},
    "thread_id-not-a-string": {"type": "user_message", "thread_id": 7, "content": "hi"},
    "client_msg_id-not-a-string": {
        "type": "user_message",
        "thread_id": "t",
        "content": "hi",
        "client_msg_id": 9,
    },
    "cancel-without-run_id": {"type": "cancel"},
    "cancel-run_id-not-a-string": {"type": "cancel", "run_id": 12},
    "resume-without-after_seq": {"type": "resume", "run_id": "r"},
    "resume-negative-after_seq": {"type": "resume", "run_id": "r", "after_seq": -1},
    "resume-after_seq-a-string": {"type": "resume", "run_id": "r", "after_seq": "3"},
    "resume-after_seq-a-float": {"type": "resume", "run_id": "r", "after_seq": 1.5},
    "resume-after_seq-a-boolean": {"type": "resume", "run_id": "r", "after_seq": True},
}


@pytest.mark.parametrize("frame", NOT_JSON_OBJECTS, ids=repr)
async def test_a_frame_that_is_not_a_json_object_gets_invalid_json(mc_connect, frame):
    client = await mc_connect()
    await client.send_text(frame)
    error = await client.recv_error()
    assert error["code"] == "invalid_json"
    assert error["ref"] is None
    assert isinstance(error["message"], str)


@pytest.mark.parametrize("message", INVALID_MESSAGES.values(), ids=INVALID_MESSAGES.keys())
async def test_a_known_type_with_missing_or_bad_fields_gets_invalid_message(mc_connect, message):
    client = await mc_connect()
    await client.send_json(message)
    error = await client.recv_error()
    assert error["code"] == "invalid_message"
    assert not client.run_ids_seen, "an invalid message must not start a run"


async def test_an_invalid_user_message_echoes_its_client_msg_id_in_ref(mc_connect):
    client = await mc_connect()
    await client.send_json(
        {"type": "user_message", "thread_id": "", "content": "hi", "client_msg_id": "msg-bad-1"}
    )
    error = await client.recv_error()
    assert error["code"] == "invalid_message"
    assert error["ref"] == "msg-bad-1"


async def test_the_longest_thread_id_and_content_start_a_run(mc_connect):
    client = await mc_connect()
    result = await client.run("x" * 8000, thread_id="t" * 64)
    assert_well_formed(result, thread_id="t" * 64, status="succeeded")
    assert result.answer == "x" * 8000


@pytest.mark.parametrize("kind", ["subscribe", "agent_started", "PING"])
async def test_an_unknown_type_gets_unknown_type(mc_connect, kind):
    client = await mc_connect()
    await client.send_json({"type": kind, "run_id": "r", "thread_id": "t"})
    error = await client.recv_error()
    assert error["code"] == "unknown_type"


async def test_the_connection_keeps_serving_after_every_kind_of_error(mc_connect):
    client = await mc_connect()
    await client.send_text("nope")
    await client.send_json({"type": "user_message"})
    await client.send_json({"type": "teleport"})
    await client.cancel("no-such-run")
    codes = [(await client.recv_error())["code"] for _ in range(4)]
    assert codes == ["invalid_json", "invalid_message", "unknown_type", "unknown_run"]
    assert (await client.run("calc 1 + 1")).status == "succeeded"


async def test_more_than_20_active_runs_of_one_user_get_too_many_runs(mc_connect, mc_user):
    # A fresh user: the limit is per user, and other tests' runs must not count.
    client = await mc_connect(mc_user())
    run_ids = await asyncio.gather(*(client.start_run("sleep 20000") for _ in range(20)))
    await client.send_user_message("one too many", client_msg_id="msg-21")
    error = await client.recv_error()
    assert error["code"] == "too_many_runs"
    assert error["ref"] == "msg-21"
    for run_id in run_ids:
        await client.cancel(run_id)
    results = await asyncio.gather(*(client.collect(run_id) for run_id in run_ids))
    assert {result.status for result in results} == {"cancelled"}
    # Once runs have ended, the user may start runs again.
    assert (await client.run("calc 1 + 1")).status == "succeeded"


async def test_the_run_limit_counts_the_users_runs_on_all_connections(mc_connect, mc_user):
    user = mc_user()
    first, second, third = [await mc_connect(user) for _ in range(3)]
    runs = [
        *await asyncio.gather(*(first.start_run("sleep 20000") for _ in range(10))),
        *await asyncio.gather(*(second.start_run("sleep 20000") for _ in range(10))),
    ]
    await third.send_user_message("the 21st", client_msg_id="msg-21st")
    error = await third.recv_error()
    assert error["code"] == "too_many_runs"
    assert error["ref"] == "msg-21st"
    for client, run_ids in ((first, runs[:10]), (second, runs[10:])):
        for run_id in run_ids:
            await client.cancel(run_id)
        for run_id in run_ids:
            assert (await client.collect(run_id)).status == "cancelled"


async def test_more_than_100_messages_in_a_second_get_rate_limited(mc_connect):
    client = await mc_connect()
    burst = 250  # Even split over two one-second windows, one of them gets more than 100.
    await client.send_burst(json.dumps({"type": "ping", "nonce": i}) for i in range(burst))
    replies = await client.messages_until_quiet(quiet_s=0.5)
    pongs = [reply for reply in replies if reply["type"] == "pong"]
    limited = [reply for reply in replies if reply.get("code") == "rate_limited"]
    assert limited, f"no rate_limited error among {len(replies)} replies"
    assert len(pongs) < burst, "every message was answered: none was dropped"
    assert len(pongs) + len(limited) <= burst
    # The connection stays open and serves again once the second has passed.
    await asyncio.sleep(1.1)
    assert (await client.ping("after"))["nonce"] == "after"


async def test_a_text_frame_of_exactly_64_kib_is_accepted(mc_connect):
    client = await mc_connect()
    frame = ping_frame(FRAME_LIMIT)
    assert len(frame.encode()) == FRAME_LIMIT
    await client.send_text(frame)
    pong = await client.recv()
    assert pong["type"] == "pong"
    assert len(pong["nonce"]) == FRAME_LIMIT - len(json.dumps({"type": "ping", "nonce": ""}))


async def test_a_text_frame_over_64_kib_closes_the_connection_with_1009(mc_connect):
    client = await mc_connect()
    await client.send_text(ping_frame(FRAME_LIMIT + 1))
    assert await client.wait_closed() == 1009


async def test_a_binary_frame_closes_the_connection_with_1003(mc_connect):
    client = await mc_connect()
    await client.send_bytes(b'{"type": "ping"}')
    assert await client.wait_closed() == 1003

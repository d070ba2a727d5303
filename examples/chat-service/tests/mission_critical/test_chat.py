"""The chat service's mission-critical behaviour, in any mode the harness runs.

Only the harness's generic fixtures are used: ``mc_websocket`` (a socket already authenticated
with the deployment's bearer token), ``mc_http`` and ``mc_endpoints``. Room names are fresh per
test, because a staging deployment is shared with other runs.
"""

from __future__ import annotations

import uuid
from typing import Any, Protocol

import pytest

pytestmark = [pytest.mark.mission_critical, pytest.mark.asyncio]


class ChatSocket(Protocol):
    async def send_json(self, value: Any) -> None: ...
    async def recv_json(self) -> Any: ...


def fresh_room() -> str:
    return f"mc-{uuid.uuid4().hex[:16]}"


async def join(ws: ChatSocket, room: str) -> str:
    """Join ``room``; the member id the service gave this socket."""
    await ws.send_json({"op": "join", "room": room, "id": "j"})
    joined = await ws.recv_json()
    assert joined["event"] == "joined", joined
    assert (joined["room"], joined["id"]) == (room, "j"), joined
    member: str = joined["you"]
    return member


async def test_health_answers_200_with_json_status_ok(mc_http: Any) -> None:
    response = await mc_http.get("/healthz")
    assert response.status == 200, response.text
    assert response.json()["status"] == "ok"


async def test_the_socket_is_refused_without_the_right_bearer_token(mc_http: Any) -> None:
    missing = await mc_http.get("/ws")
    wrong = await mc_http.get("/ws", headers={"Authorization": "Bearer not-the-token"})
    for response in (missing, wrong):
        assert response.status == 401, response.text
        assert response.json() == {"error": "unauthorized"}
        assert response.headers["www-authenticate"].startswith("Bearer")


async def test_a_message_is_accepted_then_delivered_to_its_sender(mc_websocket: Any) -> None:
    ws = await mc_websocket()
    room = fresh_room()
    me = await join(ws, room)
    await ws.send_json({"op": "say", "room": room, "text": "hi", "id": "c1"})
    assert await ws.recv_json() == {"event": "accepted", "room": room, "seq": 1, "id": "c1"}
    assert await ws.recv_json() == {
        "event": "message",
        "room": room,
        "seq": 1,
        "text": "hi",
        "from": me,
    }


async def test_every_member_of_the_room_gets_the_message_and_no_one_else(
    mc_websocket: Any,
) -> None:
    alice, bob, carol = await mc_websocket(), await mc_websocket(), await mc_websocket()
    room, elsewhere = fresh_room(), fresh_room()
    sender = await join(alice, room)
    await join(bob, room)
    await join(carol, elsewhere)
    await alice.send_json({"op": "say", "room": room, "text": "to the room", "id": "a1"})
    assert (await alice.recv_json())["event"] == "accepted"
    for member in (alice, bob):
        message = await member.recv_json()
        assert message["event"] == "message", message
        assert (message["from"], message["text"]) == (sender, "to the room")
    # The service writes a message to every member at once, so anything meant for carol would
    # already be ahead of the answer to her own op.
    await carol.send_json({"op": "say", "room": elsewhere, "text": "mine", "id": "c1"})
    assert await carol.recv_json() == {"event": "accepted", "room": elsewhere, "seq": 1, "id": "c1"}


async def test_a_room_numbers_its_messages_in_the_order_every_member_receives_them(
    mc_websocket: Any,
) -> None:
    alice, bob = await mc_websocket(), await mc_websocket()
    room = fresh_room()
    await join(alice, room)
    await join(bob, room)
    for n in range(5):
        await alice.send_json({"op": "say", "room": room, "text": f"m{n}"})
        await bob.send_json({"op": "say", "room": room, "text": f"m{n}"})
    for ws in (alice, bob):
        frames = [await ws.recv_json() for _ in range(15)]  # 5 accepted, 10 messages
        messages = [f for f in frames if f["event"] == "message"]
        assert [m["seq"] for m in messages] == list(range(1, 11)), frames


async def test_saying_in_a_room_not_joined_is_an_error_naming_the_op(mc_websocket: Any) -> None:
    ws = await mc_websocket()
    await ws.send_json({"op": "say", "room": fresh_room(), "text": "hello?", "id": "x1"})
    answer = await ws.recv_json()
    assert (answer["event"], answer["reason"], answer["id"]) == ("error", "not_in_room", "x1")


async def test_after_leaving_a_room_its_messages_stop(mc_websocket: Any) -> None:
    alice, bob = await mc_websocket(), await mc_websocket()
    room = fresh_room()
    await join(alice, room)
    await join(bob, room)
    await bob.send_json({"op": "leave", "room": room, "id": "l1"})
    assert await bob.recv_json() == {"event": "left", "room": room, "id": "l1"}
    await alice.send_json({"op": "say", "room": room, "text": "gone?"})
    assert (await alice.recv_json())["event"] == "accepted"
    assert (await alice.recv_json())["event"] == "message"
    await bob.send_json({"op": "say", "room": room, "text": "back?", "id": "b2"})
    answer = await bob.recv_json()
    assert (answer["event"], answer["reason"]) == ("error", "not_in_room"), answer


@pytest.mark.parametrize(
    ("frame", "reason"),
    [
        ("not json", "bad_json"),
        ("[1, 2]", "bad_json"),
        ('{"op": "shout", "room": "r"}', "unknown_op"),
        ('{"op": "join", "room": "no spaces"}', "bad_field"),
        ('{"op": "say", "room": "r", "text": ""}', "bad_field"),
    ],
)
async def test_bad_input_is_answered_with_an_error_and_the_socket_stays_usable(
    mc_websocket: Any, frame: str, reason: str
) -> None:
    ws = await mc_websocket()
    await ws.send(frame)
    answer = await ws.recv_json()
    assert (answer["event"], answer["reason"]) == ("error", reason), answer
    await join(ws, fresh_room())

"""node-chat's mission-critical behaviour, in any mode the harness runs.

Only the harness's generic fixtures are used: ``mc_websocket`` (a socket opened with the run's
token in the ``token`` query parameter, returned once the service's ``welcome`` has arrived, as
``[tool.test_framework.service]`` says), ``mc_http`` and ``mc_endpoints``. Nicks and channels
are fresh per test, because a staging deployment is shared with other runs.
"""

from __future__ import annotations

import uuid
from typing import Any, Protocol
from urllib.parse import urlsplit

import pytest

from test_framework.client.agent import HandshakeRefused

pytestmark = [pytest.mark.mission_critical, pytest.mark.asyncio]


class ChatSocket(Protocol):
    ready: Any

    async def send(self, data: str | bytes) -> None: ...
    async def send_json(self, value: Any) -> None: ...
    async def recv_json(self) -> Any: ...


def fresh(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


async def hello(ws: ChatSocket, nick: str | None = None) -> str:
    """Say hello as ``nick`` (a fresh one by default); the nick the service confirmed."""
    nick = nick or fresh("n")
    await ws.send_json({"type": "hello", "nick": nick, "ref": "h"})
    answer = await ws.recv_json()
    assert answer == {"type": "hello_ok", "nick": nick, "ref": "h"}, answer
    return nick


async def enter(ws: ChatSocket, channel: str) -> list[str]:
    """Enter ``channel``; the nicks present, this socket's included."""
    await ws.send_json({"type": "enter", "channel": channel, "ref": "e"})
    answer = await ws.recv_json()
    assert (answer["type"], answer["channel"], answer["ref"]) == ("entered", channel, "e"), answer
    present: list[str] = answer["present"]
    return present


async def test_health_answers_200_with_a_plain_ok(mc_http: Any) -> None:
    response = await mc_http.get("/healthz")
    assert response.status == 200, response.text
    assert response.text == "ok"
    assert response.headers["content-type"].startswith("text/plain")


async def test_an_open_socket_is_welcomed_with_the_protocol_and_a_session(
    mc_websocket: Any,
) -> None:
    first, second = await mc_websocket(), await mc_websocket()
    for ws in (first, second):
        assert ws.ready["type"] == "welcome"
        assert ws.ready["protocol"] == "node-chat/1"
    assert first.ready["session"] != second.ready["session"]


async def test_the_socket_is_refused_without_the_right_token(
    mc_websocket: Any, mc_endpoints: Any
) -> None:
    path = urlsplit(mc_endpoints.ws_url).path
    for attempt in (path, f"{path}?token=not-the-token"):
        with pytest.raises(HandshakeRefused) as refused:
            await mc_websocket(path=attempt, authenticate=False)
        assert refused.value.status == 401, attempt


async def test_nothing_but_hello_is_accepted_before_hello(mc_websocket: Any) -> None:
    ws = await mc_websocket()
    await ws.send_json({"type": "enter", "channel": fresh("c"), "ref": "early"})
    answer = await ws.recv_json()
    assert (answer["type"], answer["code"], answer["ref"]) == ("problem", "hello_first", "early")
    await hello(ws)


async def test_a_nick_in_use_is_refused_until_its_socket_closes(mc_websocket: Any) -> None:
    first, second = await mc_websocket(), await mc_websocket()
    nick = await hello(first)
    await second.send_json({"type": "hello", "nick": nick})
    answer = await second.recv_json()
    assert (answer["type"], answer["code"]) == ("problem", "nick_taken"), answer
    await first.close()
    # The service frees the nick once it has seen the close, which takes a moment.
    for _ in range(50):
        await second.send_json({"type": "hello", "nick": nick, "ref": "h"})
        answer = await second.recv_json()
        if answer["type"] == "hello_ok":
            break
    assert answer == {"type": "hello_ok", "nick": nick, "ref": "h"}


async def test_a_post_is_confirmed_then_said_to_its_sender(mc_websocket: Any) -> None:
    ws = await mc_websocket()
    me = await hello(ws)
    channel = fresh("c")
    assert await enter(ws, channel) == [me]
    await ws.send_json({"type": "post", "channel": channel, "body": "hi", "ref": "p1"})
    assert await ws.recv_json() == {"type": "posted", "channel": channel, "n": 1, "ref": "p1"}
    assert await ws.recv_json() == {
        "type": "said",
        "channel": channel,
        "n": 1,
        "nick": me,
        "body": "hi",
    }


async def test_members_see_arrivals_and_every_post_of_their_channel_only(
    mc_websocket: Any,
) -> None:
    alice, bob, carol = await mc_websocket(), await mc_websocket(), await mc_websocket()
    a, b = await hello(alice), await hello(bob)
    await hello(carol)
    channel, elsewhere = fresh("c"), fresh("c")
    await enter(alice, channel)
    assert sorted(await enter(bob, channel)) == sorted([a, b])
    assert await alice.recv_json() == {"type": "arrived", "channel": channel, "nick": b}
    await enter(carol, elsewhere)
    await alice.send_json({"type": "post", "channel": channel, "body": "to the channel"})
    assert (await alice.recv_json())["type"] == "posted"
    for member in (alice, bob):
        said = await member.recv_json()
        assert (said["type"], said["nick"], said["body"]) == ("said", a, "to the channel"), said
    # The service sends a post to every member at once, so anything meant for carol would
    # already be ahead of the answer to her own post.
    await carol.send_json({"type": "post", "channel": elsewhere, "body": "mine", "ref": "c1"})
    assert await carol.recv_json() == {"type": "posted", "channel": elsewhere, "n": 1, "ref": "c1"}


async def test_a_channel_numbers_its_posts_in_the_order_every_member_receives_them(
    mc_websocket: Any,
) -> None:
    alice, bob = await mc_websocket(), await mc_websocket()
    await hello(alice)
    await hello(bob)
    channel = fresh("c")
    await enter(alice, channel)
    await enter(bob, channel)
    assert (await alice.recv_json())["type"] == "arrived"
    # Each sends a burst without waiting: the sender gets posted and said in turn, the other
    # member every said, and both see the numbers 1 to 10 in order. One burst after the other
    # keeps each socket's frames in one order whatever the timing.
    said: dict[str, list[int]] = {"alice": [], "bob": []}
    for sender, other, first in ((alice, bob, 1), (bob, alice, 6)):
        for n in range(5):
            await sender.send_json({"type": "post", "channel": channel, "body": f"m{n}"})
        for n in range(first, first + 5):
            posted = await sender.recv_json()
            assert (posted["type"], posted["n"]) == ("posted", n), posted
            for ws in (sender, other):
                frame = await ws.recv_json()
                assert frame["type"] == "said", frame
                said["alice" if ws is alice else "bob"].append(frame["n"])
    assert said == {"alice": list(range(1, 11)), "bob": list(range(1, 11))}


async def test_after_parting_the_others_are_told_and_posts_stop(mc_websocket: Any) -> None:
    alice, bob = await mc_websocket(), await mc_websocket()
    await hello(alice)
    b = await hello(bob)
    channel = fresh("c")
    await enter(alice, channel)
    await enter(bob, channel)
    assert (await alice.recv_json())["type"] == "arrived"
    await bob.send_json({"type": "part", "channel": channel, "ref": "x"})
    assert await bob.recv_json() == {"type": "parted", "channel": channel, "ref": "x"}
    assert await alice.recv_json() == {"type": "departed", "channel": channel, "nick": b}
    await bob.send_json({"type": "post", "channel": channel, "body": "back?", "ref": "b2"})
    answer = await bob.recv_json()
    assert (answer["type"], answer["code"], answer["ref"]) == ("problem", "not_in_channel", "b2")


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        ("not json", "bad_json"),
        ("[1, 2]", "bad_json"),
        ('{"type": "shout"}', "unknown_type"),
        ('{"type": "enter", "channel": "no spaces"}', "bad_field"),
        ('{"type": "post", "channel": "c", "body": ""}', "bad_field"),
        ('{"type": "hello", "nick": "Capitals"}', "bad_field"),
    ],
)
async def test_bad_input_is_answered_with_a_problem_and_the_socket_stays_usable(
    mc_websocket: Any, frame: str, code: str
) -> None:
    ws = await mc_websocket()
    if '"hello"' not in frame:
        await hello(ws)
    await ws.send(frame)
    answer = await ws.recv_json()
    assert (answer["type"], answer["code"]) == ("problem", code), answer
    if '"hello"' in frame:
        await hello(ws)
    await enter(ws, fresh("c"))

"""The ASGI chat's mission-critical behaviour, in any mode the harness runs: only the harness's
generic fixtures (``mc_websocket``, ``mc_http``, ``mc_endpoints``)."""

from __future__ import annotations

from typing import Any

import pytest
import websockets
from websockets.asyncio.client import connect

pytestmark = [pytest.mark.mission_critical, pytest.mark.asyncio]


async def test_health_answers_a_plain_ok_once_the_lifespan_has_started(mc_http: Any) -> None:
    response = await mc_http.get("/healthz")
    assert (response.status, response.text) == (200, "ok")


async def test_an_echo_comes_back_unchanged(mc_websocket: Any) -> None:
    ws = await mc_websocket()
    await ws.send_json({"op": "echo", "text": "hello, world"})
    assert await ws.recv_json() == {"event": "echo", "text": "hello, world"}


async def test_a_shout_comes_back_in_capitals(mc_websocket: Any) -> None:
    ws = await mc_websocket()
    await ws.send_json({"op": "shout", "text": "quiet"})
    assert await ws.recv_json() == {"event": "echo", "text": "QUIET"}


async def test_an_unknown_op_is_answered_with_an_error_and_the_socket_stays_open(
    mc_websocket: Any,
) -> None:
    ws = await mc_websocket()
    await ws.send_json({"op": "whisper", "text": "x"})
    reply = await ws.recv_json()
    assert reply["event"] == "error"
    await ws.send_json({"op": "echo", "text": "still here"})
    assert await ws.recv_json() == {"event": "echo", "text": "still here"}


async def test_the_socket_is_refused_without_the_right_bearer_token(mc_endpoints: Any) -> None:
    headers = {"Authorization": "Bearer not-the-token"}
    with pytest.raises(websockets.InvalidStatus) as refused:
        async with connect(mc_endpoints.ws_url, additional_headers=headers):
            pass
    assert refused.value.response.status_code == 403

"""Graceful shutdown (SIGTERM) and restart, on a private deployment of the test's own."""

from __future__ import annotations

import asyncio
import base64
import secrets

import pytest
from mc_rules import assert_well_formed, tool_pairs

from test_framework.client.auth import TokenClient
from test_framework.client.http_client import HeldConnection, HttpClient

pytestmark = [pytest.mark.mission_critical, pytest.mark.deployment_control]


def upgrade_headers(token: str) -> dict[str, str]:
    return {
        "Upgrade": "websocket",
        "Connection": "Upgrade",
        "Sec-WebSocket-Key": base64.b64encode(secrets.token_bytes(16)).decode(),
        "Sec-WebSocket-Version": "13",
        "Authorization": f"Bearer {token}",
    }


async def test_sigterm_cancels_active_runs_then_closes_connections_with_1001(
    mc_control, mc_connect, mc_profile
):
    client = await mc_connect(endpoints=mc_control.endpoints)
    idle = await mc_connect(endpoints=mc_control.endpoints)
    run_id = await client.start_run("calc 1 + 1; sleep 30000; calc 2 + 2")
    await client.wait_for_event(run_id, "tool_completed")
    await client.wait_for_event(run_id, "tool_executing")
    terminating = asyncio.ensure_future(asyncio.to_thread(mc_control.terminate))
    result = await client.collect(run_id)
    assert_well_formed(result, status="cancelled")
    assert tool_pairs(result)[-1][1]["ok"] is False
    assert await client.wait_closed() == 1001
    assert await idle.wait_closed() == 1001
    await asyncio.wait_for(terminating, mc_profile.timeouts.message_s)


async def test_while_draining_health_answers_503_and_handshakes_are_refused_with_503(
    mc_control, mc_connect, mc_user, mc_profile, mc_credentials, mc_record
):
    endpoints = mc_control.endpoints
    timeout = mc_profile.timeouts.message_s
    http = HttpClient(endpoints, mc_profile, mc_record.transcript)
    user = mc_user()
    token = await TokenClient(http, mc_credentials).token(user)
    client = await mc_connect(user, token=token, endpoints=endpoints)
    run_id = await client.start_run("sleep 30000")
    await client.wait_for_event(run_id, "tool_executing")
    # Accepted before the drain begins; their requests arrive while it is under way.
    for_health = await HeldConnection.open(
        endpoints.http_url + "/health", endpoints.ca_bundle, timeout
    )
    for_upgrade = await HeldConnection.open(endpoints.ws_url, endpoints.ca_bundle, timeout)
    terminating = asyncio.ensure_future(asyncio.to_thread(mc_control.terminate))
    try:
        # The run's cancellation shows the drain has begun.
        completed = await client.wait_for_event(run_id, "agent_completed")
        assert completed["payload"]["status"] == "cancelled"
        health = await for_health.request({}, timeout)
        refused = await for_upgrade.request(upgrade_headers(token), timeout)
    finally:
        await for_health.close()
        await for_upgrade.close()
    assert health.status == 503
    assert health.json() == {"status": "draining"}
    assert refused.status == 503
    assert await client.wait_closed() == 1001
    await asyncio.wait_for(terminating, timeout)


async def test_the_service_answers_again_after_a_restart(
    mc_control, mc_connect, mc_profile, mc_record
):
    before = await mc_connect(endpoints=mc_control.endpoints)
    assert (await before.run("calc 1 + 1")).status == "succeeded"
    await asyncio.to_thread(mc_control.terminate)
    assert await before.wait_closed() == 1001
    endpoints = await asyncio.to_thread(mc_control.restart)
    health = await HttpClient(endpoints, mc_profile, mc_record.transcript).health()
    assert health.status == 200
    assert health.json()["status"] == "ok"
    after = await mc_connect(endpoints=endpoints)
    result = await after.run("calc 6 * 7")
    assert_well_formed(result, status="succeeded")
    assert result.answer == "6 * 7 = 42"

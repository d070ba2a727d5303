"""Application ping/pong, ``/health``, ``/metrics``, and the latency rule."""

from __future__ import annotations

import asyncio

import pytest
from mc_rules import SEMVER, is_number, metric, parse_metrics

pytestmark = pytest.mark.mission_critical

NONCES = [7, "abc", {"nested": [1, 2]}, [1, "two"], None, 3.25]


@pytest.mark.parametrize("nonce", NONCES, ids=repr)
async def test_ping_is_answered_with_a_pong_carrying_the_same_nonce(mc_connect, nonce):
    client = await mc_connect()
    pong = await client.ping(nonce)
    assert pong["type"] == "pong"
    assert pong["nonce"] == nonce


async def test_a_ping_without_a_nonce_is_answered_with_a_pong(mc_connect):
    client = await mc_connect()
    pong = await client.ping()
    assert pong["type"] == "pong"
    assert pong.get("nonce") is None


async def test_health_answers_ok_with_a_semver_version_and_uptime(mc_http):
    response = await mc_http.health()
    assert response.status == 200
    body = response.json()
    assert body["status"] == "ok"
    assert SEMVER.match(body["version"]), body
    assert is_number(body["uptime_s"])
    assert body["uptime_s"] >= 0


async def test_health_uptime_grows(mc_http):
    first = (await mc_http.health()).json()["uptime_s"]
    await asyncio.sleep(0.2)
    second = (await mc_http.health()).json()["uptime_s"]
    assert second > first


async def test_metrics_expose_the_documented_families_in_prometheus_text(mc_http):
    response = await mc_http.metrics()
    assert response.status == 200
    assert response.headers.get("content-type", "").startswith("text/plain")
    types, samples = parse_metrics(response.text)
    assert types.get("agent_connections") == "gauge"
    assert types.get("agent_runs_total") == "counter"
    assert types.get("agent_events_sent_total") == "counter"
    assert any(name == "agent_events_sent_total" for name, _ in samples)


async def test_metrics_count_finished_runs_by_status_and_the_events_sent(mc_connect, mc_http):
    client = await mc_connect()
    _, before = parse_metrics((await mc_http.metrics()).text)
    succeeded = await client.run("calc 1 + 1")
    failed = await client.run("fail on purpose")
    doomed = await client.start_run("sleep 30000")
    await client.wait_for_event(doomed, "tool_executing")
    await client.cancel(doomed)
    cancelled = await client.collect(doomed)
    _, after = parse_metrics((await mc_http.metrics()).text)
    # Other tests share the deployment, so counters may grow by more, never by less.
    for status in ("succeeded", "failed", "cancelled"):
        grown = metric(after, "agent_runs_total", status=status)
        assert grown - metric(before, "agent_runs_total", status=status) >= 1, status
    sent = metric(after, "agent_events_sent_total") - metric(before, "agent_events_sent_total")
    assert sent >= len(succeeded.events) + len(failed.events) + len(cancelled.events)


async def test_metrics_gauge_counts_an_open_connection(mc_connect, mc_http):
    await mc_connect()  # Open until the test ends.
    _, samples = parse_metrics((await mc_http.metrics()).text)
    assert metric(samples, "agent_connections") >= 1


async def test_agent_started_arrives_within_the_latency_budget(mc_connect, mc_profile):
    client = await mc_connect()
    await client.run("warm up")  # The first run may pay one-off costs; the rule is per run.
    run_ids = [await client.start_run(f"calc {i} + 1") for i in range(5)]
    for run_id in run_ids:
        await client.collect(run_id)
    latencies = [client.start_latency_s[run_id] for run_id in run_ids]
    budget = mc_profile.latency_budget_s
    assert max(latencies) <= budget, f"agent_started after {latencies} s; budget {budget} s"

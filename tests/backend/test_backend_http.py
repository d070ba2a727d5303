"""The HTTP endpoints over a real socket: /health, /auth/token, /metrics, and the rest."""

from __future__ import annotations

import re
import time

import jwt
import pytest
from backend_helpers import SECRET, Client, basic, http_get

from agent_backend.testing import RunningServer


async def test_health_reports_ok_version_and_uptime(server: RunningServer) -> None:
    result = await http_get(server.http_url, "/health")
    assert result.status == 200
    assert result.headers["content-type"] == "application/json"
    body = result.json()
    assert set(body) == {"status", "version", "uptime_s"}
    assert body["status"] == "ok"
    assert re.fullmatch(r"\d+\.\d+\.\d+", body["version"])
    assert isinstance(body["uptime_s"], float)
    assert body["uptime_s"] >= 0


async def test_token_endpoint_issues_a_bearer_jwt_for_an_hour_by_default(
    server: RunningServer,
) -> None:
    before = time.time()
    result = await http_get(server.http_url, "/auth/token", basic("alice"))
    assert result.status == 200
    body = result.json()
    assert set(body) == {"access_token", "token_type", "expires_in", "user_id"}
    assert (body["token_type"], body["expires_in"], body["user_id"]) == ("Bearer", 3600, "alice")
    claims = jwt.decode(body["access_token"], SECRET, algorithms=["HS256"])
    assert claims["sub"] == "alice"
    assert before - 1 <= claims["iat"] <= time.time()
    assert claims["exp"] >= before + 3600


async def test_ttl_s_sets_the_token_lifetime(server: RunningServer) -> None:
    result = await http_get(server.http_url, "/auth/token?ttl_s=60", basic("bob"))
    body = result.json()
    assert body["expires_in"] == 60
    claims = jwt.decode(body["access_token"], SECRET, algorithms=["HS256"])
    assert claims["exp"] - claims["iat"] in (60, 61)


@pytest.mark.parametrize(
    "headers",
    [
        {},
        basic("alice", "wrong-password"),
        {"Authorization": "Bearer something"},
        {"Authorization": "Basic %%%"},
        basic("bad user"),
        basic("x" * 65),
        basic(""),
    ],
    ids=[
        "missing",
        "wrong-password",
        "not-basic",
        "bad-base64",
        "space-in-user",
        "user-too-long",
        "empty-user",
    ],
)
async def test_bad_credentials_get_401_invalid_credentials(
    server: RunningServer, headers: dict[str, str]
) -> None:
    result = await http_get(server.http_url, "/auth/token", headers)
    assert result.status == 401
    assert result.json() == {"error": "invalid_credentials"}


@pytest.mark.parametrize("ttl", ["0", "3601", "-5", "abc", "1.5", ""])
async def test_a_bad_ttl_gets_400_invalid_ttl(server: RunningServer, ttl: str) -> None:
    result = await http_get(server.http_url, f"/auth/token?ttl_s={ttl}", basic("alice"))
    assert result.status == 400
    assert result.json() == {"error": "invalid_ttl"}


async def test_bad_credentials_win_over_a_bad_ttl(server: RunningServer) -> None:
    result = await http_get(server.http_url, "/auth/token?ttl_s=0", basic("alice", "nope"))
    assert result.status == 401


async def test_metrics_expose_connections_runs_and_events(server: RunningServer) -> None:
    client = await Client.open(server, "alice")
    events = await client.run("calc 1+1")
    result = await http_get(server.http_url, "/metrics")
    assert result.status == 200
    assert result.headers["content-type"].startswith("text/plain")
    text = result.body.decode()
    assert "# TYPE agent_connections gauge" in text
    assert re.search(r"^agent_connections 1$", text, re.M)
    assert re.search(r'^agent_runs_total\{status="succeeded"\} 1$', text, re.M)
    assert "# TYPE agent_events_sent_total counter" in text
    sent = int(re.findall(r"^agent_events_sent_total (\d+)$", text, re.M)[0])
    assert sent == len(events)
    await client.close()


async def test_unknown_paths_get_404(server: RunningServer) -> None:
    result = await http_get(server.http_url, "/nope")
    assert result.status == 404
    assert result.json() == {"error": "not_found"}


async def test_the_server_answers_many_http_requests_in_a_row(server: RunningServer) -> None:
    for _ in range(20):
        assert (await http_get(server.http_url, "/health")).status == 200

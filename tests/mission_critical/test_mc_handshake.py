"""The WebSocket handshake: who gets in, how, and what the first message says."""

from __future__ import annotations

import asyncio
import json
import time

import jwt
import pytest
from mc_rules import SEMVER, is_number, jwt_part

pytestmark = pytest.mark.mission_critical


async def test_connection_ready_is_the_first_message_and_names_the_user(mc_connect, mc_user):
    user = mc_user()
    client = await mc_connect(user)
    ready = client.ready
    assert ready["type"] == "connection_ready"
    assert ready["user_id"] == user
    assert isinstance(ready["connection_id"], str)
    assert ready["connection_id"]
    assert isinstance(ready["server_version"], str)
    assert ready["server_version"]


async def test_connection_ready_advertises_a_positive_heartbeat_interval(mc_connect):
    client = await mc_connect()
    interval = client.ready["heartbeat_interval_s"]
    assert is_number(interval)
    assert interval > 0


async def test_server_version_in_connection_ready_matches_health(mc_connect, mc_http):
    client = await mc_connect()
    health = (await mc_http.health()).json()
    assert SEMVER.match(health["version"]), health
    assert client.ready["server_version"] == health["version"]


async def test_every_connection_gets_its_own_connection_id(mc_connect, mc_user):
    user = mc_user()
    clients = [await mc_connect(user) for _ in range(3)]
    ids = {client.ready["connection_id"] for client in clients}
    assert len(ids) == 3


async def test_a_token_in_the_query_parameter_is_accepted(mc_connect, mc_user):
    user = mc_user()
    client = await mc_connect(user, via="query")
    assert client.ready["user_id"] == user
    result = await client.run("hello")
    assert result.status == "succeeded"


async def test_a_handshake_without_a_token_is_refused_with_401(mc_connector):
    assert await mc_connector.connect_expecting_refusal(None) == 401


@pytest.mark.parametrize("via", ["header", "query"])
async def test_a_token_signed_with_another_secret_is_refused_with_401(mc_connector, mc_user, via):
    now = int(time.time())
    claims = {"sub": mc_user(), "iat": now, "exp": now + 600}
    forged = jwt.encode(claims, "not-the-deployment-secret-" + "x" * 32, algorithm="HS256")
    assert await mc_connector.connect_expecting_refusal(forged, via=via) == 401


async def test_a_token_whose_claims_were_altered_is_refused_with_401(
    mc_connector, mc_auth, mc_user
):
    header, _, signature = (await mc_auth.token(mc_user())).split(".")
    now = int(time.time())
    claims = {"sub": mc_user("victim"), "iat": now, "exp": now + 600}
    body = jwt.utils.base64url_encode(json.dumps(claims).encode()).decode()
    assert await mc_connector.connect_expecting_refusal(f"{header}.{body}.{signature}") == 401


async def test_an_unsigned_token_is_refused_with_401(mc_connector, mc_user):
    now = int(time.time())
    unsigned = jwt.encode({"sub": mc_user(), "iat": now, "exp": now + 600}, None, "none")
    assert await mc_connector.connect_expecting_refusal(unsigned) == 401


@pytest.mark.parametrize("via", ["header", "query"])
async def test_an_expired_token_is_refused_with_401(mc_connector, mc_auth, mc_user, via):
    token = await mc_auth.token(mc_user(), ttl_s=1)
    expires = jwt_part(token, 1)["exp"]
    # No leeway on exp: once it has passed, the token is refused.
    await asyncio.sleep(max(expires - time.time(), 0) + 0.5)
    assert await mc_connector.connect_expecting_refusal(token, via=via) == 401


@pytest.mark.parametrize(
    "token", ["garbage", "a.b.c", "eyJhbGciOiJIUzI1NiJ9..", "Bearer x"], ids=repr
)
@pytest.mark.parametrize("via", ["header", "query"])
async def test_a_malformed_token_is_refused_with_401(mc_connector, token, via):
    assert await mc_connector.connect_expecting_refusal(token, via=via) == 401


async def test_credentials_that_are_not_a_bearer_token_are_refused_with_401(
    mc_connector, mc_auth, mc_user
):
    token = await mc_auth.token(mc_user())
    status = await mc_connector.connect_expecting_refusal(
        None, headers={"Authorization": f"Token {token}"}
    )
    assert status == 401


async def test_a_fresh_token_connects_again_after_a_refusal(mc_connector, mc_connect):
    assert await mc_connector.connect_expecting_refusal("garbage") == 401
    client = await mc_connect()
    assert (await client.run("still here")).status == "succeeded"

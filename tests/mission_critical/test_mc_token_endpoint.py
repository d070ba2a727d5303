"""The token endpoint, ``GET <auth>/token``: what it answers to good and bad requests."""

from __future__ import annotations

import base64

import pytest
from mc_rules import jwt_part

pytestmark = pytest.mark.mission_critical


async def test_the_token_endpoint_answers_a_bearer_jwt_for_the_user(mc_auth, mc_user):
    user = mc_user()
    response = await mc_auth.request(user)
    assert response.status == 200
    body = response.json()
    assert body["token_type"] == "Bearer"
    assert body["user_id"] == user
    assert body["expires_in"] == 3600
    header, claims = jwt_part(body["access_token"], 0), jwt_part(body["access_token"], 1)
    assert header["alg"] == "HS256"
    assert claims["sub"] == user
    # Whole-second claims: a lifetime of ttl_s may span ttl_s + 1 clock seconds.
    assert 3600 <= claims["exp"] - claims["iat"] <= 3601


@pytest.mark.parametrize("ttl_s", [1, 60, 3600])
async def test_ttl_s_sets_the_token_lifetime(mc_auth, mc_user, ttl_s):
    response = await mc_auth.request(mc_user(), ttl_s=ttl_s)
    assert response.status == 200
    body = response.json()
    claims = jwt_part(body["access_token"], 1)
    assert body["expires_in"] == ttl_s
    assert ttl_s <= claims["exp"] - claims["iat"] <= ttl_s + 1


async def test_a_wrong_password_gets_401_invalid_credentials(mc_auth, mc_user):
    mc_auth.require_password()  # Needs the test password: with only a ready token, skip.
    response = await mc_auth.request(mc_user(), password="definitely-not-the-password")
    assert response.status == 401
    assert response.json() == {"error": "invalid_credentials"}


@pytest.mark.parametrize(
    "user_id",
    ["", "x" * 65, "has space", "slash/name", "caf\u00e9", "semi;colon"],
    ids=["empty", "65-chars", "space", "slash", "non-ascii", "semicolon"],
)
async def test_a_user_id_outside_the_allowed_pattern_gets_401(mc_auth, user_id):
    password = mc_auth.require_password()
    raw = f"{user_id}:{password}".encode()
    authorization = "Basic " + base64.b64encode(raw).decode("ascii")
    response = await mc_auth.request(authorization=authorization)
    assert response.status == 401
    assert response.json() == {"error": "invalid_credentials"}


async def test_a_user_id_of_64_allowed_characters_gets_a_token(mc_auth, mc_user):
    user = (mc_user() + ".-_" + "Z9" * 32)[:64]
    response = await mc_auth.request(user)
    assert response.status == 200
    assert response.json()["user_id"] == user


@pytest.mark.parametrize(
    "authorization",
    ["Basic !!!not-base64!!!", "Basic " + base64.b64encode(b"no-colon").decode(), "Bearer abc"],
    ids=["not-base64", "no-colon", "bearer-scheme"],
)
async def test_a_malformed_authorization_header_gets_401(mc_auth, authorization):
    response = await mc_auth.request(authorization=authorization)
    assert response.status == 401
    assert response.json() == {"error": "invalid_credentials"}


async def test_a_request_without_credentials_gets_401(mc_auth):
    response = await mc_auth.request()
    assert response.status == 401
    assert response.json() == {"error": "invalid_credentials"}


@pytest.mark.parametrize("ttl_s", ["0", "3601", "-1", "abc"])
async def test_a_ttl_outside_1_to_3600_gets_400_invalid_ttl(mc_auth, mc_user, ttl_s):
    response = await mc_auth.request(mc_user(), ttl_s=ttl_s)
    assert response.status == 400
    assert response.json() == {"error": "invalid_ttl"}

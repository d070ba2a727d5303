"""Auth functions as a team would write them (``auth = "module:function"`` in
``[tool.test_framework.service]``), importable by any test's configuration."""

from __future__ import annotations

from test_framework.client.authenticator import AuthRequest
from test_framework.client.credentials import Credentials
from test_framework.endpoints import Endpoints


async def bearer_header(
    user_id: str, credentials: Credentials, endpoints: Endpoints
) -> AuthRequest:
    """The token as an ``Authorization: Bearer`` header."""
    return AuthRequest(headers={"Authorization": "Bearer " + _token(credentials)})


async def token_and_user_query(
    user_id: str, credentials: Credentials, endpoints: Endpoints
) -> AuthRequest:
    """The token and the user id in the upgrade's query string."""
    return AuthRequest(query={"token": _token(credentials), "user": user_id})


def a_dict_not_a_request(
    user_id: str, credentials: Credentials, endpoints: Endpoints
) -> dict[str, str]:
    """Wrong on purpose: returns a plain dict where an ``AuthRequest`` is expected."""
    return {"token": _token(credentials)}


def _token(credentials: Credentials) -> str:
    assert credentials.token is not None, "these auth functions need a token"
    return credentials.token

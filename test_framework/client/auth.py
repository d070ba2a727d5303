"""Tokens from the deployment's token endpoint: ``GET <auth_url>/token`` with Basic auth."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import NoReturn

from test_framework.client.credentials import Credentials
from test_framework.client.http_client import HttpClient, HttpResponse
from test_framework.client.redaction import redact_text, register_secret
from test_framework.errors import HarnessError
from test_framework.settings_table import STAGING_AUTH_TOKEN, STAGING_PASSWORD

__all__ = ["CannotMintError", "TokenClient", "TokenError"]


class CannotMintError(HarnessError):
    """The credentials hold a ready token but no password, so no token can be made for a user."""


class TokenError(HarnessError):
    """The token endpoint refused the configured credentials."""


def basic_authorization(user_id: str, password: str) -> str:
    raw = f"{user_id}:{password}".encode()
    value = "Basic " + base64.b64encode(raw).decode("ascii")
    register_secret(value)
    return value


def _raise_cannot_mint(reason: str) -> NoReturn:
    raise CannotMintError(reason)


class TokenClient:
    """Fetches tokens for made-up test users with the deployment's shared test password."""

    def __init__(
        self,
        http: HttpClient,
        credentials: Credentials,
        *,
        on_cannot_mint: Callable[[str], NoReturn] = _raise_cannot_mint,
    ) -> None:
        self.http = http
        self.credentials = credentials
        self._on_cannot_mint = on_cannot_mint

    @property
    def token_url(self) -> str:
        return self.http.endpoints.auth_url.rstrip("/") + "/token"

    @property
    def can_mint(self) -> bool:
        return self.credentials.password is not None

    def require_password(self) -> str:
        """The test password; without one, ``on_cannot_mint`` (the fixtures skip the test)."""
        if self.credentials.password is None:
            self._on_cannot_mint(
                "needs tokens for made-up users, but only a ready token is configured"
                f" ({STAGING_AUTH_TOKEN.env}): set {STAGING_PASSWORD.env} to run it"
            )
        return self.credentials.password

    async def request(
        self,
        user_id: str | None = None,
        *,
        password: str | None = None,
        ttl_s: str | int | None = None,
        authorization: str | None = None,
    ) -> HttpResponse:
        """Ask the token endpoint and return its answer as it is (for negative cases).

        ``authorization`` is a raw header value and wins; else ``user_id`` with ``password``
        (the configured test password by default); with neither, no Authorization header.
        """
        headers: dict[str, str] = {}
        if authorization is not None:
            register_secret(authorization)
            headers["Authorization"] = authorization
        elif user_id is not None:
            secret = password if password is not None else self.require_password()
            headers["Authorization"] = basic_authorization(user_id, secret)
        params = {"ttl_s": ttl_s} if ttl_s is not None else None
        response = await self.http.get(self.token_url, params=params, headers=headers)
        if response.status == 200:
            try:
                body = json.loads(response.body)
            except ValueError:
                body = None  # token() reports the bad body; a negative test asserts on it.
            if isinstance(body, dict) and isinstance(body.get("access_token"), str):
                register_secret(body["access_token"])
        return response

    async def token(self, user_id: str, *, ttl_s: int | None = None) -> str:
        """A valid access token for ``user_id``."""
        response = await self.request(user_id, ttl_s=ttl_s)
        if response.status != 200:
            raise TokenError(
                f"{self.token_url} answered {response.status} for user {user_id!r}"
                f" ({redact_text(response.text[:200])}): check the test password"
                f" ({STAGING_PASSWORD.env}) and the auth URL"
            )
        body = response.json()
        token = body.get("access_token") if isinstance(body, dict) else None
        if not isinstance(token, str):
            raise AssertionError(f"{self.token_url} answered 200 without an access_token")
        register_secret(token)
        return token

"""How a test client authenticates its WebSocket upgrade, as the service adapter's ``auth`` says.

- ``none``: nothing;
- ``bearer``: the static token in ``Credentials.token`` (the run's test token, or
  ``STAGING_AUTH_TOKEN``);
- ``token_endpoint``: a token for the user from the token endpoint (``TokenClient``);
- ``module:function``: the team's function, ``auth(user_id, credentials, endpoints)``, sync or
  async, returns an ``AuthRequest``.

Tokens go in the ``Authorization: Bearer`` header or the ``token`` query parameter
(``token_via``). Everything secret is registered with redaction on the way.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from test_framework.client.auth import TokenClient
from test_framework.client.credentials import Credentials
from test_framework.client.redaction import register_secret
from test_framework.endpoints import Endpoints
from test_framework.errors import ConfigError
from test_framework.service import TABLE, AuthKind, ServiceSettings
from test_framework.settings_table import STAGING_AUTH_TOKEN

__all__ = ["AuthFunction", "AuthRequest", "Authenticator"]


@dataclass(frozen=True)
class AuthRequest:
    """What one upgrade carries: handshake headers and query parameters for the URL."""

    headers: Mapping[str, str] = field(default_factory=dict)
    query: Mapping[str, str] = field(default_factory=dict)


AuthFunction = Callable[[str, Credentials, Endpoints], Any]


def load_auth_function(reference: str) -> AuthFunction:
    module_name, _, attribute = reference.partition(":")
    fix = f"set auth = 'module:function' in {TABLE} to a function that exists"
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigError(f"cannot import auth module {module_name!r} ({exc}): {fix}") from None
    function = getattr(module, attribute, None)
    if not callable(function):
        raise ConfigError(f"{module_name} has no callable {attribute!r}: {fix}")
    return function  # type: ignore[no-any-return]


def bearer(token: str, via: str) -> AuthRequest:
    """``token`` presented the way ``via`` (``header`` or ``query``) says."""
    register_secret(token)
    if via == "query":
        return AuthRequest(query={"token": token})
    return AuthRequest(headers={"Authorization": f"Bearer {token}"})


class Authenticator:
    """Makes the ``AuthRequest`` of each connection a test opens."""

    def __init__(
        self,
        service: ServiceSettings,
        credentials: Credentials,
        endpoints: Endpoints,
        tokens: TokenClient,
        new_user: Callable[[], str],
    ) -> None:
        self.service = service
        self.credentials = credentials
        self.endpoints = endpoints
        self.tokens = tokens
        self.new_user = new_user
        self._function: AuthFunction | None = None

    async def request(self, user_id: str | None = None) -> AuthRequest:
        """Credentials for ``user_id``; without one, a fresh user (or, for the token endpoint
        with only a ready token configured, that token's user)."""
        kind = self.service.auth_kind
        if kind is AuthKind.NONE:
            return AuthRequest()
        if kind is AuthKind.BEARER:
            if not self.credentials.token:
                raise ConfigError(
                    "auth = 'bearer' needs a static token and none is configured:"
                    f" set {STAGING_AUTH_TOKEN.env}"
                )
            return bearer(self.credentials.token, self.service.token_via)
        if kind is AuthKind.TOKEN_ENDPOINT:
            if user_id is None and not self.tokens.can_mint and self.credentials.token:
                return bearer(self.credentials.token, self.service.token_via)
            token = await self.tokens.token(user_id or self.new_user())
            return bearer(token, self.service.token_via)
        if self._function is None:
            self._function = load_auth_function(self.service.auth)
        made = self._function(user_id or self.new_user(), self.credentials, self.endpoints)
        if inspect.isawaitable(made):
            made = await made
        if not isinstance(made, AuthRequest):
            raise ConfigError(
                f"auth function {self.service.auth} returned {type(made).__name__}, not an"
                " AuthRequest: return test_framework.client.authenticator.AuthRequest(headers=...,"
                " query=...)"
            )
        for value in (*made.headers.values(), *made.query.values()):
            register_secret(value)
        return made

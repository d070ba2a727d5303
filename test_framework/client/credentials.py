"""The credentials tests use against a deployment. Never printed: see ``redaction``."""

from __future__ import annotations

from dataclasses import dataclass, field

from test_framework.client.redaction import register_secret

__all__ = ["Credentials"]

# Starts every user id the suite makes up, unless a deployment names its own (STAGING_TEST_USER).
DEFAULT_USER_PREFIX = "mc"


@dataclass(frozen=True)
class Credentials:
    """A test deployment accepts any valid user id with one shared test password.

    ``user_prefix`` starts every user id the suite makes up. ``token`` is a ready token for
    deployments where the suite may not fetch its own (``STAGING_AUTH_TOKEN``).
    """

    user_prefix: str
    password: str | None = field(default=None, repr=False)
    token: str | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        register_secret(self.password)
        register_secret(self.token)

"""Per-mode timeouts, retry policy, heartbeat, parallelism and pacing.

A profile is a small frozen value. The defaults come from the field; every value can be
overridden from ``[tool.test_framework.profiles.<mode>]``, ``MC_<KEY>`` environment variables
or ``--mc-profile KEY=VALUE`` (see ``settings``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from test_framework.errors import ConfigError
from test_framework.modes import Mode


@dataclass(frozen=True)
class Timeouts:
    connect_s: float
    message_s: float


@dataclass(frozen=True)
class RetryPolicy:
    """Retries apply to connection failures only, never to a failed assertion."""

    attempts: int
    delay_s: float
    backoff: float = 2.0

    def delays(self) -> list[float]:
        """The waits before each retry: ``attempts - 1`` values."""
        return [self.delay_s * self.backoff**i for i in range(max(self.attempts - 1, 0))]


@dataclass(frozen=True)
class Pacing:
    """Limits that keep the suite gentle with a shared deployment. ``0`` means unlimited."""

    workers: int
    max_connections: int
    connections_per_s: float
    messages_per_s: float


@dataclass(frozen=True)
class Profile:
    mode: Mode
    timeouts: Timeouts
    retry: RetryPolicy
    heartbeat_s: float
    pacing: Pacing
    # The protocol's latency rule: agent_started within this budget of user_message.
    latency_budget_s: float

    def with_overrides(self, values: Mapping[str, str]) -> Profile:
        """Return a copy with flat ``KEY=VALUE`` overrides applied (keys from ``FIELDS``)."""
        profile = self
        for key, raw in values.items():
            if key not in FIELDS:
                known = ", ".join(sorted(FIELDS))
                raise ConfigError(f"unknown profile setting {key!r}: use one of {known}")
            group, attr, kind = FIELDS[key]
            try:
                value: float | int = kind(raw)
            except ValueError:
                raise ConfigError(
                    f"profile setting {key}={raw!r} is not a {kind.__name__}: give a number"
                ) from None
            if value < 0:
                raise ConfigError(f"profile setting {key}={raw!r} is negative: give 0 or more")
            change: dict[str, Any] = {attr: value}
            if group:
                change = {group: dataclasses.replace(getattr(profile, group), **change)}
            profile = dataclasses.replace(profile, **change)
        return profile


# Flat setting name -> (group attribute or "", attribute, type).
FIELDS: dict[str, tuple[str, str, type[float] | type[int]]] = {
    "connect_timeout_s": ("timeouts", "connect_s", float),
    "message_timeout_s": ("timeouts", "message_s", float),
    "retry_attempts": ("retry", "attempts", int),
    "retry_delay_s": ("retry", "delay_s", float),
    "retry_backoff": ("retry", "backoff", float),
    "heartbeat_s": ("", "heartbeat_s", float),
    "workers": ("pacing", "workers", int),
    "max_connections": ("pacing", "max_connections", int),
    "connections_per_s": ("pacing", "connections_per_s", float),
    "messages_per_s": ("pacing", "messages_per_s", float),
    "latency_budget_s": ("", "latency_budget_s", float),
}

DEFAULT_PROFILES: dict[Mode, Profile] = {
    Mode.DOCKER_LOCAL: Profile(
        mode=Mode.DOCKER_LOCAL,
        timeouts=Timeouts(connect_s=10.0, message_s=15.0),
        retry=RetryPolicy(attempts=3, delay_s=0.5),
        heartbeat_s=20.0,
        pacing=Pacing(workers=2, max_connections=0, connections_per_s=0, messages_per_s=0),
        latency_budget_s=0.25,
    ),
    Mode.STAGING_FALLBACK: Profile(
        mode=Mode.STAGING_FALLBACK,
        timeouts=Timeouts(connect_s=30.0, message_s=45.0),
        retry=RetryPolicy(attempts=5, delay_s=2.0),
        heartbeat_s=20.0,
        pacing=Pacing(workers=2, max_connections=10, connections_per_s=20, messages_per_s=50),
        latency_budget_s=1.0,
    ),
    Mode.MINIMAL: Profile(
        mode=Mode.MINIMAL,
        timeouts=Timeouts(connect_s=5.0, message_s=10.0),
        retry=RetryPolicy(attempts=2, delay_s=0.1),
        heartbeat_s=20.0,
        pacing=Pacing(workers=2, max_connections=0, connections_per_s=0, messages_per_s=0),
        latency_budget_s=0.25,
    ),
}

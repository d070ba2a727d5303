"""Per-mode timeouts, retry policy, heartbeat, parallelism and pacing.

A profile is a small frozen value. The defaults come from the field; every value can be
overridden from ``[tool.test_framework.profiles.<mode>]``, ``MC_<KEY>`` environment variables
or ``--mc-profile KEY=VALUE`` (see ``settings``).
"""

from __future__ import annotations

import contextlib
import dataclasses
import enum
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from test_framework.errors import ConfigError
from test_framework.given import Given
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

    def with_overrides(self, values: Mapping[str, Given]) -> Profile:
        """Return a copy with flat overrides applied (keys from ``FIELDS``)."""
        profile = self
        for key, given in values.items():
            if key not in FIELDS:
                known = ", ".join(sorted(FIELDS))
                raise ConfigError(f"unknown profile setting {key!r}: use one of {known}")
            spec = FIELDS[key]
            change: dict[str, Any] = {spec.attr: spec.parse(given)}
            if spec.group:
                change = {spec.group: dataclasses.replace(getattr(profile, spec.group), **change)}
            profile = dataclasses.replace(profile, **change)
        return profile


class Floor(enum.Enum):
    """The least value a setting takes. A zero timeout, delay or budget would fail every test,
    so those must be positive; ``0`` is allowed only where it has a meaning of its own."""

    POSITIVE = "more than 0"
    ZERO_UNLIMITED = "0 (unlimited) or more"
    ZERO_ONE_PROCESS = "0 (one process, no pytest-xdist workers) or more"
    ONE = "1 or more"


@dataclass(frozen=True)
class Field:
    group: str  # the Profile attribute holding it, or "" for one of Profile's own
    attr: str
    kind: type[float] | type[int]
    floor: Floor
    seconds: bool = False

    def parse(self, given: Given) -> float | int:
        value = given.value
        number: float | int | None = None
        if isinstance(value, str):
            with contextlib.suppress(ValueError):
                number = self.kind(value.strip())
        elif isinstance(value, int if self.kind is int else int | float):
            # From pyproject.toml; a float where a whole number belongs is refused.
            number = None if isinstance(value, bool) else self.kind(value)
        if number is None or not math.isfinite(number):
            raise ConfigError(f"{given} {self._not_a_number()}")
        least_ok = {Floor.POSITIVE: number > 0, Floor.ONE: number >= 1}.get(self.floor, number >= 0)
        if not least_ok:
            unit = " seconds" if self.seconds else ""
            raise ConfigError(f"{given} must be {self.floor.value}{unit}")
        return number

    def _not_a_number(self) -> str:
        if self.seconds:
            return "is not a number of seconds: give e.g. 5"
        if self.kind is int:
            return "is not a whole number: give e.g. 3"
        return "is not a number: give e.g. 2"


_S = Floor.POSITIVE
# Flat setting name -> where it lives in a Profile, its type and its least value.
FIELDS: dict[str, Field] = {
    "connect_timeout_s": Field("timeouts", "connect_s", float, _S, seconds=True),
    "message_timeout_s": Field("timeouts", "message_s", float, _S, seconds=True),
    "retry_attempts": Field("retry", "attempts", int, Floor.ONE),
    "retry_delay_s": Field("retry", "delay_s", float, _S, seconds=True),
    "retry_backoff": Field("retry", "backoff", float, Floor.ONE),
    "heartbeat_s": Field("", "heartbeat_s", float, _S, seconds=True),
    "workers": Field("pacing", "workers", int, Floor.ZERO_ONE_PROCESS),
    "max_connections": Field("pacing", "max_connections", int, Floor.ZERO_UNLIMITED),
    "connections_per_s": Field("pacing", "connections_per_s", float, Floor.ZERO_UNLIMITED),
    "messages_per_s": Field("pacing", "messages_per_s", float, Floor.ZERO_UNLIMITED),
    "latency_budget_s": Field("", "latency_budget_s", float, _S, seconds=True),
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

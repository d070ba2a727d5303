"""Per-mode timeouts, retry policy, heartbeat, parallelism and pacing.

A profile is a small frozen value. What each setting accepts is in the settings
table (``settings_table.PROFILE``); every value can be overridden from
``[tool.test_framework.profiles.<mode>]``, its environment variable or ``--mc-profile KEY=VALUE``
(see ``settings``).
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from test_framework.errors import ConfigError
from test_framework.given import Given
from test_framework.modes import Mode
from test_framework.settings_table import PROFILE, Floor, Kind, Setting


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


@dataclass(frozen=True)
class Field:
    """Where a profile setting of the table lives in a ``Profile``."""

    group: str  # the Profile attribute holding it, or "" for one of Profile's own
    attr: str
    setting: Setting

    @property
    def kind(self) -> type[float] | type[int]:
        return int if self.setting.kind is Kind.WHOLE else float

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
        floor = self.setting.floor
        assert floor is not None, f"{self.setting.name}: every profile setting has a floor"
        least_ok = {Floor.POSITIVE: number > 0, Floor.ONE: number >= 1}.get(floor, number >= 0)
        if not least_ok:
            unit = " seconds" if self.setting.kind is Kind.SECONDS else ""
            raise ConfigError(f"{given} must be {floor.value}{unit}")
        return number

    def _not_a_number(self) -> str:
        if self.setting.kind is Kind.SECONDS:
            return "is not a number of seconds: give e.g. 5"
        if self.kind is int:
            return "is not a whole number: give e.g. 3"
        return "is not a number: give e.g. 2"


# Profile setting -> where it lives in a Profile (the table says what it accepts).
_PLACES: dict[str, tuple[str, str]] = {
    "connect_timeout_s": ("timeouts", "connect_s"),
    "message_timeout_s": ("timeouts", "message_s"),
    "retry_attempts": ("retry", "attempts"),
    "retry_delay_s": ("retry", "delay_s"),
    "retry_backoff": ("retry", "backoff"),
    "heartbeat_s": ("", "heartbeat_s"),
    "workers": ("pacing", "workers"),
    "max_connections": ("pacing", "max_connections"),
    "connections_per_s": ("pacing", "connections_per_s"),
    "messages_per_s": ("pacing", "messages_per_s"),
    "latency_budget_s": ("", "latency_budget_s"),
}
FIELDS: dict[str, Field] = {s.name: Field(*_PLACES[s.name], s) for s in PROFILE}

"""What each execution mode is, one record a mode: its probe, its backend, the harness extra it
needs installed, whether its deployment can be controlled, its profile defaults.

The runners, the pytest plugin, the settings and the contract command look a mode up here; a
new mode (or a new kind of service start for one) is one entry. The probe and the backends are
named by ``module:attribute`` and imported when asked for: this module sits below the settings
(which take the profiles from it), and the probe command must not import a backend (the Docker
SDK) to answer. Standard library only.
"""

from __future__ import annotations

import importlib
import types
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from test_framework.modes import ALL_MODES, Mode
from test_framework.profiles import Pacing, Profile, RetryPolicy, Timeouts
from test_framework.service import StartKind


@dataclass(frozen=True)
class Extra:
    """An extra of the harness's distribution, and a module by which to tell it is installed."""

    name: str
    module: str
    what: str


@dataclass(frozen=True)
class ModeSpec:
    mode: Mode
    # ``module:function``, a ``probes.runner.Probe``.
    probe: str
    # ``module:Class``, a ``backends.base.Backend`` made as ``Class(settings, run)``...
    backend: str
    # ...or, for a service started this way, this one instead.
    backend_by_start: Mapping[StartKind, str] = field(
        default_factory=lambda: types.MappingProxyType({})
    )
    # What a runner installs next to the project's ``install`` for this mode.
    extra: Extra | None = None
    # Whether a test may terminate and restart the deployment (``deployment_control``).
    controllable: bool = True
    # The kinds of service start whose backend is set starting as soon as the run's mode is
    # decided (a ``backends.base.EarlyStartBackend``): a local process, nothing shared.
    early_start: frozenset[StartKind] = frozenset()
    profile: Profile = field(kw_only=True)

    def probe_function(self) -> Any:
        return _resolve(self.probe)

    def backend_class(self, start: StartKind | None) -> Any:
        """The backend class of this mode for a service started as ``start``."""
        name = self.backend_by_start.get(start, self.backend) if start else self.backend
        return _resolve(name)


def _resolve(name: str) -> Any:
    module, _, attribute = name.partition(":")
    return getattr(importlib.import_module(module), attribute)


def _profile(
    mode: Mode, timeouts: Timeouts, retry: RetryPolicy, pacing: Pacing, latency_budget_s: float
) -> Profile:
    return Profile(mode, timeouts, retry, 20.0, pacing, latency_budget_s)


_UNPACED = Pacing(workers=2, max_connections=0, connections_per_s=0, messages_per_s=0)
_LOCAL_SERVICE = "test_framework.backends.local_service:LocalServiceBackend"
DOCKER_EXTRA = Extra("docker", "docker", "the Docker SDK")

MODE_SPECS: Mapping[Mode, ModeSpec] = types.MappingProxyType(
    {
        Mode.DOCKER_LOCAL: ModeSpec(
            Mode.DOCKER_LOCAL,
            probe="test_framework.probes.docker:probe_docker",
            backend="test_framework.backends.docker:DockerBackend",
            extra=DOCKER_EXTRA,
            profile=_profile(
                Mode.DOCKER_LOCAL, Timeouts(10.0, 15.0), RetryPolicy(3, 0.5), _UNPACED, 0.25
            ),
        ),
        Mode.STAGING_FALLBACK: ModeSpec(
            Mode.STAGING_FALLBACK,
            probe="test_framework.probes.staging:probe_staging",
            backend="test_framework.backends.staging:StagingBackend",
            controllable=False,
            profile=_profile(
                Mode.STAGING_FALLBACK,
                Timeouts(30.0, 45.0),
                RetryPolicy(5, 2.0),
                Pacing(workers=2, max_connections=10, connections_per_s=20, messages_per_s=50),
                1.0,
            ),
        ),
        Mode.MINIMAL: ModeSpec(
            Mode.MINIMAL,
            probe="test_framework.probes.minimal:probe_minimal",
            backend="test_framework.backends.inprocess:InProcessBackend",
            backend_by_start=types.MappingProxyType(
                {StartKind.COMMAND: _LOCAL_SERVICE, StartKind.ASGI_APP: _LOCAL_SERVICE}
            ),
            early_start=frozenset({StartKind.COMMAND, StartKind.ASGI_APP}),
            profile=_profile(
                Mode.MINIMAL, Timeouts(5.0, 10.0), RetryPolicy(2, 0.1), _UNPACED, 0.25
            ),
        ),
    }
)
# Each mode's profile before the settings' overrides.
DEFAULT_PROFILES: Mapping[Mode, Profile] = types.MappingProxyType(
    {mode: MODE_SPECS[mode].profile for mode in ALL_MODES}
)

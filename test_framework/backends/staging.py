"""The staging_fallback backend: a deployment somebody else runs, reached by URL.

Nothing is started or stopped here. ``start`` re-validates the deployment with the staging
probe (one pass over DNS, TCP, TLS, health, token, WebSocket and ping, in tens of milliseconds
against a healthy deployment), because the decision to use staging may be minutes old by the
time a worker needs it, and hands back the endpoints. A probe that the network failed (a
dropped connection, a timeout) is tried again with the profile's retry policy; one that the
deployment answered (401, 404, a bad certificate) is not. URLs and details carry no secrets.
"""

from __future__ import annotations

import logging
import time

from test_framework.backends.base import RunContext
from test_framework.client.credentials import DEFAULT_USER_PREFIX, Credentials
from test_framework.client.redaction import redact_url
from test_framework.endpoints import Endpoints
from test_framework.errors import ServiceUnavailableError
from test_framework.modes import Mode
from test_framework.probes.result import ProbeResult
from test_framework.probes.staging import probe_staging
from test_framework.probes.staging_walk import TRANSIENT_FAILURES
from test_framework.settings import Settings

log = logging.getLogger(__name__)


class StagingBackend:
    def __init__(self, settings: Settings, run: RunContext) -> None:
        self.settings = settings
        self.run = run
        self._endpoints: Endpoints | None = None

    def start(self) -> Endpoints:
        if self._endpoints is not None:
            return self._endpoints
        staging = self.settings.staging
        probe, attempts = self._validate()
        if not probe.available:
            where = redact_url(staging.ws_url or "(not configured)")
            raise ServiceUnavailableError(
                f"staging deployment {where} is not usable:"
                f" {probe.reason}; fix the deployment or its STAGING_* settings, or pick"
                " another mode"
            )
        assert staging.ws_url is not None
        assert staging.backend_url is not None
        assert staging.auth_url is not None
        details = {
            key: probe.details[key]
            for key in ("server_version", "tls_version", "ca_bundle", "user")
            if probe.details.get(key)
        }
        details["probe_ms"] = f"{probe.elapsed_ms:.0f}"
        details["probe_attempts"] = str(attempts)
        self._endpoints = Endpoints(
            ws_url=staging.ws_url,
            http_url=staging.backend_url,
            auth_url=staging.auth_url,
            ca_bundle=staging.ca_bundle,
            details=details,
        )
        shown = redact_url(staging.ws_url)
        log.info("staging deployment %s validated in %.0f ms", shown, probe.elapsed_ms)
        return self._endpoints

    def _validate(self) -> tuple[ProbeResult, int]:
        """Probe, trying again as the profile's retry policy allows when the network (a drop,
        a timeout) rather than the deployment's answer failed it."""
        delays = self.settings.profile(Mode.STAGING_FALLBACK).retry.delays()
        attempt = 1
        while True:
            # In the session: an auth function must be importable here.
            probe = probe_staging(self.settings, in_session=True)
            transient = probe.details.get("failure") in TRANSIENT_FAILURES
            if probe.available or not transient or attempt > len(delays):
                return probe, attempt
            delay = delays[attempt - 1]
            log.warning(
                "staging probe attempt %d failed (%s); trying again in %.1f s",
                attempt,
                probe.reason,
                delay,
            )
            time.sleep(delay)
            attempt += 1

    def stop(self) -> None:
        """Nothing to stop: the deployment is not ours."""
        self._endpoints = None

    def end_run(self) -> None:
        """Nothing to remove: the deployment is not ours."""

    def credentials(self) -> Credentials:
        """``STAGING_TEST_USER`` as the user id prefix, the password, the ready token."""
        return staging_credentials(self.settings)


def staging_credentials(settings: Settings) -> Credentials:
    """Credentials for the staging deployment; registering them with redaction on creation.

    ``STAGING_TEST_USER`` is the prefix of every user id the suite makes up (tests need
    several users); a deployment that accepts one user only needs ``STAGING_AUTH_TOKEN``.
    """
    staging = settings.staging
    return Credentials(
        user_prefix=staging.user or DEFAULT_USER_PREFIX,
        password=staging.password,
        token=staging.auth_token,
    )

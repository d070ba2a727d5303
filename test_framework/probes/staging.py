"""Can the staging deployment serve the suite? Standard library only.

The probe walks the path a test takes, one step at a time, each with its own timeout
(``STAGING_FALLBACK_TIMEOUT``) and its own reason on failure:

``dns`` -> ``tcp`` -> ``tls`` (wss/https only, verified against ``STAGING_CA_BUNDLE`` or the
system's trust store) -> ``health`` (only with a ``health_path`` in the service adapter:
``GET <health_path>`` is 200 with ``status: ok``; skipped when
``STAGING_HEALTH_CHECK_ENABLED=false``) -> ``token`` (per the adapter's ``auth``: Basic auth
against ``<auth>/token`` for ``token_endpoint``, skipped with a ready ``STAGING_AUTH_TOKEN``; the
team's function for ``module:function``; skipped for ``bearer`` and ``none``) -> ``websocket``
(an RFC 6455 upgrade with those credentials; then the ``ready_message``, when one is set) ->
``ping`` (a WebSocket ping answered; with ``protocol_ping``, a ``{"type": "ping"}`` too).

Every step's failure says what it waited for ("no 'connection_ready' message within 5 s after
the upgrade"). The first failing step ends the probe, and the reason names it. Secrets never
reach the result.
"""

from __future__ import annotations

import time

from test_framework.errors import ConfigError
from test_framework.modes import Mode
from test_framework.probes.result import ProbeResult
from test_framework.service import TABLE, AuthKind
from test_framework.settings import Settings, check_url
from test_framework.settings_table import (
    STAGING_AUTH_TOKEN,
    STAGING_AUTH_URL,
    STAGING_BACKEND_URL,
    STAGING_CA_BUNDLE,
    STAGING_ENABLED,
    STAGING_PASSWORD,
    STAGING_USER,
    STAGING_WS_URL,
)

_USER_AND_PASSWORD = f"{STAGING_USER.env} and {STAGING_PASSWORD.env}"
NOT_CONFIGURED = (
    f"not configured: set {STAGING_WS_URL.env} (e.g. wss://staging.example.com/ws) or"
    f" {STAGING_BACKEND_URL.env}, with {_USER_AND_PASSWORD} or {STAGING_AUTH_TOKEN.env}"
)
NO_CREDENTIALS = f"no credentials: set {_USER_AND_PASSWORD}, or {STAGING_AUTH_TOKEN.env}"
NO_BEARER_TOKEN = f"no credentials: auth = 'bearer' in {TABLE} needs {STAGING_AUTH_TOKEN.env}"
DISABLED = f"disabled by {STAGING_ENABLED.env}=false"


def _refusal(settings: Settings) -> str | None:
    """Why the probe cannot even start, or ``None``."""
    staging = settings.staging
    if not staging.enabled:
        return DISABLED
    if not staging.configured or not staging.ws_url or not staging.auth_url:
        return NOT_CONFIGURED
    kind = settings.service.auth_kind
    if kind is AuthKind.TOKEN_ENDPOINT and not (
        staging.auth_token or (staging.user and staging.password)
    ):
        return NO_CREDENTIALS
    if kind is AuthKind.BEARER and not staging.auth_token:
        return NO_BEARER_TOKEN
    try:
        check_url(STAGING_WS_URL.env, staging.ws_url, ("wss", "ws"))
        check_url(STAGING_BACKEND_URL.env, staging.backend_url or "", ("https", "http"))
        check_url(STAGING_AUTH_URL.env, staging.auth_url, ("https", "http"))
    except ConfigError as exc:
        return str(exc)
    if staging.ca_bundle is not None and not staging.ca_bundle.is_file():
        bundle = f"{STAGING_CA_BUNDLE.env}={str(staging.ca_bundle)!r}"
        return f"{bundle} is not a file: give a PEM CA bundle"
    return None


def probe_staging(settings: Settings, *, in_session: bool = False) -> ProbeResult:
    """Whether staging_fallback can run here, and why; see the module docstring for the steps.

    ``in_session``: an ``auth = "module:function"`` must be importable here."""
    started = time.perf_counter()
    staging = settings.staging
    refusal = _refusal(settings)
    if refusal is not None:
        elapsed = (time.perf_counter() - started) * 1000
        # Disabled or not configured: nothing to test, and the reason is one of this module's
        # own sentences, so the redaction module is not even imported (most probes end here).
        # A URL without credentials, or with a CA bundle that is not there, is a deployment
        # someone meant to test: broken, and its reason may carry what was given.
        if refusal in (DISABLED, NOT_CONFIGURED):
            return ProbeResult(Mode.STAGING_FALLBACK, False, refusal, elapsed)
        from test_framework.client.redaction import redact_text

        return ProbeResult(Mode.STAGING_FALLBACK, False, redact_text(refusal), elapsed, broken=True)
    from test_framework.client.redaction import redact_text, register_secret

    register_secret(staging.password)
    register_secret(staging.auth_token)
    from test_framework.probes.staging_walk import Walk, public_details, walk_steps

    walk = Walk(timeout_s=staging.step_timeout_s)
    walk.details.update(public_details(settings))
    walk_steps(settings, walk, in_session)

    elapsed = (time.perf_counter() - started) * 1000
    if walk.failure is not None:
        reason = walk.failure
    else:
        reason = f"healthy: {len(walk.steps)} steps in {elapsed:.0f} ms"
    return ProbeResult(
        mode=Mode.STAGING_FALLBACK,
        available=walk.failure is None,
        reason=redact_text(reason),
        elapsed_ms=elapsed,
        details={key: redact_text(value) for key, value in walk.details.items()},
        steps=tuple(walk.steps),
        broken=walk.failure is not None,
    )

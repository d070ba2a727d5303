"""The staging probe's steps over the network, once ``probe_staging`` found a deployment to
walk (see ``test_framework.probes.staging``). Imported only then: a probe that finds staging
unconfigured must not pay for ``ssl`` and the wire code. Standard library only.
"""

from __future__ import annotations

import base64
import importlib
import importlib.util
import json
import os
import socket
import ssl
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from test_framework.client.redaction import redact_text, redact_url, register_secret
from test_framework.probes.result import StepResult
from test_framework.probes.wire import (
    OP_PING,
    OP_PONG,
    OP_TEXT,
    Conn,
    Deadline,
    Origin,
    StepFailed,
    close_websocket,
    connect,
    http_get,
    next_event,
    open_conn,
    origin_of,
    resolve,
    send_frame,
    tls_context,
    tls_wrap,
    websocket_upgrade,
)
from test_framework.service import TABLE, AuthKind, ServiceSettings
from test_framework.settings import Settings, StagingSettings
from test_framework.settings_table import (
    STAGING_AUTH_TOKEN,
    STAGING_CA_BUNDLE,
    STAGING_HEALTH_CHECK,
    STAGING_PASSWORD,
    STAGING_TIMEOUT,
    STAGING_USER,
)
from test_framework.wording import quoted

# A step whose connection is dropped (reset, or closed before an answer) is tried again, within
# its own deadline: one dropped connection on a flaky network is not a broken deployment. A
# timeout or an answer (a 401, a 404, a bad certificate) is never retried.
ATTEMPTS = 3
# ``ProbeResult.details["failure"]`` on an unavailable result that got as far as the network.
FAILURE_DROPPED, FAILURE_TIMEOUT, FAILURE_ANSWER = "dropped", "timeout", "answer"
TRANSIENT_FAILURES = frozenset({FAILURE_DROPPED, FAILURE_TIMEOUT})
# A peer that closes during the handshake is SSLEOFError with some OpenSSL builds and
# SSLZeroReturnError with others (Debian bookworm's Python 3.11.2): both are a drop.
_TLS_DROPS = (ssl.SSLEOFError, ssl.SSLZeroReturnError)
_DROPS = (ConnectionResetError, ConnectionAbortedError, BrokenPipeError, *_TLS_DROPS)


@dataclass
class Walk:
    """The steps done so far and what they learned."""

    timeout_s: float
    steps: list[StepResult] = field(default_factory=list)
    details: dict[str, str] = field(default_factory=dict)
    failure: str | None = None
    # What the step is waiting for, for a timeout's reason: "no <waiting> within 5 s".
    waiting: str = "answer"

    def run(self, name: str, check: Callable[[Deadline], str], *, retry: bool = True) -> bool:
        """Run one step under its own deadline; record it; return whether it passed.

        With ``retry``, ``check`` must open what it needs again when called a second time.
        """
        started = time.perf_counter()
        deadline = Deadline(self.timeout_s)
        self.waiting = "answer"
        attempt = 1
        while True:
            try:
                detail = check(deadline)
                break
            except _DROPS as exc:
                if not retry or attempt >= ATTEMPTS or deadline.end - time.monotonic() <= 0:
                    return self._fail(name, started, attempt, exc)
                attempt += 1
                time.sleep(min(0.05 * attempt, max(deadline.end - time.monotonic(), 0)))
            except (StepFailed, OSError, ValueError) as exc:
                return self._fail(name, started, attempt, exc)
        elapsed = (time.perf_counter() - started) * 1000
        if attempt > 1:
            detail += f" (attempt {attempt}: earlier connections were dropped)"
        self.steps.append(StepResult(name, True, elapsed, redact_text(detail)))
        return True

    def _fail(self, name: str, started: float, attempts: int, exc: BaseException) -> bool:
        elapsed = (time.perf_counter() - started) * 1000
        reason = redact_text(describe(exc, self.timeout_s, self.waiting))
        if attempts > 1:
            reason += f" ({attempts} attempts)"
        self.steps.append(StepResult(name, False, elapsed, reason))
        self.failure = f"{name} failed after {elapsed:.0f} ms: {reason}"
        self.details["failure"] = failure_kind(exc)
        return False

    def skip(self, name: str, why: str) -> None:
        self.steps.append(StepResult(name, True, 0.0, f"skipped: {why}"))


def failure_kind(exc: BaseException) -> str:
    """``dropped`` or ``timeout`` (the network; worth trying again later) or ``answer`` (the
    deployment said no: a status, a certificate, a message; trying again will not help)."""
    if isinstance(exc, _DROPS):
        return FAILURE_DROPPED
    if isinstance(exc, TimeoutError):
        return FAILURE_TIMEOUT
    return FAILURE_ANSWER


def describe(exc: BaseException, timeout_s: float, waiting: str = "answer") -> str:
    """One line for what went wrong in a step; a timeout says what it waited for."""
    if isinstance(exc, StepFailed):
        return str(exc)
    if isinstance(exc, TimeoutError):
        what, _, when = waiting.partition(" @ ")
        after = f" {when}" if when else ""
        return f"no {what} within {timeout_s:g} s{after} ({STAGING_TIMEOUT.env})"
    if isinstance(exc, ssl.SSLCertVerificationError):
        return f"certificate verification failed: {exc.verify_message}"
    if isinstance(exc, _TLS_DROPS):
        return "the server dropped the connection during TLS"
    if isinstance(exc, ssl.SSLError):
        return f"TLS error: {exc.reason or exc}"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused: nothing is listening there"
    if isinstance(exc, ConnectionResetError | BrokenPipeError):
        return f"the server dropped the connection ({exc.strerror or exc})"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc) or type(exc).__name__


def public_details(settings: Settings) -> dict[str, str]:
    staging = settings.staging
    details = {
        "ws_url": redact_url(staging.ws_url or ""),
        "backend_url": redact_url(staging.backend_url or ""),
        "auth_url": redact_url(staging.auth_url or ""),
        "ca_bundle": str(staging.ca_bundle) if staging.ca_bundle else "system default",
        "step_timeout_s": f"{staging.step_timeout_s:g}",
    }
    if staging.user:
        details["user"] = staging.user
    return details


def walk_steps(settings: Settings, walk: Walk, in_session: bool) -> None:
    staging = settings.staging
    assert staging.ws_url
    assert staging.backend_url
    assert staging.auth_url
    ca = str(staging.ca_bundle) if staging.ca_bundle else None
    ws_origin, ws_target = origin_of(staging.ws_url)
    state: dict[str, object] = {}

    def dns(deadline: Deadline) -> str:
        walk.waiting = f"address for {quoted(ws_origin.host)}"
        try:
            addresses = resolve(ws_origin.host, ws_origin.port, deadline.remaining())
        except socket.gaierror as exc:
            raise StepFailed(f"cannot resolve {quoted(ws_origin.host)}: {exc.strerror}") from None
        state["addresses"] = addresses
        return ", ".join(sorted({address[0] for _, address in addresses}))

    def tcp(deadline: Deadline) -> str:
        walk.waiting = f"TCP connection to {ws_origin.host}:{ws_origin.port}"
        addresses = state["addresses"]
        assert isinstance(addresses, list)
        try:
            sock = connect(addresses, deadline)
        except ConnectionRefusedError:
            where = f"{ws_origin.host}:{ws_origin.port}"
            raise StepFailed(f"connection to {where} refused: nothing is listening there") from None
        state["conn"] = Conn(sock)
        peer = sock.getpeername()
        return f"connected to {peer[0]}:{peer[1]}"

    def tls(deadline: Deadline) -> str:
        walk.waiting = f"answer to the TLS handshake with {ws_origin.host}"
        # After a dropped handshake, connect again: the step owns its retry.
        conn = state.pop("conn", None)
        if not isinstance(conn, Conn):
            addresses = state["addresses"]
            assert isinstance(addresses, list)
            conn = Conn(connect(addresses, deadline))
        try:
            wrapped = tls_wrap(conn.sock, ws_origin.host, tls_context(ca), deadline)
        except ssl.SSLCertVerificationError as exc:
            bundle = STAGING_CA_BUNDLE.env
            trusted = f"{bundle}={ca}" if ca else f"the system's CAs (no {bundle})"
            raise StepFailed(
                f"certificate verification failed: {str(exc.verify_message).rstrip('.')};"
                f" trusted: {trusted}"
            ) from None
        state["conn"] = Conn(wrapped)
        walk.details["tls_version"] = wrapped.version() or ""
        return f"{wrapped.version()}, certificate valid for {ws_origin.host}"

    try:
        if not walk.run("dns", dns) or not walk.run("tcp", tcp):
            return
        if ws_origin.tls:
            if not walk.run("tls", tls):
                return
        else:
            walk.skip("tls", f"plain {staging.ws_url.split(':', 1)[0]}:// URL")
        service = settings.service
        if not service.health_path:
            walk.skip("health", f"no health_path in {TABLE}")
        elif not staging.health_check_enabled:
            walk.skip("health", f"{STAGING_HEALTH_CHECK.env}=false")
        elif not walk.run("health", lambda d: _health(settings, walk, ws_origin, state, ca, d)):
            return
        credentials = _credentials(settings, walk, ca, in_session)
        if credentials is None:
            return
        headers, query = credentials
        if query:
            ws_target += ("&" if "?" in ws_target else "?") + urlencode(query)
        _websocket_steps(walk, service, ws_origin, ws_target, headers, ca)
    finally:
        leftover = state.get("conn")
        if isinstance(leftover, Conn):
            leftover.close()


def _credentials(
    settings: Settings, walk: Walk, ca: str | None, in_session: bool
) -> tuple[dict[str, str], dict[str, str]] | None:
    """The ``token`` step, per the adapter's auth kind: the upgrade's headers and query, or
    ``None`` when the walk ends here (a failed step, or nothing the probe can check)."""
    staging = settings.staging
    service = settings.service
    kind = service.auth_kind
    token: str | None = None
    if kind is AuthKind.NONE:
        walk.skip("token", "auth = none")
        return {}, {}
    if kind is AuthKind.BEARER:
        walk.skip("token", f"auth = bearer: {STAGING_AUTH_TOKEN.env} is sent as it is")
        token = staging.auth_token
    elif kind is AuthKind.TOKEN_ENDPOINT:
        token = staging.auth_token
        if staging.user and staging.password:
            fetched: list[str] = []
            if not walk.run("token", lambda d: _token(staging, walk, ca, fetched, d)):
                return None
            token = fetched[0]
        else:
            walk.skip("token", f"using {STAGING_AUTH_TOKEN.env}")
    else:
        module = service.auth.partition(":")[0]
        if importlib.util.find_spec(module.split(".")[0]) is None and not in_session:
            why = f"auth by {service.auth}: {module} is not importable here; the session checks it"
            for step in ("token", "websocket", "ping"):
                walk.skip(step, why)
            return None
        made: list[tuple[dict[str, str], dict[str, str]]] = []
        if not walk.run("token", lambda _: _auth_function(settings, made), retry=False):
            return None
        return made[0]
    assert token is not None
    register_secret(token)
    if service.token_via == "query":
        return {}, {"token": token}
    return {"Authorization": f"Bearer {token}"}, {}


def _auth_function(settings: Settings, out: list[tuple[dict[str, str], dict[str, str]]]) -> str:
    """The upgrade's headers and query from the team's ``module:function``, called for the
    staging user as the fixtures call it."""
    # Imported only for this auth kind: they cost more than the rest of the probe.
    import asyncio
    import inspect

    from test_framework.client.credentials import DEFAULT_USER_PREFIX, Credentials
    from test_framework.endpoints import Endpoints

    reference = settings.service.auth
    module_name, _, attribute = reference.partition(":")
    try:
        function = getattr(importlib.import_module(module_name), attribute)
    except (ImportError, AttributeError) as exc:
        raise StepFailed(f"cannot load auth {reference} ({exc}): fix auth in {TABLE}") from None
    staging = settings.staging
    assert staging.ws_url
    assert staging.backend_url
    assert staging.auth_url
    endpoints = Endpoints(staging.ws_url, staging.backend_url, staging.auth_url, staging.ca_bundle)
    credentials = Credentials(
        staging.user or DEFAULT_USER_PREFIX, staging.password, staging.auth_token
    )
    made = function(credentials.user_prefix, credentials, endpoints)
    if inspect.isawaitable(made):
        made = asyncio.run(_awaited(made))
    headers = getattr(made, "headers", None)
    query = getattr(made, "query", None)
    if not isinstance(headers, Mapping) or not isinstance(query, Mapping):
        raise StepFailed(f"auth {reference} returned {type(made).__name__}, not an AuthRequest")
    for value in (*headers.values(), *query.values()):
        register_secret(str(value))
    out.append(
        (
            {str(k): str(v) for k, v in headers.items()},
            {str(k): str(v) for k, v in query.items()},
        )
    )
    return (
        f"auth by {reference}: {len(headers)} header(s), {len(query)} query parameter(s);"
        " checked by the upgrade"
    )


async def _awaited(awaitable: Any) -> Any:
    return await awaitable


def _health(
    settings: Settings,
    walk: Walk,
    ws_origin: Origin,
    state: dict[str, object],
    ca: str | None,
    deadline: Deadline,
) -> str:
    """``GET <health_path>``: any 2xx (with ``health_status_ok``, the JSON ``status: ok``).
    Reuses the first connection when it fits (and is still unused: a retry after a drop opens
    a new one)."""
    assert settings.staging.backend_url
    url = settings.staging.backend_url.rstrip("/") + settings.service.health_path
    origin, target = origin_of(url)
    url = redact_url(url)  # from here on, only in messages
    walk.waiting = f"answer to GET {url}"
    early = state.pop("conn", None)
    if isinstance(early, Conn) and origin == ws_origin:
        conn = early
    else:
        if isinstance(early, Conn):
            early.close()
        conn, _ = open_conn(origin, ca, deadline)
    try:
        response = http_get(conn, origin, target, {}, deadline)
    finally:
        conn.close()
    if not settings.service.health_status_ok:
        # Any 2xx is healthy: a plain "ok" is what Kubernetes probes and most teams answer.
        if not 200 <= response.status < 300:
            raise StepFailed(f"GET {url} answered {response.summary()} (expected a 2xx)")
        return f"{response.status}"
    expected = "expected 2xx with JSON status ok (health_status_ok)"
    if not 200 <= response.status < 300:
        raise StepFailed(f"GET {url} answered {response.summary()} ({expected})")
    try:
        body = json.loads(response.body)
    except ValueError:
        raise StepFailed(
            f"GET {url} answered {response.status} but not JSON ({expected})"
        ) from None
    if not isinstance(body, dict) or body.get("status") != "ok":
        text = response.body[:120].decode("utf-8", "replace")
        raise StepFailed(f"GET {url} answered {response.status} with {text} ({expected})")
    version = body.get("version")
    status = f"{response.status} status ok"
    return f"{status}, version {version}" if version else status


def _token(
    staging: StagingSettings, walk: Walk, ca: str | None, out: list[str], deadline: Deadline
) -> str:
    """A token from ``<auth>/token`` with Basic auth for ``STAGING_TEST_USER``."""
    assert staging.auth_url
    assert staging.user
    assert staging.password
    url = staging.auth_url.rstrip("/") + "/token"
    origin, target = origin_of(url)
    url = redact_url(url)  # from here on, only in messages
    walk.waiting = f"answer to GET {url}"
    basic = base64.b64encode(f"{staging.user}:{staging.password}".encode()).decode("ascii")
    register_secret(basic)
    conn, _ = open_conn(origin, ca, deadline)
    try:
        response = http_get(conn, origin, target, {"Authorization": f"Basic {basic}"}, deadline)
    finally:
        conn.close()
    if response.status == 401:
        raise StepFailed(
            f"GET {url} refused {STAGING_USER.env}={staging.user!r}: {response.summary()};"
            f" check {STAGING_PASSWORD.env}"
        )
    if response.status != 200:
        raise StepFailed(f"GET {url} answered {response.summary()} (expected 200 with a token)")
    try:
        body = json.loads(response.body)
    except ValueError:
        raise StepFailed(f"GET {url} answered 200 but not JSON") from None
    token = body.get("access_token") if isinstance(body, dict) else None
    if not isinstance(token, str) or not token:
        raise StepFailed(f"GET {url} answered 200 without an access_token")
    register_secret(token)
    out.append(token)
    return f"token for {staging.user!r}, expires in {body.get('expires_in')} s"


def _websocket_steps(
    walk: Walk,
    service: ServiceSettings,
    origin: Origin,
    target: str,
    headers: dict[str, str],
    ca: str | None,
) -> None:
    opened: list[Conn] = []
    ready = service.ready_message

    def upgrade(deadline: Deadline) -> str:
        if opened:  # a retry after a dropped connection
            opened.pop().close()
        walk.waiting = f"answer to the WebSocket upgrade of {origin.host_header}{_path(target)}"
        conn, _ = open_conn(origin, ca, deadline)
        opened.append(conn)
        websocket_upgrade(conn, origin, target, headers, deadline)
        if not ready:
            return "upgraded (101); no ready_message configured, so the open socket is ready"
        walk.waiting = f"{ready!r} message @ after the upgrade"
        event = next_event(conn, deadline)
        if event.opcode != OP_TEXT:
            raise StepFailed(f"the first message after the upgrade is not a text frame ({ready!r})")
        message = _json_object(event.payload, "the first message")
        if message.get("type") != ready:
            raise StepFailed(
                f"the first message is {message.get('type')!r}, expected {ready!r} (ready_message)"
            )
        for key in ("server_version", "heartbeat_interval_s"):
            if key in message:
                walk.details[key] = str(message[key])
        who = f" for {message['user_id']!r}" if "user_id" in message else ""
        return f"upgraded (101), then {ready}{who}"

    def ping(deadline: Deadline) -> str:
        conn = opened[0]
        nonce = "probe-" + os.urandom(6).hex()
        send_frame(conn, OP_PING, nonce.encode(), deadline)
        if service.protocol_ping:
            ping_frame = json.dumps({"type": "ping", "nonce": nonce}).encode()
            send_frame(conn, OP_TEXT, ping_frame, deadline)
        control, protocol = False, not service.protocol_ping
        while not (control and protocol):
            missing = [
                name
                for name, done in (("WebSocket pong", control), ('{"type": "pong"}', protocol))
                if not done
            ]
            walk.waiting = " or ".join(missing) + f" @ after the ping {nonce!r}"
            event = next_event(conn, deadline)
            # RFC 6455 allows an unsolicited pong (a heartbeat), usually empty: not an answer.
            if event.opcode == OP_PONG and event.payload:
                if event.payload != nonce.encode():
                    raise StepFailed(
                        f"wrong nonce: the WebSocket pong carried {event.payload[:40]!r},"
                        f" the ping {nonce!r}"
                    )
                control = True
            elif event.opcode == OP_TEXT and service.protocol_ping:
                message = _json_object(event.payload, "a message")
                if message.get("type") == "pong":
                    if message.get("nonce") != nonce:
                        raise StepFailed(
                            f"wrong nonce: the protocol pong carried {message.get('nonce')!r},"
                            f" the ping {nonce!r}"
                        )
                    protocol = True
                elif message.get("type") == "error":
                    raise StepFailed(f"the ping was answered with an error: {message}")
        if service.protocol_ping:
            return "WebSocket pong and protocol pong"
        return 'WebSocket pong (protocol_ping is off: no {"type": "ping"} sent)'

    try:
        if walk.run("websocket", upgrade):
            # The ping rides the upgraded connection: a drop here is not retried on a dead socket.
            walk.run("ping", ping, retry=False)
    finally:
        if opened:
            close_websocket(opened[0], min(walk.timeout_s, 1.0))


def _path(target: str) -> str:
    """The request target without its query (which may hold a token)."""
    return target.split("?", 1)[0]


def _json_object(payload: bytes, what: str) -> dict[str, object]:
    try:
        value = json.loads(payload)
    except ValueError:
        raise StepFailed(f"{what} is not JSON: {payload[:80]!r}") from None
    if not isinstance(value, dict):
        raise StepFailed(f"{what} is not a JSON object")
    return value

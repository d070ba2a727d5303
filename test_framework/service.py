"""The service adapter: how the harness starts, reaches and authenticates to the service under
test, read from ``[tool.test_framework.service]``.

A team describes its own service here; ``preset = "agent-events"`` gives docs/protocol.md's
values (the reference service's). Explicit keys override the preset; without one the defaults
are generic: no health path, no authentication, the open socket is ready.

Standard library only: the noxfile loads settings before anything is installed.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from test_framework.errors import ConfigError
from test_framework.given import typed

TABLE = "[tool.test_framework.service]"
ADOPTING = "see docs/adopting.md"
NO_SERVICE = f"no service configured: set factory in {TABLE} ({ADOPTING})"
NO_COMPOSE_FILE = f"no compose file configured: set compose_file in {TABLE} ({ADOPTING})"

_NAME = r"[A-Za-z_][A-Za-z0-9_]*"
_DOTTED = re.compile(rf"^{_NAME}(\.{_NAME})*$")
_IDENTIFIER = re.compile(rf"^{_NAME}$")


class AuthKind(enum.Enum):
    """How a client authenticates its WebSocket upgrade."""

    NONE = "none"
    BEARER = "bearer"  # a static token: the run's MC test token, or STAGING_AUTH_TOKEN
    TOKEN_ENDPOINT = "token_endpoint"  # GET <auth_path>/token with Basic user:password
    FUNCTION = "module:function"  # a team's function returns the headers and query


@dataclass(frozen=True)
class ServiceSettings:
    """Names the service under test, so the harness needs no edit to test another one."""

    preset: str = ""
    factory: str = ""  # "module:callable" for minimal mode; "" = none
    compose_file: str = ""  # docker_local; "" = none
    compose_service: str = "backend"
    container_port: int = 8000
    ws_path: str = "/ws"
    health_path: str = ""  # "" = no health step: TCP, TLS and the upgrade say it is up
    auth: str = "none"  # "none", "bearer", "token_endpoint" or "module:function"
    auth_path: str = "/auth"  # token_endpoint only
    token_via: str = "header"  # "header" (Authorization: Bearer) or "query" (?token=)
    ready_message: str = ""  # "" = the open socket is ready; else the first message's type
    protocol_ping: bool = False  # the service answers {"type": "ping"} with {"type": "pong"}
    # docker_local: also wait for the container's own healthcheck (`compose up --wait`), not
    # only for the harness's poll of the published port.
    wait_for_compose_healthcheck: bool = False

    @property
    def auth_kind(self) -> AuthKind:
        if ":" in self.auth:
            return AuthKind.FUNCTION
        return AuthKind(self.auth)


PRESETS: Mapping[str, Mapping[str, Any]] = {
    # docs/protocol.md: the token endpoint with a shared test password, connection_ready first,
    # {"type": "ping"} answered with a pong.
    "agent-events": {
        "ws_path": "/ws",
        "health_path": "/health",
        "auth": "token_endpoint",
        "auth_path": "/auth",
        "token_via": "header",
        "ready_message": "connection_ready",
        "protocol_ping": True,
    },
}

KEYS: tuple[str, ...] = tuple(f.name for f in fields(ServiceSettings))
_DEFAULTS = ServiceSettings()


def parse_service(table: Mapping[str, Any], source: Path) -> ServiceSettings:
    """The service table's settings: defaults < preset < the table's own keys.

    Refuses an unknown key or a bad value in one line naming the key and the fix.
    """
    where = f"{source}: {TABLE}"
    unknown = set(table) - set(KEYS)
    if unknown:
        raise ConfigError(
            f"{source}: unknown key(s) {', '.join(sorted(unknown))} in {TABLE}:"
            f" use {', '.join(KEYS)}"
        )
    values: dict[str, Any] = {}
    for name, raw in table.items():
        values[name] = typed(raw, type(getattr(_DEFAULTS, name)), f"{where} {name}")
    preset = values.get("preset", "")
    if preset:
        if preset not in PRESETS:
            raise ConfigError(
                f"{where} preset = {preset!r} is unknown: use {', '.join(map(repr, PRESETS))},"
                " or leave it out and set the keys yourself"
            )
        values = {**PRESETS[preset], **values}
    settings = ServiceSettings(**values)
    _check(settings, where)
    return settings


def _check(service: ServiceSettings, where: str) -> None:
    if not service.ws_path.startswith("/"):
        raise ConfigError(f"{where} ws_path = {service.ws_path!r} must start with '/': e.g. '/ws'")
    for name in ("health_path", "auth_path"):
        value = getattr(service, name)
        if value and not value.startswith("/"):
            raise ConfigError(
                f"{where} {name} = {value!r} must start with '/' (or be \"\" for none)"
            )
    kinds = [kind.value for kind in AuthKind]
    if ":" in service.auth:
        if not _is_reference(service.auth):
            raise ConfigError(
                f"{where} auth = {service.auth!r} is not 'module:function':"
                " give e.g. 'my_service.testing:auth'"
            )
    elif service.auth not in kinds:
        raise ConfigError(f"{where} auth = {service.auth!r} is unknown: use {', '.join(kinds)}")
    if service.token_via not in ("header", "query"):
        raise ConfigError(
            f"{where} token_via = {service.token_via!r} is unknown: use 'header' or 'query'"
        )
    if not 0 < service.container_port < 65536:
        raise ConfigError(
            f"{where} container_port = {service.container_port} is not a port: give 1 to 65535"
        )


def _is_reference(text: str) -> bool:
    """``package.module:attribute``."""
    module, sep, attribute = text.partition(":")
    return bool(sep and _DOTTED.match(module) and _IDENTIFIER.match(attribute))

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
import shlex
import string
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from test_framework.errors import ConfigError
from test_framework.given import typed

TABLE = "[tool.test_framework.service]"
ADOPTING = "see docs/adopting.md"
NO_SERVICE = f"no service configured: set command, asgi_app or factory in {TABLE} ({ADOPTING})"
NO_COMPOSE_FILE = f"no compose file configured: set compose_file in {TABLE} ({ADOPTING})"

_NAME = r"[A-Za-z_][A-Za-z0-9_]*"
_DOTTED = re.compile(rf"^{_NAME}(\.{_NAME})*$")
_IDENTIFIER = re.compile(rf"^{_NAME}$")


# What a ``command`` and its ``command_env`` values may name; each is filled in per run.
PLACEHOLDERS = ("host", "port", "test_token", "test_password", "jwt_secret")
_PLAIN_WORD = re.compile(r"^[\w@%+=:,./{}-]+$")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class StartKind(enum.Enum):
    """How minimal mode starts the service: exactly one of the three keys names it."""

    FACTORY = "factory"  # an async Python callable, in the pytest process
    COMMAND = "command"  # any local command, a process group the harness owns
    ASGI_APP = "asgi_app"  # an ASGI application, served by uvicorn in a process of its own


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
    command: tuple[str, ...] = ()  # minimal mode: the words of a local command; () = none
    command_env: tuple[tuple[str, str], ...] = ()  # command/asgi_app: (NAME, value) pairs
    command_cwd: str = ""  # relative to the project root; "" = the root
    asgi_app: str = ""  # "module:attribute" served by uvicorn; "" = none
    ready_log: str = ""  # a regex a line of the service's log must match too; "" = none
    ready_timeout_s: float = 60.0
    stop_timeout_s: float = 10.0
    compose_file: str = ""  # docker_local; "" = none
    compose_service: str = "backend"
    container_port: int = 8000
    ws_path: str = "/ws"
    health_path: str = ""  # "" = no health step: TCP, TLS and the upgrade say it is up
    # The health answer must also be JSON {"status": "ok"}; without it any 2xx is healthy.
    health_status_ok: bool = False
    auth: str = "none"  # "none", "bearer", "token_endpoint" or "module:function"
    auth_path: str = "/auth"  # token_endpoint only
    token_via: str = "header"  # "header" (Authorization: Bearer) or "query" (?token=)
    ready_message: str = ""  # "" = the open socket is ready; else the first message's type
    protocol_ping: bool = False  # the service answers {"type": "ping"} with {"type": "pong"}
    # docker_local: also wait for the container's own healthcheck (`compose up --wait`), not
    # only for the harness's poll of the published port.
    wait_for_compose_healthcheck: bool = False

    @property
    def start_kinds(self) -> tuple[StartKind, ...]:
        """The minimal-mode kinds configured (more than one is refused when parsed)."""
        return tuple(kind for kind in StartKind if getattr(self, kind.value))

    @property
    def start_kind(self) -> StartKind | None:
        kinds = self.start_kinds
        return kinds[0] if kinds else None

    @property
    def command_text(self) -> str:
        """The command as a shell would read it, for messages (placeholders left bare)."""
        return " ".join(_display_word(word) for word in self.command)

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
        "health_status_ok": True,
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
        if name == "command":
            values[name] = _command(raw, f"{where} command")
        elif name == "command_env":
            values[name] = _command_env(raw, f"{where} command_env")
        else:
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


def _command(raw: object, where: str) -> tuple[str, ...]:
    """A string split as a shell splits words (no shell runs it), or a list of words."""
    if isinstance(raw, str):
        try:
            words = shlex.split(raw)
        except ValueError as exc:
            raise ConfigError(f"{where} = {raw!r} cannot be split into words ({exc})") from None
    elif isinstance(raw, list) and all(isinstance(word, str) for word in raw):
        words = list(raw)
    else:
        raise ConfigError(f"{where} must be a string or a list of strings, not {raw!r}")
    if not words or not words[0]:
        raise ConfigError(f"{where} is empty: give the command, e.g. 'node server.js'")
    for word in words:
        _check_placeholders(word, where)
    return tuple(words)


def _command_env(raw: object, where: str) -> tuple[tuple[str, str], ...]:
    table = typed(raw, dict, where)
    pairs: list[tuple[str, str]] = []
    for name, value in table.items():
        if not _ENV_NAME.match(name):
            raise ConfigError(f"{where}: {name!r} is not an environment variable name")
        if not isinstance(value, str):
            raise ConfigError(
                f'{where} {name} must be a string, not {value!r}: quote it, e.g. "{value}"'
            )
        _check_placeholders(value, f"{where} {name}")
        pairs.append((name, value))
    return tuple(pairs)


def _check_placeholders(text: str, where: str) -> None:
    try:
        names = [field for _, field, _, _ in string.Formatter().parse(text) if field is not None]
    except ValueError as exc:
        raise ConfigError(
            f"{where}: {text!r} is not a template ({exc}): write a literal brace as {{{{ or }}}}"
        ) from None
    unknown = [name for name in names if name not in PLACEHOLDERS]
    if unknown:
        known = ", ".join("{" + name + "}" for name in PLACEHOLDERS)
        raise ConfigError(f"{where}: unknown placeholder {{{unknown[0]}}} in {text!r}: use {known}")


def _display_word(word: str) -> str:
    if _PLAIN_WORD.match(word):
        return word
    if not any(c in word for c in '"\\$`'):
        return f'"{word}"'
    return shlex.quote(word)


def fill(template: str, values: Mapping[str, str]) -> str:
    """``template`` with its placeholders replaced (checked when the settings were read)."""
    return template.format_map(values)


def _check_start(service: ServiceSettings, where: str) -> None:
    kinds = service.start_kinds
    if len(kinds) > 1:
        names = " and ".join(kind.value for kind in kinds)
        raise ConfigError(
            f"{where} sets {names}: minimal mode starts the service one way, keep one of them"
        )
    # A malformed factory stays the probe's to report (a broken minimal mode), as it always was.
    if service.asgi_app and not _is_reference(service.asgi_app):
        raise ConfigError(
            f"{where} asgi_app = {service.asgi_app!r} is not 'module:attribute':"
            " give e.g. 'my_service.main:app'"
        )
    process = service.start_kind in (StartKind.COMMAND, StartKind.ASGI_APP)
    for name in ("command_env", "command_cwd", "ready_log"):
        if getattr(service, name) and not process:
            raise ConfigError(f"{where} {name} needs command or asgi_app: set one, or remove it")
    if service.ready_log:
        try:
            re.compile(service.ready_log)
        except re.error as exc:
            raise ConfigError(
                f"{where} ready_log = {service.ready_log!r} is not a regular expression ({exc})"
            ) from None
    for name in ("ready_timeout_s", "stop_timeout_s"):
        value = getattr(service, name)
        if not value > 0:
            raise ConfigError(f"{where} {name} = {value:g} must be more than 0 (seconds)")


def _check(service: ServiceSettings, where: str) -> None:
    _check_start(service, where)
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

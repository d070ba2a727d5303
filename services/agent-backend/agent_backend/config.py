"""The server's configuration: one frozen ``ServerConfig`` from flags and environment.

Flags override environment variables, which override defaults:

=========================  ===========================  =============================
flag                       environment variable         default
=========================  ===========================  =============================
``--host``                 ``AGENT_HOST``               ``127.0.0.1``
``--port``                 ``AGENT_PORT``               ``8000``
``--jwt-secret``           ``AGENT_JWT_SECRET``         none (see below)
``--test-password``        ``AGENT_TEST_PASSWORD``      none
``--heartbeat-interval``   ``AGENT_HEARTBEAT_INTERVAL_S``  ``20``
``--drain-timeout``        ``AGENT_DRAIN_TIMEOUT_S``    ``5``
``--log-level``            ``AGENT_LOG_LEVEL``          ``INFO``
``--env``                  ``AGENT_ENV``                ``production``
=========================  ===========================  =============================

The JWT secret must be at least 32 bytes. With no secret, a ``production`` setting refuses to
start (``ConfigError``: exit status 2, one line); a ``test`` setting generates a random secret
for this process, logged as a decision, so its tokens die with the process. A ``test`` setting
also needs a test password, since without one nobody can get a token. In ``production`` the
test password is optional: without it ``/auth/token`` refuses everyone.
"""

from __future__ import annotations

import argparse
import logging
import math
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import NoReturn

from agent_backend.auth import DEFAULT_TTL_S, MAX_TTL_S, MIN_SECRET_BYTES


class ConfigError(Exception):
    """The configuration cannot work; the message is one line saying what to set."""

    exit_code = 2


class Environment(StrEnum):
    PRODUCTION = "production"
    TEST = "test"


LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


@dataclass(frozen=True)
class ServerConfig:
    jwt_secret: str = field(repr=False)
    test_password: str | None = field(default=None, repr=False)
    host: str = "127.0.0.1"
    port: int = 8000
    heartbeat_interval_s: float = 20.0
    drain_timeout_s: float = 5.0
    log_level: str = "INFO"
    env: Environment = Environment.PRODUCTION
    # True when the secret was generated because none was configured (test setting only).
    secret_generated: bool = False
    default_ttl_s: int = DEFAULT_TTL_S
    max_ttl_s: int = MAX_TTL_S
    run_retention_s: float = 120.0
    max_message_bytes: int = 64 * 1024
    rate_limit_per_s: int = 100
    max_active_runs_per_user: int = 20
    # A client that reads nothing while this many messages wait for it is disconnected.
    max_pending_messages: int = 4096

    def __post_init__(self) -> None:
        if len(self.jwt_secret.encode("utf-8")) < MIN_SECRET_BYTES:
            raise ConfigError(
                f"AGENT_JWT_SECRET is too short: set it to at least {MIN_SECRET_BYTES} bytes"
            )
        if not 0 <= self.port <= 65535:
            raise ConfigError(f"AGENT_PORT must be from 0 to 65535, not {self.port}")
        if not (math.isfinite(self.heartbeat_interval_s) and self.heartbeat_interval_s > 0):
            raise ConfigError("AGENT_HEARTBEAT_INTERVAL_S must be a number of seconds > 0")
        if not (math.isfinite(self.drain_timeout_s) and self.drain_timeout_s >= 0):
            raise ConfigError("AGENT_DRAIN_TIMEOUT_S must be a number of seconds >= 0")
        if self.log_level not in LOG_LEVELS:
            raise ConfigError(f"AGENT_LOG_LEVEL must be one of {', '.join(LOG_LEVELS)}")
        if self.env is Environment.TEST and self.test_password is None:
            raise ConfigError("AGENT_ENV=test needs a password: set AGENT_TEST_PASSWORD")

    @property
    def log_level_number(self) -> int:
        return int(logging.getLevelName(self.log_level))


def generated_secret() -> str:
    return secrets.token_urlsafe(48)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise ConfigError(f"{message} (see python -m agent_backend --help)")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m agent_backend", description="The reference agent backend.")
    parser.add_argument("--host", help="address to bind (AGENT_HOST, default 127.0.0.1)")
    parser.add_argument("--port", help="port to bind, 0 for any (AGENT_PORT, default 8000)")
    parser.add_argument("--jwt-secret", help="HS256 secret, >= 32 bytes (AGENT_JWT_SECRET)")
    parser.add_argument("--test-password", help="shared test password (AGENT_TEST_PASSWORD)")
    parser.add_argument(
        "--heartbeat-interval", help="seconds between pings (AGENT_HEARTBEAT_INTERVAL_S, 20)"
    )
    parser.add_argument(
        "--drain-timeout", help="seconds to drain on SIGTERM (AGENT_DRAIN_TIMEOUT_S, 5)"
    )
    parser.add_argument("--log-level", help="DEBUG..CRITICAL (AGENT_LOG_LEVEL, INFO)")
    parser.add_argument("--env", help="production or test (AGENT_ENV, production)")
    return parser


def _number(text: str, name: str, kind: type[int] | type[float]) -> float:
    try:
        return kind(text)
    except ValueError:
        raise ConfigError(f"{name} must be a number, not {text!r}") from None


def load_config(argv: Sequence[str], environ: Mapping[str, str]) -> ServerConfig:
    """Build the configuration from command-line flags and environment variables."""
    args = _parser().parse_args(list(argv))

    def pick(flag: str | None, name: str) -> str | None:
        if flag is not None:
            return flag
        value = environ.get(name)
        return value if value not in (None, "") else None

    env_text = pick(args.env, "AGENT_ENV") or Environment.PRODUCTION.value
    try:
        env = Environment(env_text.lower())
    except ValueError:
        raise ConfigError(f"AGENT_ENV must be 'production' or 'test', not {env_text!r}") from None

    secret = pick(args.jwt_secret, "AGENT_JWT_SECRET")
    generated = False
    if secret is None:
        if env is not Environment.TEST:
            raise ConfigError(
                "no JWT secret: set AGENT_JWT_SECRET (at least 32 bytes), "
                "or AGENT_ENV=test for a throwaway one"
            )
        secret, generated = generated_secret(), True

    port_text = pick(args.port, "AGENT_PORT")
    heartbeat_text = pick(args.heartbeat_interval, "AGENT_HEARTBEAT_INTERVAL_S")
    drain_text = pick(args.drain_timeout, "AGENT_DRAIN_TIMEOUT_S")
    return ServerConfig(
        jwt_secret=secret,
        secret_generated=generated,
        test_password=pick(args.test_password, "AGENT_TEST_PASSWORD"),
        host=pick(args.host, "AGENT_HOST") or "127.0.0.1",
        port=8000 if port_text is None else int(_number(port_text, "AGENT_PORT", int)),
        heartbeat_interval_s=(
            20.0
            if heartbeat_text is None
            else _number(heartbeat_text, "AGENT_HEARTBEAT_INTERVAL_S", float)
        ),
        drain_timeout_s=(
            5.0 if drain_text is None else _number(drain_text, "AGENT_DRAIN_TIMEOUT_S", float)
        ),
        log_level=(pick(args.log_level, "AGENT_LOG_LEVEL") or "INFO").upper(),
        env=env,
    )

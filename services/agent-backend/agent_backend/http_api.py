"""The HTTP side of the protocol as plain functions: a request in, ``HttpAnswer`` out.

``/health``, ``/auth/token`` and ``/metrics`` are answered here; ``/ws`` is checked here (token,
draining) and upgraded by the server. Everything else is 404. Bodies are JSON except metrics.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qs, urlsplit

from agent_backend.auth import (
    InvalidCredentials,
    InvalidToken,
    InvalidTTL,
    bearer_token,
    check_password,
    issue_token,
    parse_basic,
    parse_ttl,
    verify_token,
)

HEALTH_PATH = "/health"
TOKEN_PATH = "/auth/token"
METRICS_PATH = "/metrics"
WS_PATH = "/ws"

JSON_TYPE = "application/json"
METRICS_TYPE = "text/plain; version=0.0.4; charset=utf-8"


@dataclass(frozen=True)
class HttpAnswer:
    status: HTTPStatus
    body: bytes
    content_type: str = JSON_TYPE
    headers: tuple[tuple[str, str], ...] = ()
    # For the log: the error code, never a credential.
    reason: str = ""


@dataclass(frozen=True)
class Upgrade:
    """``/ws`` may be upgraded for ``user_id``."""

    user_id: str


@dataclass(frozen=True)
class HttpRequest:
    path: str
    query: dict[str, list[str]] = field(default_factory=dict)
    # Every value of each header the route looks at, keyed by lower-case name.
    headers: dict[str, list[str]] = field(default_factory=dict)
    method: str = "GET"

    @classmethod
    def from_target(
        cls, target: str, headers: dict[str, list[str]], method: str = "GET"
    ) -> HttpRequest:
        split = urlsplit(target)
        return cls(split.path, parse_qs(split.query, keep_blank_values=True), headers, method)

    def header(self, name: str) -> str | None:
        """The header's single value; ``None`` when absent; ``""`` when given twice."""
        values = self.headers.get(name.lower(), [])
        if not values:
            return None
        return values[0] if len(values) == 1 else ""


def json_answer(status: HTTPStatus, body: dict[str, Any], **kwargs: Any) -> HttpAnswer:
    return HttpAnswer(status, json.dumps(body).encode("utf-8"), **kwargs)


@dataclass(frozen=True)
class ApiState:
    """What the routes need to know about the server."""

    version: str
    jwt_secret: str = field(repr=False)
    test_password: str | None = field(repr=False)
    default_ttl_s: int
    max_ttl_s: int
    uptime_s: Callable[[], float]
    draining: Callable[[], bool]
    render_metrics: Callable[[], str]
    now: Callable[[], float]


def answer(request: HttpRequest, state: ApiState) -> HttpAnswer | Upgrade:
    path = request.path
    if request.method != "GET":
        return json_answer(
            HTTPStatus.METHOD_NOT_ALLOWED,
            {"error": "method_not_allowed"},
            headers=(("Allow", "GET"),),
            reason="method_not_allowed",
        )
    if path == WS_PATH:
        return _websocket(request, state)
    if path == HEALTH_PATH:
        if state.draining():
            return json_answer(
                HTTPStatus.SERVICE_UNAVAILABLE, {"status": "draining"}, reason="draining"
            )
        return json_answer(
            HTTPStatus.OK,
            {"status": "ok", "version": state.version, "uptime_s": round(state.uptime_s(), 3)},
        )
    if path == TOKEN_PATH:
        return _token(request, state)
    if path == METRICS_PATH:
        return HttpAnswer(HTTPStatus.OK, state.render_metrics().encode("utf-8"), METRICS_TYPE)
    return json_answer(HTTPStatus.NOT_FOUND, {"error": "not_found"}, reason="not_found")


def _token(request: HttpRequest, state: ApiState) -> HttpAnswer:
    try:
        user_id, password = parse_basic(request.header("authorization"))
        if not check_password(password, state.test_password):
            raise InvalidCredentials("wrong password")
    except InvalidCredentials:
        return json_answer(
            HTTPStatus.UNAUTHORIZED,
            {"error": "invalid_credentials"},
            headers=(("WWW-Authenticate", 'Basic realm="agent-backend"'),),
            reason="invalid_credentials",
        )
    try:
        ttl_s = parse_ttl(request.query.get("ttl_s"), state.default_ttl_s, state.max_ttl_s)
    except InvalidTTL:
        return json_answer(HTTPStatus.BAD_REQUEST, {"error": "invalid_ttl"}, reason="invalid_ttl")
    token = issue_token(user_id, state.jwt_secret, ttl_s, state.now())
    return json_answer(HTTPStatus.OK, token.as_dict(), headers=(("Cache-Control", "no-store"),))


def _websocket(request: HttpRequest, state: ApiState) -> HttpAnswer | Upgrade:
    if state.draining():
        return json_answer(HTTPStatus.SERVICE_UNAVAILABLE, {"error": "draining"}, reason="draining")
    try:
        header = request.header("authorization")
        if header == "":
            raise InvalidToken("Authorization given twice")
        token = bearer_token(header, request.query.get("token"))
        return Upgrade(verify_token(token, state.jwt_secret))
    except InvalidToken as exc:
        return json_answer(
            HTTPStatus.UNAUTHORIZED,
            {"error": "invalid_token"},
            headers=(("WWW-Authenticate", 'Bearer realm="agent-backend"'),),
            reason=f"invalid_token: {exc}",
        )

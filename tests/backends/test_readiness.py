"""One look at a service on loopback: any 2xx on the health path is healthy (a plain ``ok``, an
empty 204), unless the adapter asks for the JSON ``{"status": "ok"}``; without a health path,
any HTTP answer on the WebSocket path is."""

from __future__ import annotations

import http.server
import socket
from collections.abc import Iterator

import pytest

from test_framework.backends.readiness import answers, expected_answer
from test_framework.service import ServiceSettings
from tests.support.background import serving

REPLIES: dict[str, tuple[int, bytes]] = {
    "/plain": (200, b"ok"),
    "/empty": (204, b""),
    "/json": (200, b'{"status": "ok", "version": "1"}'),
    "/degraded": (200, b'{"status": "degraded"}'),
    "/draining": (503, b"draining"),
    "/ws": (426, b"upgrade required"),
}


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        status, body = REPLIES.get(self.path, (404, b"not found"))
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        """Quiet."""


@pytest.fixture(scope="module")
def http_url() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    with serving(server, "readiness-replies"):
        yield f"http://127.0.0.1:{server.server_address[1]}"


@pytest.mark.parametrize("path", ["/plain", "/empty", "/json", "/degraded"])
def test_any_2xx_on_the_health_path_is_healthy(http_url: str, path: str) -> None:
    assert answers(http_url, ServiceSettings(health_path=path))[0]


@pytest.mark.parametrize("path", ["/draining", "/missing", "/ws"])
def test_anything_but_a_2xx_on_the_health_path_is_not(http_url: str, path: str) -> None:
    ready, seen = answers(http_url, ServiceSettings(health_path=path))
    assert not ready
    assert seen.startswith("status ")


def test_with_health_status_ok_only_the_json_status_ok_is_healthy(http_url: str) -> None:
    assert answers(http_url, ServiceSettings(health_path="/json", health_status_ok=True))[0]
    for path in ("/plain", "/degraded", "/empty"):
        ready, seen = answers(http_url, ServiceSettings(health_path=path, health_status_ok=True))
        assert not ready
        assert "without JSON status ok" in seen


def test_without_a_health_path_any_answer_on_the_websocket_path_is_ready(http_url: str) -> None:
    assert answers(http_url, ServiceSettings(ws_path="/ws")) == (True, "status 426")


def test_nothing_listening_is_not_ready_and_says_why() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    ready, seen = answers(f"http://127.0.0.1:{port}", ServiceSettings())
    assert not ready
    assert "refused" in seen.lower()


def test_what_is_waited_for_is_said_in_words() -> None:
    assert expected_answer(ServiceSettings()) == "any HTTP answer from GET /ws"
    assert expected_answer(ServiceSettings(health_path="/h")) == "a 2xx answer from GET /h"
    assert expected_answer(ServiceSettings(health_path="/h", health_status_ok=True)) == (
        'a 2xx answer with JSON {"status": "ok"} from GET /h'
    )

"""A fake Docker daemon on a real socket (Unix or loopback TCP) that speaks just enough of the
Engine API for the probe (``/_ping``, ``/images/<name>/json``, ``/distribution/<name>/json``) and
for the docker backend's first steps through the Docker SDK (``/version``, and empty listings of
containers, networks, volumes and images to clean up), so that a run gets as far as Compose.
"""

from __future__ import annotations

import http.server
import json
import re
import socketserver
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from tests.support.background import serving


@dataclass
class DaemonScript:
    """What the fake daemon answers; tests change it to make each step pass or fail."""

    ping_status: int = 200
    images: set[str] = field(default_factory=set)
    pullable: set[str] = field(default_factory=set)
    requests: list[str] = field(default_factory=list)


class _Handler(http.server.BaseHTTPRequestHandler):
    server: Any

    def do_GET(self) -> None:
        script: DaemonScript = self.server.script
        script.requests.append(self.path)
        path = self._endpoint()
        if path == "/_ping":
            self._answer(script.ping_status, b"OK", "text/plain")
        elif path == "/version":
            self._answer(200, json.dumps(_VERSION).encode())
        elif path in _EMPTY_LISTINGS:
            self._answer(200, json.dumps(_EMPTY_LISTINGS[path]).encode())
        elif path.startswith("/images/") and path.endswith("/json"):
            name = path.removeprefix("/images/").removesuffix("/json")
            found = name in script.images
            body = {"Id": "sha256:fake"} if found else {"message": f"No such image: {name}"}
            self._answer(200 if found else 404, json.dumps(body).encode())
        elif path.startswith("/distribution/"):
            name = path.removeprefix("/distribution/").removesuffix("/json")
            if name in script.pullable:
                self._answer(200, b'{"Descriptor": {}}')
            else:
                message = {"message": "Get https://registry/v2/: dial tcp: no such host"}
                self._answer(500, json.dumps(message).encode())
        else:
            self._answer(404, b'{"message": "page not found"}')

    def do_POST(self) -> None:
        self.server.script.requests.append(f"POST {self.path}")
        if self._endpoint() == "/images/prune":
            self._answer(200, b'{"ImagesDeleted": null, "SpaceReclaimed": 0}')
        else:
            self._answer(404, b'{"message": "page not found"}')

    def _endpoint(self) -> str:
        """The path without the query or the SDK's ``/v1.41`` prefix."""
        return re.sub(r"^/v\d+\.\d+(?=/)", "", urlsplit(self.path).path)

    def _answer(self, status: int, body: bytes, kind: str = "application/json") -> None:
        self.send_response(status)
        self.send_header("Api-Version", "1.41")
        self.send_header("Server", "Docker/99.0.0-fake (linux)")
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def address_string(self) -> str:
        return "fake-client"

    def log_message(self, format: str, *args: Any) -> None:
        return


_VERSION = {"ApiVersion": "1.41", "MinAPIVersion": "1.12", "Version": "99.0.0-fake"}
# What a daemon with nothing on it lists: the backend removes leftovers of earlier runs first.
_EMPTY_LISTINGS: dict[str, Any] = {
    "/containers/json": [],
    "/networks": [],
    "/volumes": {"Volumes": [], "Warnings": None},
    "/images/json": [],
}


class _UnixServer(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True


class _TcpServer(socketserver.ThreadingMixIn, socketserver.TCPServer):
    daemon_threads = True
    allow_reuse_address = True


@contextmanager
def fake_daemon_unix(path: Path, script: DaemonScript | None = None) -> Iterator[DaemonScript]:
    script = script or DaemonScript()
    server = _UnixServer(str(path), _Handler)
    server.script = script  # type: ignore[attr-defined]
    try:
        with serving(server, "fake-docker-daemon"):
            yield script
    finally:
        path.unlink(missing_ok=True)


@contextmanager
def fake_daemon_tcp(script: DaemonScript | None = None) -> Iterator[tuple[int, DaemonScript]]:
    script = script or DaemonScript()
    server = _TcpServer(("127.0.0.1", 0), _Handler)
    server.script = script  # type: ignore[attr-defined]
    with serving(server, "fake-docker-daemon"):
        yield server.server_address[1], script


def dead_socket(path: Path) -> Path:
    """A Unix socket file nobody listens on (a daemon that died without removing it)."""
    import socket

    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.bind(str(path))
    sock.close()
    return path

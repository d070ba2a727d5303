"""A deliberately broken "staging deployment" for the probe's failure cases. Standard library.

It answers ``/health`` and ``/auth/token`` as told, and either refuses or never answers the
WebSocket upgrade on ``/ws``, or upgrades and answers pings with the wrong nonce; optionally over
TLS with a given certificate. Each failure the
probe must name gets a real server that fails exactly that way, on 127.0.0.1, port 0.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import ssl
import struct
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import trustme

from tests.support.background import Background, serving


@dataclass(frozen=True)
class Behaviour:
    health_status: int = 200
    health_body: dict[str, object] = field(default_factory=lambda: {"status": "ok"})
    health_text: str | None = None  # a plain-text health answer instead of the JSON body
    token_status: int = 200
    # "hang": accept the upgrade request and never answer; "refuse": 401; "wrong-nonce":
    # upgrade, send connection_ready, and answer each protocol ping with another nonce.
    websocket: str = "hang"


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    behaviour: Behaviour
    released: threading.Event


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: the tests read the probe's reasons, not this server's access log."""

    def _json(self, status: int, body: dict[str, object]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        behaviour = self.server.behaviour
        path = self.path.split("?")[0]
        if path == "/health" and behaviour.health_text is not None:
            data = behaviour.health_text.encode()
            self.send_response(behaviour.health_status)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        elif path == "/health":
            self._json(behaviour.health_status, behaviour.health_body)
        elif path == "/auth/token":
            if behaviour.token_status == 200:
                self._json(200, {"access_token": "fake-token-value", "token_type": "Bearer"})
            else:
                self._json(behaviour.token_status, {"error": "invalid_credentials"})
        elif path == "/ws" and behaviour.websocket == "refuse":
            self._json(401, {"error": "invalid_token"})
        elif path == "/ws" and behaviour.websocket == "wrong-nonce":
            self._serve_wrong_nonces()
        elif path == "/ws":
            # Never answer; let go when the server stops so its thread ends.
            self.server.released.wait()
            self.close_connection = True
        else:
            self._json(404, {"error": "not_found"})

    def _serve_wrong_nonces(self) -> None:
        key = self.headers.get("Sec-WebSocket-Key", "")
        accept = base64.b64encode(hashlib.sha1((key + _WS_GUID).encode()).digest()).decode()
        self.send_response(101)
        self.send_header("Upgrade", "websocket")
        self.send_header("Connection", "Upgrade")
        self.send_header("Sec-WebSocket-Accept", accept)
        self.end_headers()
        self._send_text({"type": "connection_ready", "user_id": "fake"})
        self.close_connection = True
        while True:
            frame = self._read_frame()
            if frame is None or frame[0] == _OP_CLOSE:
                return
            opcode, payload = frame
            if opcode == _OP_PING:
                self._send_frame(_OP_PONG, payload)
            elif opcode == _OP_TEXT and json.loads(payload).get("type") == "ping":
                self._send_text({"type": "pong", "nonce": "not-the-nonce-that-was-sent"})

    def _read_frame(self) -> tuple[int, bytes] | None:
        head = self.rfile.read(2)
        if len(head) < 2:
            return None
        opcode, size = head[0] & 0x0F, head[1] & 0x7F
        if size == 126:
            size = struct.unpack("!H", self.rfile.read(2))[0]
        elif size == 127:
            size = struct.unpack("!Q", self.rfile.read(8))[0]
        mask = self.rfile.read(4) if head[1] & 0x80 else b"\0\0\0\0"
        data = self.rfile.read(size)
        return opcode, bytes(b ^ mask[i % 4] for i, b in enumerate(data))

    def _send_frame(self, opcode: int, payload: bytes) -> None:
        # Short frames only: the fake sends nothing of 126 bytes or more.
        self.wfile.write(bytes([0x80 | opcode, len(payload)]) + payload)
        self.wfile.flush()

    def _send_text(self, message: dict[str, object]) -> None:
        self._send_frame(_OP_TEXT, json.dumps(message).encode())


_WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
_OP_TEXT, _OP_CLOSE, _OP_PING, _OP_PONG = 0x1, 0x8, 0x9, 0xA


class FakeStaging(Background["FakeStaging"]):
    """``with FakeStaging(Behaviour(health_status=404)) as fake: fake.ws_url``."""

    def __init__(self, behaviour: Behaviour, certificate: trustme.LeafCert | None = None) -> None:
        self.behaviour = behaviour
        self.certificate = certificate
        self._server: _Server | None = None
        self._serving = contextlib.ExitStack()

    @property
    def port(self) -> int:
        assert self._server is not None
        return int(self._server.server_address[1])

    @property
    def ws_url(self) -> str:
        scheme = "wss" if self.certificate is not None else "ws"
        return f"{scheme}://localhost:{self.port}/ws"

    def start(self) -> FakeStaging:
        server = _Server(("127.0.0.1", 0), _Handler)
        server.behaviour = self.behaviour
        server.released = threading.Event()
        if self.certificate is not None:
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            self.certificate.configure_cert(context)
            server.socket = context.wrap_socket(server.socket, server_side=True)
        self._server = server
        self._serving.enter_context(serving(server, "fake-staging"))
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.released.set()
        self._serving.close()

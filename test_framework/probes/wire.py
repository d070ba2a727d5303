"""A small blocking HTTP/1.1 and RFC 6455 WebSocket client for the probes. Standard library only.

Every network wait is bounded by a ``Deadline``: before each ``recv`` or ``send`` the socket's
timeout is set to the time left, so a peer that accepts and never answers (or trickles bytes)
cannot stretch a step past its budget.
"""

from __future__ import annotations

import base64
import hashlib
import os
import socket
import ssl
import struct
import threading
import time
from dataclasses import dataclass, field
from urllib.parse import SplitResult, quote, urlsplit

from test_framework.settings_table import STAGING_AUTH_TOKEN, STAGING_AUTH_URL
from test_framework.wording import quoted, shortened

MAX_HEAD = 64 * 1024
MAX_BODY = 1024 * 1024
WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
# What a request target keeps as it is: every printable ASCII character but the space.
_TARGET_SAFE = "".join(chr(c) for c in range(0x21, 0x7F))

OP_CONT, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA


class StepFailed(Exception):
    """A step's check failed; the message is the one-line reason."""


class Deadline:
    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.end = time.monotonic() + seconds

    def remaining(self) -> float:
        """Seconds left; raises ``TimeoutError`` when none are."""
        left = self.end - time.monotonic()
        if left <= 0:
            raise TimeoutError("step deadline passed")
        return left


@dataclass(frozen=True)
class Origin:
    """Where a URL's connection goes: scheme decides TLS, host and port decide the socket."""

    tls: bool
    host: str
    port: int

    @property
    def host_header(self) -> str:
        default = 443 if self.tls else 80
        # An IPv6 literal in brackets; a name in its DNS (IDNA) form, as it was resolved.
        host = f"[{self.host}]" if ":" in self.host else self.host.encode("idna").decode()
        return host if self.port == default else f"{host}:{self.port}"


def origin_of(url: str) -> tuple[Origin, str]:
    """The origin of ``url`` and its request target (path and query)."""
    parts: SplitResult = urlsplit(url)
    tls = parts.scheme in ("https", "wss")
    host = parts.hostname or ""
    port = parts.port or (443 if tls else 80)
    target = parts.path or "/"
    if parts.query:
        target += "?" + parts.query
    return Origin(tls=tls, host=host, port=port), target


def resolve(host: str, port: int, timeout: float) -> list[tuple[int, tuple[str, int]]]:
    """``getaddrinfo`` bounded by ``timeout`` (it has no timeout of its own, so it runs in a
    daemon thread that is abandoned if it does not answer in time)."""
    found: list[tuple[int, tuple[str, int]]] = []
    failure: list[BaseException] = []

    def lookup() -> None:
        try:
            for family, _, _, _, address in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM):
                found.append((family, (str(address[0]), int(address[1]))))
        except OSError as exc:
            failure.append(exc)
        except (UnicodeError, ValueError) as exc:
            # A name no lookup can take (a label over 63 characters, a NUL): the step's
            # failure, not a traceback from this thread.
            why = exc.__cause__ or exc  # the idna codec's own reason, not its wrapper's
            failure.append(StepFailed(f"cannot resolve {quoted(host)}: not a valid name ({why})"))

    worker = threading.Thread(target=lookup, name=f"resolve-{shortened(host)}", daemon=True)
    worker.start()
    worker.join(timeout)
    if worker.is_alive():
        raise TimeoutError(f"resolving {shortened(host)} took more than {timeout:g} s")
    if failure:
        raise failure[0]
    if not found:
        raise StepFailed(f"{shortened(host)} resolved to no address")
    return found


def connect(addresses: list[tuple[int, tuple[str, int]]], deadline: Deadline) -> socket.socket:
    """Connect to the first address that accepts, trying each in turn within ``deadline``."""
    last: OSError | None = None
    for family, address in addresses:
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            sock.settimeout(deadline.remaining())
            sock.connect(address)
        except OSError as exc:
            sock.close()
            last = exc
            if isinstance(exc, TimeoutError):
                raise
            continue
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return sock
    assert last is not None
    raise last


def tls_context(ca_bundle: str | None) -> ssl.SSLContext:
    """Verifying context: the private CA when given, else the system's default trust store."""
    context = ssl.create_default_context(cafile=ca_bundle)
    context.set_alpn_protocols(["http/1.1"])
    return context


def tls_wrap(
    sock: socket.socket, host: str, context: ssl.SSLContext, deadline: Deadline
) -> ssl.SSLSocket:
    wrapped = context.wrap_socket(sock, server_hostname=host, do_handshake_on_connect=False)
    try:
        wrapped.settimeout(deadline.remaining())
        wrapped.do_handshake()
    except BaseException:
        wrapped.close()
        raise
    return wrapped


class Conn:
    """A socket with a read buffer; every operation is bounded by the deadline it is given."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self._buffer = bytearray()

    def close(self) -> None:
        self.sock.close()

    def send(self, data: bytes, deadline: Deadline) -> None:
        view = memoryview(data)
        while view:
            self.sock.settimeout(deadline.remaining())
            sent = self.sock.send(view)
            view = view[sent:]

    def _fill(self, deadline: Deadline) -> None:
        self.sock.settimeout(deadline.remaining())
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionResetError("the server closed the connection")
        self._buffer += chunk

    def read_until(self, marker: bytes, deadline: Deadline, limit: int = MAX_HEAD) -> bytes:
        while True:
            index = self._buffer.find(marker)
            if index >= 0:
                end = index + len(marker)
                data = bytes(self._buffer[:end])
                del self._buffer[:end]
                return data
            if len(self._buffer) > limit:
                raise StepFailed(f"the server sent more than {limit} bytes without {marker!r}")
            self._fill(deadline)

    def read_exact(self, size: int, deadline: Deadline) -> bytes:
        while len(self._buffer) < size:
            self._fill(deadline)
        data = bytes(self._buffer[:size])
        del self._buffer[:size]
        return data

    def read_to_close(self, deadline: Deadline, limit: int = MAX_BODY) -> bytes:
        while len(self._buffer) <= limit:
            self.sock.settimeout(deadline.remaining())
            chunk = self.sock.recv(65536)
            if not chunk:
                break
            self._buffer += chunk
        data = bytes(self._buffer[:limit])
        self._buffer.clear()
        return data


@dataclass(frozen=True)
class Response:
    status: int
    reason: str
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""

    def summary(self, limit: int = 120) -> str:
        """``404 Not Found`` plus the start of the body, on one line."""
        text = self.body[:limit].decode("utf-8", "replace")
        text = " ".join(text.split())
        return f"{self.status} {self.reason}".strip() + (f" {text}" if text else "")


def open_conn(origin: Origin, ca_bundle: str | None, deadline: Deadline) -> tuple[Conn, str | None]:
    """DNS, TCP and (for https/wss) TLS in one go; returns the connection and TLS version."""
    addresses = resolve(origin.host, origin.port, deadline.remaining())
    sock = connect(addresses, deadline)
    if not origin.tls:
        return Conn(sock), None
    wrapped = tls_wrap(sock, origin.host, tls_context(ca_bundle), deadline)
    return Conn(wrapped), wrapped.version()


def _request_head(method: str, target: str, origin: Origin, headers: dict[str, str]) -> bytes:
    # Percent-encoded as a client sends an IRI's path: a space or a non-ASCII letter is never
    # sent raw, and a control character (refused in the settings) cannot split the line.
    target = quote(target, safe=_TARGET_SAFE)
    lines = [f"{method} {target} HTTP/1.1", f"Host: {origin.host_header}"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def read_head(conn: Conn, deadline: Deadline) -> Response:
    head = conn.read_until(b"\r\n\r\n", deadline).decode("latin-1")
    status_line, *header_lines = head.split("\r\n")
    parts = status_line.split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/") or not parts[1].isdigit():
        raise StepFailed(f"the server did not answer HTTP: {status_line[:80]!r}")
    headers: dict[str, str] = {}
    for line in header_lines:
        if ":" in line:
            name, value = line.split(":", 1)
            headers[name.strip().lower()] = value.strip()
    reason = parts[2] if len(parts) > 2 else ""
    return Response(status=int(parts[1]), reason=reason, headers=headers)


def _read_body(conn: Conn, head: Response, deadline: Deadline) -> bytes:
    if head.status in (204, 304) or 100 <= head.status < 200:
        return b""
    if "chunked" in head.headers.get("transfer-encoding", "").lower():
        body = bytearray()
        while True:
            size_line = conn.read_until(b"\r\n", deadline).split(b";")[0].strip()
            size = int(size_line, 16)
            if size == 0:
                conn.read_until(b"\r\n", deadline)
                return bytes(body)
            if len(body) + size > MAX_BODY:
                raise StepFailed(f"the response body is larger than {MAX_BODY} bytes")
            body += conn.read_exact(size, deadline)
            conn.read_exact(2, deadline)
    if "content-length" in head.headers:
        length = int(head.headers["content-length"])
        if length > MAX_BODY:
            raise StepFailed(f"the response body is larger than {MAX_BODY} bytes")
        return conn.read_exact(length, deadline)
    return conn.read_to_close(deadline)


def http_get(
    conn: Conn, origin: Origin, target: str, headers: dict[str, str], deadline: Deadline
) -> Response:
    """One ``GET`` with ``Connection: close``; returns status, headers and body."""
    all_headers = {"Accept": "application/json", "Connection": "close", **headers}
    conn.send(_request_head("GET", target, origin, all_headers), deadline)
    head = read_head(conn, deadline)
    body = _read_body(conn, head, deadline)
    return Response(status=head.status, reason=head.reason, headers=head.headers, body=body)


def websocket_upgrade(
    conn: Conn, origin: Origin, target: str, headers: dict[str, str], deadline: Deadline
) -> Response:
    """Send the RFC 6455 opening handshake; return the 101 response or raise with the refusal."""
    key = base64.b64encode(os.urandom(16)).decode("ascii")
    all_headers = {
        "Upgrade": "websocket",
        "Connection": "Upgrade",
        "Sec-WebSocket-Key": key,
        "Sec-WebSocket-Version": "13",
        **headers,
    }
    conn.send(_request_head("GET", target, origin, all_headers), deadline)
    head = read_head(conn, deadline)
    if head.status != 101:
        body = _read_body(conn, head, deadline) if head.status >= 200 else b""
        refused = Response(status=head.status, reason=head.reason, body=body)
        advice = ""
        if head.status == 401:
            advice = (
                ": the token is expired or not from this deployment:"
                f" renew {STAGING_AUTH_TOKEN.env}, or check {STAGING_AUTH_URL.env}"
            )
        raise StepFailed(f"the upgrade was refused: {refused.summary()}{advice}")
    expected = base64.b64encode(hashlib.sha1((key + WS_GUID).encode("ascii")).digest()).decode()
    if head.headers.get("upgrade", "").lower() != "websocket":
        raise StepFailed("the 101 response has no 'Upgrade: websocket' header")
    if head.headers.get("sec-websocket-accept") != expected:
        raise StepFailed("the 101 response has a wrong Sec-WebSocket-Accept")
    return head


def send_frame(conn: Conn, opcode: int, payload: bytes, deadline: Deadline) -> None:
    """Send one final frame, masked as RFC 6455 requires of clients."""
    mask = os.urandom(4)
    length = len(payload)
    header = bytes([0x80 | opcode])
    if length < 126:
        header += bytes([0x80 | length])
    elif length < 1 << 16:
        header += bytes([0x80 | 126]) + struct.pack("!H", length)
    else:
        header += bytes([0x80 | 127]) + struct.pack("!Q", length)
    masked = bytes(byte ^ mask[i % 4] for i, byte in enumerate(payload))
    conn.send(header + mask + masked, deadline)


def read_frame(conn: Conn, deadline: Deadline) -> tuple[bool, int, bytes]:
    """One frame: (fin, opcode, payload), unmasked."""
    first, second = conn.read_exact(2, deadline)
    fin, opcode = bool(first & 0x80), first & 0x0F
    length = second & 0x7F
    if length == 126:
        (length,) = struct.unpack("!H", conn.read_exact(2, deadline))
    elif length == 127:
        (length,) = struct.unpack("!Q", conn.read_exact(8, deadline))
    if length > MAX_BODY:
        raise StepFailed(f"the server sent a {length}-byte frame")
    mask = conn.read_exact(4, deadline) if second & 0x80 else b""
    payload = conn.read_exact(length, deadline)
    if mask:
        payload = bytes(byte ^ mask[i % 4] for i, byte in enumerate(payload))
    return fin, opcode, payload


@dataclass
class WsEvent:
    """A data message or a pong, as the probe needs to see them."""

    opcode: int
    payload: bytes


def next_event(conn: Conn, deadline: Deadline) -> WsEvent:
    """The next text/binary message (reassembled) or pong. Pings are answered on the way;
    a close frame raises with its code and reason."""
    parts: list[bytes] = []
    message_opcode = 0
    while True:
        fin, opcode, payload = read_frame(conn, deadline)
        if opcode == OP_PING:
            send_frame(conn, OP_PONG, payload, deadline)
            continue
        if opcode == OP_PONG:
            return WsEvent(OP_PONG, payload)
        if opcode == OP_CLOSE:
            code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else 1005
            reason = payload[2:].decode("utf-8", "replace")
            raise StepFailed(f"the server closed the WebSocket with code {code} {reason}".strip())
        if opcode in (OP_TEXT, OP_BINARY):
            message_opcode = opcode
        elif opcode != OP_CONT:
            raise StepFailed(f"the server sent a frame with unknown opcode {opcode}")
        parts.append(payload)
        if fin:
            return WsEvent(message_opcode, b"".join(parts))


def close_websocket(conn: Conn, seconds: float) -> None:
    """Send close 1000 and wait briefly for the server's close frame; then drop the socket.

    Failures here are not the deployment's health, so they end the wait quietly.
    """
    deadline = Deadline(seconds)
    try:
        send_frame(conn, OP_CLOSE, struct.pack("!H", 1000), deadline)
        while True:
            _, opcode, _ = read_frame(conn, deadline)
            if opcode == OP_CLOSE:
                break
    except (OSError, StepFailed):
        # The server may drop the TCP connection right after its close frame, or be slow.
        pass
    finally:
        conn.close()

"""A tiny client for the Docker daemon's HTTP API, over its Unix socket or TCP (with TLS).

Standard library only, like ``docker_host``: the probe uses it before anything is installed.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from test_framework.engine.daemon_address import DaemonAddress, TlsFiles

if TYPE_CHECKING:
    import ssl

# The answer to one request is small (a ping, a version, an image list): read to the end.
_MAX_ANSWER = 64 * 1024 * 1024


@dataclass(frozen=True)
class Response:
    status: int
    headers: Mapping[str, str]
    body: bytes

    def json(self) -> object:
        return json.loads(self.body or b"null")


def request(address: DaemonAddress, path: str, timeout: float, method: str = "GET") -> Response:
    """One HTTP/1.1 request to the daemon's API (``Connection: close``, so the answer ends
    where the connection does). Raises ``OSError`` (incl. timeouts) on failure.

    Written on sockets rather than ``http.client``, whose import (with ``email`` and ``ssl``)
    would cost the probe more than its whole conversation with the daemon."""
    sock = _connect(address, timeout)
    try:
        head = f"{method} {path} HTTP/1.1\r\nHost: docker\r\nConnection: close\r\n"
        if method != "GET":
            head += "Content-Length: 0\r\n"
        sock.sendall((head + "\r\n").encode("ascii"))
        answer = b""
        while not _complete(answer) and (chunk := sock.recv(65536)):
            answer += chunk
            if len(answer) > _MAX_ANSWER:
                raise OSError(f"bad answer from {address.url}: over {_MAX_ANSWER} bytes")
    finally:
        sock.close()
    return _parse(answer, address.url)


def _complete(answer: bytes) -> bool:
    """Whether ``answer`` holds its headers and the ``Content-Length`` they announce (without
    one, the answer ends where the connection does)."""
    head, separator, body = answer.partition(b"\r\n\r\n")
    if not separator:
        return False
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length" and value.strip().isdigit():
            return len(body) >= int(value)
    return False


def _connect(address: DaemonAddress, timeout: float) -> socket.socket:
    if address.is_unix:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(timeout)
        try:
            sock.connect(address.socket_path)
        except OSError:
            sock.close()
            raise
        return sock
    parts = urlsplit(address.url)
    host = parts.hostname or "localhost"
    port = parts.port or (443 if address.tls else 80)  # as http.client would
    sock = socket.create_connection((host, port), timeout=timeout)
    if address.tls is None:
        return sock
    try:
        return _ssl_context(address.tls).wrap_socket(sock, server_hostname=host)
    except OSError:
        sock.close()
        raise


def _parse(answer: bytes, url: str) -> Response:
    head, separator, body = answer.partition(b"\r\n\r\n")
    lines = head.decode("iso-8859-1").split("\r\n")
    status_line = lines[0].split(" ", 2)
    if not separator or len(status_line) < 2 or not status_line[0].startswith("HTTP/"):
        raise OSError(f"bad answer from {url}: {lines[0][:80]!r}")
    try:
        status = int(status_line[1])
    except ValueError:
        raise OSError(f"bad answer from {url}: {lines[0][:80]!r}") from None
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    if "chunked" in headers.get("transfer-encoding", "").lower():
        body = _unchunk(body, url)
    return Response(status, headers, body)


def _unchunk(body: bytes, url: str) -> bytes:
    """The body of a ``Transfer-Encoding: chunked`` answer."""
    pieces: list[bytes] = []
    at = 0
    while True:
        end = body.find(b"\r\n", at)
        if end < 0:
            raise OSError(f"bad answer from {url}: a chunk was cut short")
        try:
            size = int(body[at:end].split(b";", 1)[0], 16)
        except ValueError:
            raise OSError(f"bad answer from {url}: bad chunk size") from None
        if size == 0:
            return b"".join(pieces)
        start = end + 2
        if start + size > len(body):
            raise OSError(f"bad answer from {url}: a chunk was cut short")
        pieces.append(body[start : start + size])
        at = start + size + 2


def _ssl_context(tls: TlsFiles) -> ssl.SSLContext:
    import ssl  # only for a daemon reached over TLS

    context = ssl.create_default_context(cafile=str(tls.ca) if tls.ca else None)
    if not tls.verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    if tls.cert is not None and tls.key is not None:
        context.load_cert_chain(str(tls.cert), str(tls.key))
    return context

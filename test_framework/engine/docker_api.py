"""A tiny client for the Docker daemon's HTTP API, over its Unix socket or TCP (with TLS).

Standard library only, like ``docker_host``: the probe uses it before anything is installed.
"""

from __future__ import annotations

import http.client
import json
import socket
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from test_framework.engine.daemon_address import DaemonAddress, TlsFiles


@dataclass(frozen=True)
class Response:
    status: int
    headers: Mapping[str, str]
    body: bytes

    def json(self) -> object:
        return json.loads(self.body or b"null")


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float) -> None:
        super().__init__("localhost", timeout=timeout)
        self._path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        try:
            sock.connect(self._path)
        except OSError:
            sock.close()
            raise
        self.sock = sock


def request(address: DaemonAddress, path: str, timeout: float, method: str = "GET") -> Response:
    """One HTTP request to the daemon's API. Raises ``OSError`` (incl. timeouts) on failure."""
    connection: http.client.HTTPConnection
    if address.is_unix:
        connection = _UnixConnection(address.socket_path, timeout)
    else:
        parts = urlsplit(address.url)
        host, port = parts.hostname or "localhost", parts.port
        if address.tls is None:
            connection = http.client.HTTPConnection(host, port, timeout=timeout)
        else:
            connection = http.client.HTTPSConnection(
                host, port, timeout=timeout, context=_ssl_context(address.tls)
            )
    try:
        connection.request(method, path, headers={"Host": "docker"})
        reply = connection.getresponse()
        body = reply.read()
        return Response(reply.status, {k.lower(): v for k, v in reply.getheaders()}, body)
    except http.client.HTTPException as exc:
        raise OSError(f"bad answer from {address.url}: {exc!r}") from None
    finally:
        connection.close()


def _ssl_context(tls: TlsFiles) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(tls.ca) if tls.ca else None)
    if not tls.verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    if tls.cert is not None and tls.key is not None:
        context.load_cert_chain(str(tls.cert), str(tls.key))
    return context

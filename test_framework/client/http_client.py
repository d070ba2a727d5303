"""A small HTTP client for the deployment's plain endpoints (``/health``, ``/metrics``, tokens).

Standard library only (``urllib`` in a worker thread), trusting the deployment's CA bundle. It
returns every HTTP answer, 4xx and 5xx included, because the suite asserts on them; only a
failure to get any answer is retried (per the profile) and then reported as
``ConnectionLostError``.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import os
import ssl
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from http.client import HTTPException
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

from test_framework.client.availability import AVAILABILITY, Availability
from test_framework.client.redaction import redact_text, redact_url
from test_framework.client.transcript import Transcript
from test_framework.endpoints import Endpoints
from test_framework.errors import ConfigError, ConnectionLostError
from test_framework.profiles import Profile

__all__ = ["HeldConnection", "HttpClient", "HttpResponse"]

# Request headers whose values are never recorded.
_SECRET_HEADERS = {"authorization", "cookie"}
# What a reverse proxy (nginx in staging) answers when the service behind it is down or silent:
# no answer from the deployment, so retried, then reported like a refused connection. (503 is
# the service's own answer while it drains, which tests assert on.)
_GATEWAY_FAILURES = frozenset({502, 504})


def tls_context(ca_bundle: Path | None) -> ssl.SSLContext:
    """A verifying client context that trusts ``ca_bundle`` (or the system store without one).

    One per bundle and per process: loading a trust store takes 10-20 ms, which every test's
    client would otherwise pay. A bundle rewritten meanwhile (a new modification time) gets a
    fresh context; a missing one raises here, as ``ssl`` does."""
    if ca_bundle is None:
        return _context(None, 0)
    return _context(str(ca_bundle), os.stat(ca_bundle).st_mtime_ns)


@functools.lru_cache(maxsize=8)
def _context(cafile: str | None, mtime_ns: int) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=cafile)


@dataclass(frozen=True)
class HttpResponse:
    url: str
    status: int
    # Lower-cased names.
    headers: Mapping[str, str]
    body: bytes = field(repr=False)

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")

    def json(self) -> Any:
        """The body as JSON; an ``AssertionError`` naming the body when it is not JSON."""
        try:
            return json.loads(self.body)
        except ValueError:
            raise AssertionError(
                f"GET {redact_url(self.url)} answered {self.status} with a body that is not"
                f" JSON: {redact_text(self.text[:200])!r}"
            ) from None


class HttpClient:
    """GET requests to one deployment, recorded in a transcript."""

    def __init__(
        self,
        endpoints: Endpoints,
        profile: Profile,
        transcript: Transcript | None = None,
        *,
        availability: Availability = AVAILABILITY,
    ) -> None:
        self.endpoints = endpoints
        self.profile = profile
        self.transcript = transcript if transcript is not None else Transcript()
        self.availability = availability
        self.attempts = 0
        self.retries = 0  # requests that failed and were tried again
        self._opener = urllib.request.build_opener(
            urllib.request.HTTPSHandler(context=tls_context(endpoints.ca_bundle))
        )

    def url(self, path: str, params: Mapping[str, str | int] | None = None) -> str:
        """``path`` under the HTTP base URL (an absolute URL is kept as it is)."""
        url = path if "://" in path else self.endpoints.http_url.rstrip("/") + path
        if params:
            url += ("&" if "?" in url else "?") + urlencode(params)
        return url

    async def health(self) -> HttpResponse:
        return await self.get("/health")

    async def metrics(self) -> HttpResponse:
        return await self.get("/metrics")

    async def get(
        self,
        path: str,
        *,
        params: Mapping[str, str | int] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> HttpResponse:
        """GET ``path`` and return the answer, whatever its status."""
        url = self.url(path, params)
        if urlsplit(url).scheme not in ("http", "https"):
            raise ConfigError(f"{redact_url(url)} is not an http(s) URL: check the endpoints")
        self.availability.check(url)
        shown = {
            k: ("***" if k.lower() in _SECRET_HEADERS else v) for k, v in (headers or {}).items()
        }
        self.transcript.record(
            "http", "out", "http", {"method": "GET", "url": url, "headers": shown}
        )
        attempts = max(self.profile.retry.attempts, 1)
        delays = self.profile.retry.delays()
        last = ""
        for attempt in range(attempts):
            self.attempts += 1
            try:
                response = await asyncio.to_thread(self._get, url, dict(headers or {}))
            except (OSError, HTTPException) as exc:
                last = f"{type(exc).__name__}: {exc}"
            else:
                if response.status not in _GATEWAY_FAILURES:
                    break
                last = f"HTTP {response.status}: a proxy in front of the deployment got no answer"
            self.transcript.record("http", "note", "http-failed", {"url": url, "error": last})
            if attempt < attempts - 1:
                self.retries += 1
                await asyncio.sleep(delays[attempt])
        else:
            cause = f"GET {redact_url(url)} failed {attempts} time(s); last: {redact_text(last)}"
            self.availability.mark_down(url, cause)
            raise ConnectionLostError(cause)
        self.availability.mark_up(url)
        self.transcript.record(
            "http", "in", "http", {"url": url, "status": response.status, "body": _shown(response)}
        )
        return response

    def _get(self, url: str, headers: dict[str, str]) -> HttpResponse:
        request = urllib.request.Request(url, headers=headers, method="GET")
        timeout = self.profile.timeouts.message_s
        try:
            with self._opener.open(request, timeout=timeout) as answer:
                return HttpResponse(
                    url, answer.status, _headers(answer.headers.items()), answer.read()
                )
        except urllib.error.HTTPError as error:
            # An HTTP answer with an error status: exactly what negative tests want to see.
            with error:
                return HttpResponse(url, error.code, _headers(error.headers.items()), error.read())


def _headers(items: Any) -> dict[str, str]:
    return {str(name).lower(): str(value) for name, value in items}


def _shown(response: HttpResponse) -> object:
    if "json" in response.headers.get("content-type", ""):
        try:
            return json.loads(response.body)
        except ValueError:
            pass  # Recorded as text below; the test that reads it reports the bad body.
    return response.text[:2000]


class HeldConnection:
    """A TCP (or TLS) connection opened now and used for one HTTP/1.1 request later.

    A server that stops accepting still answers connections it accepted before; that is how a
    test sees what a draining deployment answers (``/health`` 503, handshakes 503).
    """

    def __init__(
        self, url: str, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        self.url = url
        self._reader = reader
        self._writer = writer

    @classmethod
    async def open(cls, url: str, ca_bundle: Path | None, timeout_s: float) -> HeldConnection:
        """Connect to ``url``'s host (http, https, ws or wss); the request is sent later."""
        parts = urlsplit(url)
        secure = parts.scheme in ("https", "wss")
        host = parts.hostname or "127.0.0.1"
        port = parts.port or (443 if secure else 80)
        async with asyncio.timeout(timeout_s):
            reader, writer = await asyncio.open_connection(
                host, port, ssl=tls_context(ca_bundle) if secure else None
            )
        return cls(url, reader, writer)

    async def request(self, headers: Mapping[str, str], timeout_s: float) -> HttpResponse:
        """Send ``GET <url's path>`` with ``headers`` and read the whole answer."""
        parts = urlsplit(self.url)
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        lines = [f"GET {target} HTTP/1.1", f"Host: {parts.netloc}"]
        if "connection" not in {name.lower() for name in headers}:
            lines.append("Connection: close")
        lines += [f"{name}: {value}" for name, value in headers.items()]
        self._writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
        async with asyncio.timeout(timeout_s):
            await self._writer.drain()
            head = await self._reader.readuntil(b"\r\n\r\n")
            status_line, *header_lines = head.decode("latin-1").split("\r\n")
            answer_headers = _headers(line.split(":", 1) for line in header_lines if ":" in line)
            answer_headers = {name: value.strip() for name, value in answer_headers.items()}
            status = int(status_line.split()[1])
            length = answer_headers.get("content-length")
            if status == 101:
                body = b""  # An accepted upgrade: WebSocket frames follow, not a body.
            elif length:
                body = await self._reader.readexactly(int(length))
            else:
                body = await self._reader.read()
        return HttpResponse(self.url, status, answer_headers, body)

    async def close(self) -> None:
        self._writer.close()
        with contextlib.suppress(OSError, ssl.SSLError):
            await self._writer.wait_closed()

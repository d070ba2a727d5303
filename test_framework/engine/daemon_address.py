"""A Docker daemon's address: its URL, how it was found, and its TLS files.

Standard library only: the daemon lookup, the small API client and the Docker SDK client
all take one.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class TlsFiles:
    """Client certificate material for a TLS ``tcp://`` daemon (``DOCKER_CERT_PATH`` layout)."""

    ca: Path | None
    cert: Path | None
    key: Path | None
    verify: bool


@dataclass(frozen=True)
class DaemonAddress:
    url: str  # unix:///path or tcp://host:port
    source: str  # how it was found, for messages: "DOCKER_HOST", "context 'x'", "rootless socket"
    tls: TlsFiles | None = None

    @property
    def is_unix(self) -> bool:
        return self.url.startswith("unix://")

    @property
    def socket_path(self) -> str:
        return self.url.removeprefix("unix://")

    def environment(self) -> dict[str, str]:
        """Variables that point the docker CLI and Compose at this daemon."""
        env = {"DOCKER_HOST": self.url}
        if self.tls is not None:
            if self.tls.verify:
                env["DOCKER_TLS_VERIFY"] = "1"
            folder = next((p.parent for p in (self.tls.ca, self.tls.cert) if p is not None), None)
            if folder is not None:
                env["DOCKER_CERT_PATH"] = str(folder)
        return env

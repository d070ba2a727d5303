"""A Docker SDK client for the daemon the probe found (``DOCKER_HOST``, context, or socket)."""

from __future__ import annotations

import docker
import docker.tls

from test_framework.engine.daemon_address import DaemonAddress
from test_framework.engine.docker_host import locate_daemon
from test_framework.errors import ModeUnavailableError


def connect(host: str | None, timeout: float = 5.0) -> tuple[docker.DockerClient, DaemonAddress]:
    """Locate the daemon (``timeout`` per ping) and open an SDK client to it.

    Raises ``ModeUnavailableError`` with the probe's explanation when no daemon answers.
    """
    search = locate_daemon(host, timeout)
    if search.found is None:
        raise ModeUnavailableError(search.explain())
    address = search.found.address
    return open_client(address), address


def open_client(address: DaemonAddress) -> docker.DockerClient:
    """An SDK client for a daemon already located (no second ping)."""
    tls: docker.tls.TLSConfig | bool = False
    if address.tls is not None:
        files = address.tls
        cert = (str(files.cert), str(files.key)) if files.cert and files.key else None
        tls = docker.tls.TLSConfig(
            client_cert=cert,
            ca_cert=str(files.ca) if files.ca else None,
            verify=files.verify,
        )
    # Generous: removing a container that ignores SIGTERM takes its whole stop timeout.
    return docker.DockerClient(base_url=address.url, tls=tls, timeout=120)

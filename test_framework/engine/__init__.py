"""The Docker Engine and Docker Compose: finding the daemon, building and running the stack.

Hands ``backends.docker`` a running Compose project and its published port, and cleans up what
runs left behind. The daemon lookup, its small HTTP API client and the Compose detection are
standard library only (the Docker probe uses them before anything is installed); only
``docker_client`` and ``cleanup`` need the Docker SDK.
"""

from __future__ import annotations

__all__ = ["cleanup", "compose", "compose_file", "docker_host"]

"""Where the Docker daemon listens, found the way the docker CLI finds it, and whether it answers.

Order: ``DOCKER_HOST``; else the current Docker context (``DOCKER_CONTEXT`` or ``currentContext``
in ``~/.docker/config.json``, resolved through ``~/.docker/contexts/meta/*/meta.json``); else the
well-known sockets (the system socket, Docker Desktop's, rootless Docker's, Podman's).

Standard library only: the Docker probe uses it before anything is installed, and the backend
uses it too so that the probe, the Docker SDK and the Compose CLI all talk to the same daemon.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from test_framework.engine.daemon_address import DaemonAddress, TlsFiles
from test_framework.errors import ConfigError
from test_framework.settings_table import DOCKER_HOST

SYSTEM_SOCKET = Path("/var/run/docker.sock")


def docker_config_dir(env: Mapping[str, str]) -> Path:
    return Path(env.get("DOCKER_CONFIG") or Path(env.get("HOME", "~")).expanduser() / ".docker")


def well_known_sockets(env: Mapping[str, str]) -> list[tuple[Path, str]]:
    """The sockets a local daemon is found at when nothing names one, in the order tried."""
    home = Path(env.get("HOME", "~")).expanduser()
    runtime = env.get("XDG_RUNTIME_DIR") or f"/run/user/{os.getuid()}"
    return [
        (SYSTEM_SOCKET, "system socket"),
        (home / ".docker/run/docker.sock", "Docker Desktop socket"),
        (home / ".docker/desktop/docker.sock", "Docker Desktop socket"),
        (Path(runtime) / "docker.sock", "rootless Docker socket"),
        (Path(runtime) / "podman/podman.sock", "rootless Podman socket"),
        (Path("/run/podman/podman.sock"), "Podman socket"),
    ]


def candidate_addresses(env: Mapping[str, str] | None = None) -> list[DaemonAddress]:
    """The daemon addresses to try, first to last. Raises ``ConfigError`` for a bad
    ``DOCKER_HOST`` or a context that does not exist, as the docker CLI would."""
    env = os.environ if env is None else env
    host = env.get(DOCKER_HOST.env, "").strip()
    if host:
        return [parse_docker_host(host, DOCKER_HOST.env, _env_tls(env))]
    config = docker_config_dir(env)
    context = env.get("DOCKER_CONTEXT", "").strip() or _current_context(config)
    if context and context != "default":
        return [_context_address(config, context)]
    return [
        DaemonAddress(f"unix://{path}", source)
        for path, source in well_known_sockets(env)
        if path.is_socket()
    ]


def parse_docker_host(value: str, source: str, tls: TlsFiles | None = None) -> DaemonAddress:
    parts = urlsplit(value)
    if parts.scheme == "unix" and parts.path:
        return DaemonAddress(f"unix://{parts.path}", source)
    if parts.scheme == "tcp" and parts.hostname:
        port = parts.port or (2376 if tls is not None else 2375)
        return DaemonAddress(f"tcp://{parts.hostname}:{port}", source, tls)
    raise ConfigError(
        f"{source}={value!r} is not supported here: use unix:///path/to/docker.sock or"
        " tcp://host:port (ssh:// and npipe:// daemons need a local socket forward)"
    )


def _env_tls(env: Mapping[str, str]) -> TlsFiles | None:
    verify = env.get("DOCKER_TLS_VERIFY", "") not in ("", "0")
    if not verify and not env.get("DOCKER_TLS"):
        return None
    folder = Path(env.get("DOCKER_CERT_PATH") or docker_config_dir(env))
    return _tls_files(folder, verify)


def _tls_files(folder: Path, verify: bool) -> TlsFiles:
    def existing(name: str) -> Path | None:
        path = folder / name
        return path if path.is_file() else None

    return TlsFiles(existing("ca.pem"), existing("cert.pem"), existing("key.pem"), verify)


def _current_context(config: Path) -> str:
    import json  # only here: with DOCKER_HOST set, the probe never reads a CLI config

    path = config / "config.json"
    try:
        data = json.loads(path.read_text("utf-8"))
    except FileNotFoundError:
        return ""
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{path} cannot be read ({exc}): fix or remove it") from None
    value = data.get("currentContext", "") if isinstance(data, dict) else ""
    return value if isinstance(value, str) else ""


def _context_address(config: Path, name: str) -> DaemonAddress:
    import json

    meta_dir = config / "contexts" / "meta"
    for meta in sorted(meta_dir.glob("*/meta.json")):
        try:
            data = json.loads(meta.read_text("utf-8"))
        except (OSError, ValueError) as exc:
            # One unreadable file must not hide the context another file names.
            import logging  # here: the probe imports nothing it does not use

            logging.getLogger(__name__).warning(
                "Docker context metadata %s skipped: cannot be read (%s)", meta, exc
            )
            continue
        if not isinstance(data, dict) or data.get("Name") != name:
            continue
        endpoint = data.get("Endpoints", {}).get("docker", {})
        host = endpoint.get("Host", "") if isinstance(endpoint, dict) else ""
        if not isinstance(host, str) or not host:
            raise ConfigError(f"Docker context {name!r} ({meta}) has no docker endpoint host")
        tls_dir = config / "contexts" / "tls" / meta.parent.name / "docker"
        tls = None
        if tls_dir.is_dir():
            tls = _tls_files(tls_dir, not endpoint.get("SkipTLSVerify", False))
        return parse_docker_host(host, f"Docker context {name!r}", tls)
    raise ConfigError(
        f"Docker context {name!r} not found under {meta_dir}: run `docker context use default`"
        " or unset DOCKER_CONTEXT"
    )


@dataclass(frozen=True)
class Ping:
    address: DaemonAddress
    ok: bool
    detail: str  # "Docker/20.10.24 (linux), API 1.41", or why it did not answer


@dataclass(frozen=True)
class DaemonSearch:
    """The outcome of looking for a daemon: the one that answered, and every address tried."""

    found: Ping | None
    tried: tuple[Ping, ...]
    looked: tuple[str, ...]  # well-known sockets looked for when nothing named a daemon

    def explain(self) -> str:
        """Why no daemon can be used, and what to do: one line."""
        if self.found is not None:
            return f"{self.found.detail} at {self.found.address.url}"
        fix = (
            "start the Docker daemon (e.g. `sudo systemctl start docker`), or set"
            f" {DOCKER_HOST.env} to the daemon to use"
        )
        if not self.tried:
            return f"no Docker daemon socket found (looked at {', '.join(self.looked)}): {fix}"
        failures = "; ".join(
            f"{p.address.url} ({p.address.source}): {p.detail}" for p in self.tried
        )
        return f"Docker daemon not reachable: {failures}: {fix}"


def ping(address: DaemonAddress, timeout: float) -> Ping:
    if address.is_unix and not os.path.exists(address.socket_path):
        return Ping(address, False, os.strerror(errno.ENOENT))
    # Imported here: a probe that finds no daemon socket needs no HTTP.
    from test_framework.engine.docker_api import request

    try:
        reply = request(address, "/_ping", timeout)
    except OSError as exc:
        return Ping(address, False, _os_error(exc))
    server = reply.headers.get("server", "unknown server")
    api = reply.headers.get("api-version", "")
    if reply.status != 200:
        return Ping(address, False, f"/_ping answered {reply.status} ({server})")
    return Ping(address, True, f"{server}, API {api or '?'}")


def locate_daemon(
    host: str | None, timeout: float, env: Mapping[str, str] | None = None
) -> DaemonSearch:
    """Ping the candidate addresses in order and stop at the first that answers.

    ``host`` is the configured ``DOCKER_HOST`` (``Settings.docker.host``); the rest of the
    lookup (context, ``HOME``, ``XDG_RUNTIME_DIR``) reads ``env``.
    """
    values = dict(os.environ if env is None else env)
    values.pop(DOCKER_HOST.env, None)
    if host:
        values[DOCKER_HOST.env] = host
    tried: list[Ping] = []
    for address in candidate_addresses(values):
        result = ping(address, timeout)
        tried.append(result)
        if result.ok:
            return DaemonSearch(result, tuple(tried), ())
    looked = tuple(str(path) for path, _ in well_known_sockets(values))
    return DaemonSearch(None, tuple(tried), looked)


def _os_error(exc: OSError) -> str:
    if isinstance(exc, TimeoutError):
        return "no answer (timed out)"
    return exc.strerror or str(exc) or type(exc).__name__

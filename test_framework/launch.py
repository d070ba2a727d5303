"""What minimal mode runs for a ``command`` or an ``asgi_app``: the words, the folder, the
environment, the executable found on the PATH. Nothing here starts anything: the local service
backend starts what this says, and the minimal probe checks it, so it sits below both. Standard
library only.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from test_framework.service import ServiceSettings, StartKind, fill

LOOPBACK = "127.0.0.1"
ASGI_SERVER = "uvicorn"
ASGI_EXTRA = "mission-critical-harness[asgi]"


@dataclass(frozen=True)
class Launch:
    """What to run and where; ``env`` is the process's whole environment."""

    argv: tuple[str, ...]
    executable: str  # argv[0] resolved on the PATH of ``env``
    env: Mapping[str, str]
    cwd: Path
    log_path: Path
    marker: str  # carried in the environment: proves a process of the group is ours
    stop_timeout_s: float
    name: str  # for messages: "local command: node server.js"


def describe(service: ServiceSettings) -> str:
    """``local command: node server.js`` or ``ASGI app my_service.main:app via uvicorn``."""
    if service.start_kind is StartKind.ASGI_APP:
        return f"ASGI app {service.asgi_app} via {ASGI_SERVER}"
    return f"local command: {service.command_text}"


def working_dir(service: ServiceSettings, root: Path) -> Path:
    return (root / service.command_cwd).resolve() if service.command_cwd else root


def template_argv(service: ServiceSettings, cwd: Path) -> tuple[str, ...]:
    """The words to run, placeholders still in them. An ASGI app runs under this interpreter,
    whose environment has the service and the harness's ``asgi`` extra."""
    if service.start_kind is StartKind.ASGI_APP:
        return (
            sys.executable,
            "-m",
            ASGI_SERVER,
            "--host",
            "{host}",
            "--port",
            "{port}",
            "--lifespan",
            "on",
            "--app-dir",
            str(cwd),
            service.asgi_app,
        )
    return service.command


def environment(
    service: ServiceSettings, values: Mapping[str, str], base: Mapping[str, str]
) -> dict[str, str]:
    """``base`` (this process's environment) with ``command_env`` filled in over it."""
    env = dict(base)
    env.update({name: fill(value, values) for name, value in service.command_env})
    return env


def find_executable(word: str, cwd: Path, env: Mapping[str, str]) -> str | None:
    """``word`` as the process would find it: a path (relative to ``cwd``) when it has a
    slash, else the first match on ``env``'s PATH."""
    if os.sep in word or (os.altsep and os.altsep in word):
        path = cwd / word
        return str(path) if path.is_file() and os.access(path, os.X_OK) else None
    return shutil.which(word, path=env.get("PATH", os.defpath))


def placeholder_values(
    port: int, *, test_token: str, test_password: str, jwt_secret: str
) -> dict[str, str]:
    return {
        "host": LOOPBACK,
        "port": str(port),
        "test_token": test_token,
        "test_password": test_password,
        "jwt_secret": jwt_secret,
    }


@dataclass(frozen=True)
class Resolved:
    """The command with its placeholders filled, where it runs, and what it runs."""

    argv: tuple[str, ...]
    env: dict[str, str]
    cwd: Path
    executable: str | None  # None: not on PATH (nor a file in ``cwd``)


def resolve(
    service: ServiceSettings, root: Path, values: Mapping[str, str], base: Mapping[str, str]
) -> Resolved:
    cwd = working_dir(service, root)
    env = environment(service, values, base)
    argv = tuple(fill(word, values) for word in template_argv(service, cwd))
    return Resolved(argv, env, cwd, find_executable(argv[0], cwd, env))

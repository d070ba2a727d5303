"""Remembered ``<binary> version`` answers, so the docker probe need not run Compose each time.

Running ``docker-compose version`` (a Go binary) is most of the docker probe's time: 45-58 ms of
60-80. Its answer depends on the binary file alone, so it is remembered per file, keyed by the
file's resolved path, size and modification time: upgrading or replacing the binary changes the
key and it is asked again. The answers live in
``$XDG_CACHE_HOME/mission-critical-harness/versions.json`` (``~/.cache`` when ``XDG_CACHE_HOME``
is unset), at most ``MAX_ENTRIES`` of them, the newest kept.

A cache that cannot be read or written is passed over: the binary is asked, as with no cache,
and a debug line says why. Standard library only (the probe runs before anything is installed).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

MAX_ENTRIES = 32


def remembered_version(binary: Path, ask: Callable[[], str | None]) -> str | None:
    """``binary``'s version as remembered, else ``ask()``'s answer, remembered if not None."""
    key = _key(binary)
    if key is None:
        return ask()
    path = cache_file()
    known = _load(path)
    if key in known:
        return known[key]
    version = ask()
    if version is not None:
        known[key] = version  # a new key: it goes last, among the newest
        _store(path, dict(list(known.items())[-MAX_ENTRIES:]))
    return version


def cache_file() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "mission-critical-harness" / "versions.json"


def _key(binary: Path) -> str | None:
    try:
        resolved = binary.resolve(strict=True)
        stat = resolved.stat()
    except OSError:
        return None
    return f"{resolved}:{stat.st_size}:{stat.st_mtime_ns}"


def _load(path: Path) -> dict[str, str]:
    try:
        data = json.loads(path.read_text("utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        _debug("version cache %s not read (%s): asking the binary", path, exc)
        return {}
    if not isinstance(data, dict):
        _debug("version cache %s is not an object: asking the binary", path)
        return {}
    return {str(k): v for k, v in data.items() if isinstance(v, str)}


def _store(path: Path, known: dict[str, str]) -> None:
    # A temporary file renamed into place: a reader never sees half a file.
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        import tempfile  # only when a version is remembered anew

        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".versions-")
    except OSError as exc:
        _debug("version cache %s not written (%s)", path, exc)
        return
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            json.dump(known, stream)
        os.replace(temporary, path)
    except OSError as exc:
        _debug("version cache %s not written (%s)", path, exc)
        Path(temporary).unlink(missing_ok=True)


def _debug(message: str, *args: object) -> None:
    # logging is imported only here: the probe reads the cache on every run and must not pay
    # for it when nothing goes wrong.
    import logging

    logging.getLogger(__name__).debug(message, *args)

"""Where the compose file is: the configured path, then ``docker/``, the root, the working folder.

Its own small module because the Docker probe looks for the file even when no daemon answers,
and must not pay for importing the Compose lifecycle then. Standard library only.
"""

from __future__ import annotations

from pathlib import Path

from test_framework.errors import ConfigError


def compose_file_places(configured: str, root: Path, cwd: Path) -> list[Path]:
    """Where the compose file is looked for, in order: the configured path (relative to the
    project root), then ``docker/``, then the project root, then the working directory."""
    given = Path(configured).expanduser()
    name = given.name
    places = [given if given.is_absolute() else root / given]
    places += [root / "docker" / name, root / name, cwd / name]
    unique: list[Path] = []
    for place in places:
        if place not in unique:
            unique.append(place)
    return unique


def resolve_compose_file(configured: str, root: Path, cwd: Path | None = None) -> Path:
    places = compose_file_places(configured, root, Path.cwd() if cwd is None else cwd)
    for place in places:
        if place.is_file():
            return place
    raise ConfigError(
        f"compose file {configured!r} not found; looked in: {', '.join(map(str, places))}:"
        " set compose_file in [tool.test_framework.service] to where it is"
    )

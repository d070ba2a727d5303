"""The folders of the working tree that ``install`` installs as copies, which every mode session
reinstalls so that the suite never runs against an earlier run's copy.

A folder requirement (``.``, ``.[test]``, ``services/api``) installed without ``-e`` is a copy
of the folder as it was when it was installed; a reused environment (``nox -R``, ``nox -r``,
tox's default) keeps that copy, and pip and uv both count an installed folder as satisfied. So
the runners reinstall these folders on every run, without their dependencies (no resolution:
uv takes about a second, most of it the build backend), after the usual install, which a
reused environment may skip. Editable folders are left alone: they are imported from the tree.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from test_framework.results.code import project_name

# pip's options that take a value as the next word: that word is not a requirement.
_VALUED = {
    "-r",
    "--requirement",
    "-c",
    "--constraint",
    "-i",
    "--index-url",
    "--extra-index-url",
    "-f",
    "--find-links",
    "--trusted-host",
    "--config-settings",
    "-C",
    "--prefix",
    "--target",
    "-t",
    "--root",
    "--src",
    "--upgrade-strategy",
    "--python",
    "-p",
}
_EDITABLE = ("-e", "--editable")
_EXTRAS = re.compile(r"\[[^\]]*\]$")


@dataclass(frozen=True)
class CopiedFolder:
    """A folder requirement installed as a copy: the word as ``install`` has it, the folder,
    and its distribution's name when its ``pyproject.toml`` says it."""

    word: str
    folder: Path
    name: str | None


def copied_folders(words: list[str], root: Path) -> list[CopiedFolder]:
    """The folder requirements among ``words`` (``install``'s lines split into words, relative
    to ``root``) that are not editable and are ``root`` or below it, the project's own code:
    those a reused environment keeps as stale copies."""
    found: list[CopiedFolder] = []
    skip_next = False
    for word in words:
        if skip_next:
            skip_next = False
            continue
        if word in _EDITABLE or word in _VALUED:
            skip_next = True
            continue
        if word.startswith("-"):
            continue  # an option, or -e/--editable=... glued to its value
        folder = (root / _EXTRAS.sub("", word)).resolve()
        if root.resolve() not in (folder, *folder.parents):
            continue  # not the project's code: a checkout of the harness, a sibling repository
        if (folder / "pyproject.toml").is_file() or (folder / "setup.py").is_file():
            found.append(CopiedFolder(word, folder, project_name(folder)))
    return found


def reinstall_arguments(folders: list[CopiedFolder], *, uv: bool) -> list[str]:
    """The arguments after ``pip install`` (or ``uv pip install``) that reinstall ``folders``
    from the tree without touching their dependencies."""
    options = ["--no-deps"]
    names = [folder.name for folder in folders]
    if uv and all(names):
        # Rebuilds these alone; uv's --reinstall would refresh its whole cache.
        for name in names:
            options += ["--reinstall-package", str(name)]
    else:
        options.append("--force-reinstall")
    return [*options, *(str(folder.folder) for folder in folders)]

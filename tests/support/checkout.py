"""A copy of a checkout as a fresh clone holds it, for tests that build or install from one."""

from __future__ import annotations

import shutil
from pathlib import Path

# What a fresh clone does not hold: environments, caches, build output, wheelhouses.
UNTRACKED = shutil.ignore_patterns(
    ".git",
    ".venv",
    ".nox",
    ".tox",
    "reports",
    "build",
    "dist",
    "wheels",
    "*.egg-info",
    "__pycache__",
    ".*_cache",
    ".hypothesis",
)


def clean_copy(source: Path, destination: Path) -> Path:
    """``source`` copied to ``destination`` without what a fresh clone lacks."""
    shutil.copytree(source, destination, ignore=UNTRACKED)
    return destination

"""Every Compose file the harness and its examples ship passes the Compose specification's schema.

Offline: check-jsonschema's vendored copy of the specification. The files are found, not listed,
so that a new example's compose file is checked from its first commit.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.workflow_linters import COMPOSE_SPEC, check_schema

ROOT = Path(__file__).resolve().parents[2]


def compose_files() -> list[Path]:
    found = {
        path
        for folder in (ROOT / "docker", ROOT / "examples")
        for pattern in ("*compose*.yml", "*compose*.yaml")
        for path in folder.rglob(pattern)
        if "node_modules" not in path.parts
    }
    return sorted(found)


def test_the_shipped_compose_files_are_found() -> None:
    names = {str(p.relative_to(ROOT)) for p in compose_files()}
    assert {"docker/docker-compose.yml", "examples/chat-service/docker/compose.yml"} <= names


@pytest.mark.parametrize("compose", compose_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_the_compose_file_passes_the_compose_specification(compose: Path) -> None:
    done = check_schema(compose, COMPOSE_SPEC)
    assert done.returncode == 0, done.stdout + done.stderr

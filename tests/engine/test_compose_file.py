"""Where the harness looks for the compose file, and what it says when the file is nowhere."""

from __future__ import annotations

from pathlib import Path

import pytest

from test_framework.engine.compose_file import compose_file_places, resolve_compose_file
from test_framework.errors import ConfigError

NAME = "docker-compose.alpine-test.yml"


@pytest.fixture
def layout(tmp_path: Path) -> tuple[Path, Path]:
    root = tmp_path / "project"
    cwd = tmp_path / "elsewhere"
    (root / "docker").mkdir(parents=True)
    cwd.mkdir()
    return root, cwd


def touch(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("services: {}\n")
    return path


def test_the_configured_path_wins_over_every_other_place(layout: tuple[Path, Path]) -> None:
    root, cwd = layout
    configured = touch(root / "deploy" / NAME)
    for other in (root / "docker" / NAME, root / NAME, cwd / NAME):
        touch(other)
    assert resolve_compose_file(f"deploy/{NAME}", root, cwd) == configured


def test_a_file_in_docker_is_found_when_the_configured_path_is_wrong(
    layout: tuple[Path, Path],
) -> None:
    root, cwd = layout
    expected = touch(root / "docker" / NAME)
    touch(root / NAME)
    assert resolve_compose_file(f"deploy/{NAME}", root, cwd) == expected


def test_the_repository_root_comes_after_docker(layout: tuple[Path, Path]) -> None:
    root, cwd = layout
    expected = touch(root / NAME)
    touch(cwd / NAME)
    assert resolve_compose_file(f"missing/{NAME}", root, cwd) == expected


def test_the_working_directory_is_the_last_place_looked(layout: tuple[Path, Path]) -> None:
    root, cwd = layout
    expected = touch(cwd / NAME)
    assert resolve_compose_file(f"missing/{NAME}", root, cwd) == expected


def test_an_absolute_configured_path_is_used_as_given(layout: tuple[Path, Path]) -> None:
    root, cwd = layout
    outside = touch(layout[1].parent / "ops" / "stack.yml")
    assert resolve_compose_file(str(outside), root, cwd) == outside


def test_a_missing_file_is_an_error_listing_every_place_looked_in_order(
    layout: tuple[Path, Path],
) -> None:
    root, cwd = layout
    with pytest.raises(ConfigError) as caught:
        resolve_compose_file(f"deploy/{NAME}", root, cwd)
    message = str(caught.value)
    places = [root / "deploy" / NAME, root / "docker" / NAME, root / NAME, cwd / NAME]
    positions = [message.index(str(place)) for place in places]
    assert positions == sorted(positions)
    assert "compose_file" in message
    assert "\n" not in message


def test_places_are_not_repeated_when_the_configured_path_is_docker(
    layout: tuple[Path, Path],
) -> None:
    root, cwd = layout
    places = compose_file_places(f"docker/{NAME}", root, cwd)
    assert places == [root / "docker" / NAME, root / NAME, cwd / NAME]

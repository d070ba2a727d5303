"""Compose's version is asked once per binary file, and again when the file changes."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from test_framework.engine.compose_command import find_compose
from test_framework.engine.version_cache import MAX_ENTRIES, cache_file, remembered_version


@pytest.fixture(autouse=True)
def own_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "docker-config"))


def counting_compose(folder: Path, version: str) -> tuple[Path, Path]:
    """A docker-compose that prints ``version`` and counts how often it was asked."""
    folder.mkdir(parents=True, exist_ok=True)
    calls = folder / "calls"
    path = folder / "docker-compose"
    path.write_text(f"#!/bin/sh\necho x >> {calls}\necho 'Docker Compose version v{version}'\n")
    path.chmod(0o755)
    return path, calls


def asked(calls: Path) -> int:
    return len(calls.read_text().splitlines()) if calls.exists() else 0


def find(bin_dir: Path, tmp_path: Path) -> str:
    return find_compose(path=str(bin_dir), beside=tmp_path / "venv").version


def times_asked_in_two_probes(tmp_path: Path) -> int:
    """Two probes of one docker-compose 2.40.3: how often the binary itself was run."""
    bin_dir = tmp_path / "bin"
    _, calls = counting_compose(bin_dir, "2.40.3")
    assert find(bin_dir, tmp_path) == "2.40.3"
    assert find(bin_dir, tmp_path) == "2.40.3"
    return asked(calls)


def test_a_second_probe_does_not_run_the_same_compose_binary_again(tmp_path: Path) -> None:
    assert times_asked_in_two_probes(tmp_path) == 1


def test_a_replaced_binary_is_asked_again(tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    path, calls = counting_compose(bin_dir, "2.40.3")
    assert find(bin_dir, tmp_path) == "2.40.3"
    counting_compose(bin_dir, "2.41.0")
    os.utime(path, ns=(0, path.stat().st_mtime_ns + 1_000_000))
    assert find(bin_dir, tmp_path) == "2.41.0"
    assert asked(calls) == 2


def test_a_cache_that_cannot_be_written_only_costs_the_question(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocker))
    assert times_asked_in_two_probes(tmp_path) == 2


def test_a_damaged_cache_file_is_replaced(tmp_path: Path) -> None:
    cache_file().parent.mkdir(parents=True)
    cache_file().write_text("{not json")
    assert times_asked_in_two_probes(tmp_path) == 1
    assert list(json.loads(cache_file().read_text()).values()) == ["2.40.3"]


def test_no_answer_is_not_remembered(tmp_path: Path) -> None:
    binary = tmp_path / "tool"
    binary.write_text("")
    answers: list[str | None] = [None, "1.2.3"]
    assert remembered_version(binary, lambda: answers.pop(0)) is None
    assert remembered_version(binary, lambda: answers.pop(0)) == "1.2.3"
    assert remembered_version(binary, lambda: "never asked") == "1.2.3"


def test_the_cache_keeps_the_newest_entries_only(tmp_path: Path) -> None:
    for index in range(MAX_ENTRIES + 5):
        binary = tmp_path / f"tool-{index}"
        binary.write_text("")
        remembered_version(binary, lambda index=index: f"1.0.{index}")
    kept = json.loads(cache_file().read_text())
    assert len(kept) == MAX_ENTRIES
    assert f"1.0.{MAX_ENTRIES + 4}" in kept.values()
    assert "1.0.0" not in kept.values()

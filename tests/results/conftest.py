"""The gate reads ``baseline`` from the project at the current folder: these tests judge
sample ledgers, so they run in a folder of their own, where no baseline is configured, unless
a test writes one."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def outside_this_repository(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Path:
    folder = tmp_path_factory.mktemp("project")
    monkeypatch.chdir(folder)
    return folder

"""minimal through ``asgi_app``: examples/asgi-chat's own mission-critical suite, run by the
harness as its team runs it (uvicorn in a process of its own, lifespan on, the token through
``command_env``), alone and under ``-n 2``; and an app that cannot start is broken, named."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.environment import ROOT, isolated_environment, run_captured

EXAMPLE = ROOT / "examples" / "asgi-chat"
RUN_TIMEOUT_S = 180.0  # generous: the machine is shared; only proves "does not hang"


def run_example(folder: Path, reports: Path, *more: str) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, "-m", "pytest", "--mc-mode", "minimal", "-p", "no:cacheprovider"]
    # One word: pytest takes an existing path among its arguments for its rootdir.
    argv += [f"--mc-report-dir={reports}", *more]
    return run_captured(argv, cwd=folder, env=isolated_environment(), timeout=RUN_TIMEOUT_S)


@pytest.mark.parametrize("workers", [[], ["-n", "2"]], ids=["one process", "two workers"])
def test_the_asgi_example_passes_its_suite_in_minimal_and_shuts_down_through_its_lifespan(
    tmp_path: Path, workers: list[str]
) -> None:
    done = run_example(EXAMPLE, tmp_path, *workers)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "5 passed" in done.stdout
    assert "minimal requested: ASGI app asgi_chat.app:app via uvicorn" in done.stdout
    ledger = json.loads((tmp_path / "minimal" / "ledger.json").read_text())
    assert ledger["deployment"]["details"]["kind"] == "asgi_app"
    logs = sorted((tmp_path / "minimal").glob("service*.log"))
    assert len(logs) == max(len(workers), 1)  # each worker serves its own
    for log in logs:
        text = log.read_text()
        assert "asgi-chat: started" in text
        assert "asgi-chat: shut down" in text  # SIGTERM ran the lifespan's shutdown


def copy_example(tmp_path: Path) -> Path:
    folder = tmp_path / "asgi-chat"
    shutil.copytree(EXAMPLE, folder, ignore=shutil.ignore_patterns("reports", "*.egg-info"))
    return folder


def test_an_app_whose_module_is_not_there_is_broken_before_any_test(tmp_path: Path) -> None:
    folder = copy_example(tmp_path)
    pyproject = folder / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace("asgi_chat.app:app", "asgi_chat.ap:app"))
    done = run_example(folder, tmp_path / "reports")
    assert done.returncode == 4, done.stdout + done.stderr
    assert (
        "mode minimal is configured but unhealthy: ASGI app asgi_chat.ap:app: module"
        " 'asgi_chat.ap' is not importable from " in done.stderr
    )


def test_an_app_whose_lifespan_fails_is_broken_with_uvicorns_words(tmp_path: Path) -> None:
    folder = copy_example(tmp_path)
    pyproject = folder / "pyproject.toml"
    # No token for the app: its lifespan's startup refuses to start.
    pyproject.write_text(pyproject.read_text().replace('CHAT_TOKEN = "{test_token}"', ""))
    done = run_example(folder, tmp_path / "reports", "-x")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "ASGI app asgi_chat.app:app via uvicorn exited with status 3 before it was ready" in (
        done.stdout
    )
    assert "CHAT_TOKEN is not set" in done.stdout

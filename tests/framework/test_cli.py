"""``python -m test_framework`` as a process: its commands, and how it ends when its reader goes
away."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from test_framework.cli import COMMANDS, SIGPIPE_EXIT_STATUS
from tests.support.environment import isolated_environment, run_captured

REPO = Path(__file__).resolve().parents[2]


def test_a_reader_that_went_away_ends_the_probe_quietly_with_the_sigpipe_status(
    tmp_path: Path,
) -> None:
    read_end, write_end = os.pipe()
    os.close(read_end)  # like `| head -1` having exited: every write fails with EPIPE
    env = isolated_environment({"DOCKER_HOST": f"unix://{tmp_path}/no-daemon.sock"})
    try:
        done = subprocess.run(
            [sys.executable, "-m", "test_framework", "probe", "--json"],
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            cwd=REPO,
            env=env,
            timeout=60,
            check=False,
        )
    finally:
        os.close(write_end)
    assert done.returncode == SIGPIPE_EXIT_STATUS, done.stderr
    assert "Traceback" not in done.stderr
    assert "Exception ignored" not in done.stderr


def run_cli(*args: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    env = isolated_environment({"DOCKER_HOST": f"unix://{tmp_path}/no-daemon.sock"})
    return run_captured(
        [sys.executable, "-m", "test_framework", *args], cwd=REPO, env=env, timeout=60
    )


def test_help_without_a_command_lists_every_command(tmp_path: Path) -> None:
    done = run_cli("--help", tmp_path=tmp_path)
    assert done.returncode == 0, done.stderr
    for name, (_, help_text) in COMMANDS.items():
        assert name in done.stdout
        assert help_text[:30] in " ".join(done.stdout.split())


def test_a_misspelt_command_is_refused_naming_every_command(tmp_path: Path) -> None:
    done = run_cli("prob", tmp_path=tmp_path)
    assert done.returncode == 2
    assert "invalid choice: 'prob'" in done.stderr
    assert all(repr(name) in done.stderr for name in COMMANDS), done.stderr


def test_a_chosen_command_builds_and_imports_only_its_own_parser() -> None:
    code = (
        "import sys; from test_framework import cli;"
        " parser = cli.build_parser('probe');"
        " print(sorted(n for n, (m, _) in cli.COMMANDS.items() if m in sys.modules));"
        " print(parser.parse_args(['probe', '--json']).json)"
    )
    done = run_captured([sys.executable, "-c", code], cwd=REPO, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split("\n")[:2] == ["['probe']", "True"]

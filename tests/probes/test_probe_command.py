"""``python -m test_framework probe``: beside "auto would pick: nothing" no mode is a "yes"."""

from __future__ import annotations

import socket
import sys
from pathlib import Path

from tests.support.environment import isolated_environment, run_captured


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_a_broken_mode_stops_auto_and_a_mode_that_could_run_is_offered_by_name(
    tmp_path: Path,
) -> None:
    (tmp_path / "pyproject.toml").write_text(
        "[tool.test_framework.service]\n"
        f'command = ["{sys.executable}", "-m", "http.server", "{{port}}"]\n'
    )
    env = isolated_environment(
        {
            "DOCKER_HOST": "unix:///nonexistent.sock",
            "STAGING_WEBSOCKET_URL": f"ws://127.0.0.1:{closed_port()}/ws",
            "STAGING_AUTH_TOKEN": "probe-command-token-1234",
            "STAGING_FALLBACK_TIMEOUT": "2",
        }
    )
    argv = [sys.executable, "-m", "test_framework", "probe"]
    done = run_captured(argv, cwd=tmp_path, env=env, timeout=60)
    assert done.returncode == 1, done.stdout + done.stderr
    rows = {line.split()[0]: line.split()[1] for line in done.stdout.splitlines()[1:4]}
    assert rows == {"docker_local": "no", "staging_fallback": "BROKEN", "minimal": "by"}
    last = done.stdout.splitlines()[-1]
    assert last.startswith("auto would pick: nothing: staging_fallback is configured but unhealthy")
    assert "; run minimal by name with --mc-mode minimal  (" in last
    assert " yes " not in done.stdout


def test_a_factory_this_process_cannot_import_is_listed_as_not_checked_here_not_as_passed(
    tmp_path: Path,
) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[tool.test_framework.service]\nfactory = "team_pkg_not_here.service:start"\n'
    )
    env = isolated_environment({"DOCKER_HOST": "unix:///nonexistent.sock"})
    argv = [sys.executable, "-m", "test_framework", "probe", "--steps"]
    done = run_captured(argv, cwd=tmp_path, env=env, timeout=60)
    factory = [line.split() for line in done.stdout.splitlines() if " factory: " in line]
    assert factory, done.stdout + done.stderr
    assert factory[0][:3] == ["not", "checked", "here"], done.stdout

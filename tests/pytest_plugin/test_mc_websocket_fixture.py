"""``mc_websocket`` in a team's own project, run as a real pytest subprocess in minimal mode
against a service that does not speak docs/protocol.md (tests/support/echo_service.py), under
pytest-asyncio's strict mode and its auto mode. Also: a project with no service configured."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.environment import isolated_environment, run_captured

RUN_TIMEOUT_S = 180.0

STRICT_SUITE = """
import pytest

from test_framework.client.agent import HandshakeRefused


@pytest.mark.asyncio
async def test_an_authenticated_socket_echoes(mc_websocket, mc_credentials):
    ws = await mc_websocket()
    assert ws.ready is None
    await ws.send_json({"kind": "hello"})
    assert await ws.recv_json() == {"kind": "hello"}
    # Kept for the outer test, which checks that no report holds it.
    with open("token.txt", "w") as handle:
        handle.write(mc_credentials.token)


@pytest.mark.asyncio
async def test_a_wrong_token_is_refused(mc_websocket):
    with pytest.raises(HandshakeRefused) as refused:
        await mc_websocket(headers={"Authorization": "Bearer wrong-token-000"}, authenticate=False)
    assert refused.value.status == 401


@pytest.mark.asyncio
async def test_no_credentials_are_refused(mc_websocket):
    with pytest.raises(HandshakeRefused) as refused:
        await mc_websocket(authenticate=False)
    assert refused.value.status == 401
"""

AUTO_SUITE = """
import pytest


async def test_the_ready_message_is_read_and_the_query_token_accepted(mc_websocket):
    ws = await mc_websocket()
    assert ws.ready == {"type": "hello", "service": "echo"}
    assert "token=" in ws.connection.request.path
    await ws.send("after ready")
    assert await ws.recv() == "after ready"


async def test_a_missing_ready_message_fails_naming_it(mc_websocket):
    with pytest.raises(AssertionError, match="no 'hello' message after the upgrade"):
        await mc_websocket(path="/quiet")
"""


def pytest_ini(mode: str) -> str:
    return (
        "[pytest]\n"
        f"asyncio_mode = {mode}\n"
        "asyncio_default_fixture_loop_scope = function\n"
        "asyncio_default_test_loop_scope = function\n"
        "filterwarnings = error\n"
        "addopts = -p no:cacheprovider -p no:randomly\n"
    )


def make_project(folder: Path, service: str, ini: str, suite: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "pyproject.toml").write_text(
        f'[tool.test_framework]\nreport_dir = "out"\n\n[tool.test_framework.service]\n{service}'
    )
    (folder / "pytest.ini").write_text(ini)
    (folder / "test_team.py").write_text(suite)
    return folder


def run(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return run_captured(
        [sys.executable, "-m", "pytest", *args],
        cwd=folder,
        env=isolated_environment({"FORCE_DOCKER_UNAVAILABLE": "true"}),
        timeout=RUN_TIMEOUT_S,
    )


def test_mc_websocket_works_under_pytest_asyncio_strict_mode_with_a_bearer_service(
    tmp_path: Path,
) -> None:
    project = make_project(
        tmp_path / "strict",
        'factory = "tests.support.echo_service:start"\nauth = "bearer"\n',
        pytest_ini("strict"),
        STRICT_SUITE,
    )
    result = run(project, "--mc-mode", "minimal", "-q")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "3 passed" in result.stdout
    token = (project / "token.txt").read_text()
    assert len(token) >= 16
    transcripts = list((project / "out" / "minimal" / "transcripts").glob("*.json"))
    assert len(transcripts) == 3
    reports = "".join(path.read_text() for path in (project / "out").rglob("*") if path.is_file())
    assert token not in reports
    echoed = next(p for p in transcripts if "socket_echoes" in p.name)
    entries = json.loads(echoed.read_text())["entries"]
    assert [(e["dir"], e["kind"]) for e in entries] == [
        ("note", "open"),
        ("note", "opened"),
        ("out", "text"),
        ("in", "text"),
        ("out", "close"),
    ]
    assert entries[0]["data"]["headers"] == {"Authorization": "***"}


def test_mc_websocket_works_under_auto_mode_with_a_ready_message_and_the_query_token(
    tmp_path: Path,
) -> None:
    project = make_project(
        tmp_path / "auto",
        'factory = "tests.support.echo_service:start_with_ready"\nauth = "bearer"\n'
        'token_via = "query"\nready_message = "hello"\n',
        pytest_ini("auto"),
        AUTO_SUITE,
    )
    result = run(project, "--mc-mode", "minimal", "-q", "--mc-profile", "message_timeout_s=1")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 passed" in result.stdout


def test_a_project_with_no_service_configured_runs_nothing_and_the_gate_fails(
    tmp_path: Path,
) -> None:
    project = tmp_path / "empty"
    project.mkdir()
    (project / "pyproject.toml").write_text('[tool.test_framework]\nreport_dir = "out"\n')
    (project / "pytest.ini").write_text(pytest_ini("strict"))
    (project / "test_team.py").write_text("def test_uses(mc_endpoints):\n    pass\n")

    minimal = run(project, "--mc-mode", "minimal", "-q")
    auto = run(project, "--mc-mode", "auto", "-q")
    gate = run_captured(
        [sys.executable, "-m", "test_framework", "gate", "out"],
        cwd=project,
        env=isolated_environment(),
        timeout=RUN_TIMEOUT_S,
    )

    no_service = (
        "no service configured: set command, asgi_app or factory in"
        " [tool.test_framework.service] (see docs/adopting.md)"
    )
    assert minimal.returncode == pytest.ExitCode.USAGE_ERROR
    assert f"mode minimal cannot run here: {no_service}" in minimal.stderr
    assert auto.returncode == pytest.ExitCode.USAGE_ERROR
    assert f"minimal: {no_service}" in auto.stderr
    assert "docker_local: " in auto.stderr
    assert gate.returncode != 0
    assert "NOTHING RAN: (all)" in gate.stdout
    assert "agent_backend" not in minimal.stdout + minimal.stderr + auto.stdout + auto.stderr


def test_a_misspelt_factory_fails_the_run_naming_it(tmp_path: Path) -> None:
    project = make_project(
        tmp_path / "misspelt",
        'factory = "tests.support.echo_service:strat"\n',
        pytest_ini("strict"),
        "def test_uses(mc_endpoints):\n    pass\n",
    )
    result = run(project, "--mc-mode", "minimal", "-q")
    assert result.returncode == pytest.ExitCode.USAGE_ERROR
    assert (
        "mode minimal is configured but unhealthy: tests.support.echo_service has no top-level"
        " 'strat'" in result.stderr
    )
    ledger = json.loads((project / "out" / "minimal" / "ledger.json").read_text())
    assert "has no top-level 'strat'" in ledger["reason"]
    assert ledger["status"] == "error"

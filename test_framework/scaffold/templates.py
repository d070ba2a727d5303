"""The text of every file ``init`` writes, from the answers it was given.

Standard library only, like the command that uses it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

# The noxfile a team needs: the harness's sessions, defined from [tool.test_framework].
NOXFILE_LINES = (
    "from test_framework.runners.nox_sessions import define_sessions",
    "",
    "define_sessions()",
)

# Pinned as in the harness's own workflow (tests/framework/test_init_command.py keeps them equal).
NOX_VERSION = "2026.10.20"
CHECKOUT = "actions/checkout@11bd71901bbe5b1630ceea73d27597364c9af683 # v4.2.2"
SETUP_PYTHON = "actions/setup-python@a26af69be951a213d495a4c3e4e4022e16d87065 # v5.6.0"
UPLOAD = "actions/upload-artifact@ea165f8d65b6e75b540449e92b4886f43607fa02 # v4.6.2"
DOWNLOAD = "actions/download-artifact@d3f86a106a0bac45b974a628896c90dbdf5c8093 # v4.3.0"


@dataclass(frozen=True)
class Answers:
    """What ``init`` was told about the team's service and tests."""

    suite: str
    install: tuple[str, ...]
    factory: str
    compose_file: str
    compose_service: str
    container_port: int
    ws_path: str
    health_path: str
    auth: str
    ready_message: str
    harness: str  # the requirement that installs the harness in CI
    # minimal mode's other two kinds (docs/service.md): a local command, or an ASGI app.
    command: str = ""
    command_env: tuple[tuple[str, str], ...] = ()
    command_cwd: str = ""
    asgi_app: str = ""


def toml_string(text: str) -> str:
    # A JSON string is a TOML basic string: the same quotes and escapes.
    return json.dumps(text)


def pyproject_section(answers: Answers) -> str:
    install = ", ".join(toml_string(line) for line in answers.install)
    lines = [
        "[tool.test_framework]",
        f"suite = {toml_string(answers.suite)}",
        f"install = [{install}]",
        'mode = "auto"',
        'report_dir = "reports"',
        "",
        "# How the harness starts and reaches the service (docs/service.md in the harness).",
        "[tool.test_framework.service]",
    ]
    lines += _minimal_lines(answers)
    if answers.compose_file:
        lines += [
            f"compose_file = {toml_string(answers.compose_file)}",
            f"compose_service = {toml_string(answers.compose_service)}",
            f"container_port = {answers.container_port}",
        ]
    else:
        lines.append('# compose_file = "docker/compose.yml"     # docker_local mode')
    lines += [
        f"ws_path = {toml_string(answers.ws_path)}",
        f"health_path = {toml_string(answers.health_path)}",
        f"auth = {toml_string(answers.auth)}",
        f"ready_message = {toml_string(answers.ready_message)}",
    ]
    return "\n".join(lines) + "\n"


def _minimal_lines(answers: Answers) -> list[str]:
    """How minimal mode starts the service: the kind given, or the three commented out."""
    # Each kind given is written: two at once are then refused, naming both, as any config is.
    kinds = {"factory": answers.factory, "command": answers.command, "asgi_app": answers.asgi_app}
    lines = [f"{key} = {toml_string(value)}" for key, value in kinds.items() if value]
    if not lines:
        return [
            "# minimal mode, one of:",
            '# command = "node server.js"                # any local command; {port} and more',
            '# asgi_app = "my_service.main:app"          # served by uvicorn',
            '# factory = "my_service.testing:start"      # an async Python factory',
        ]
    if answers.command_env:
        pairs = ", ".join(f"{name} = {toml_string(value)}" for name, value in answers.command_env)
        lines.append(f"command_env = {{ {pairs} }}")
    if answers.command_cwd:
        lines.append(f"command_cwd = {toml_string(answers.command_cwd)}")
    return lines


def noxfile() -> str:
    return "\n".join(
        (
            '"""Sessions: the mission-critical suite per mode, then the gate (nox -s'
            ' mission_critical)."""',
            "",
            "import nox  # noqa: F401  (nox loads this file)",
            *NOXFILE_LINES,
            "",
        )
    )


def conftest() -> str:
    return (
        '"""Fixtures of the mission-critical suite.\n'
        "\n"
        "The harness's pytest plugin gives the tests their deployment in every mode:\n"
        "``mc_websocket`` (an authenticated WebSocket, as [tool.test_framework.service] says),\n"
        "``mc_http`` and ``mc_endpoints``. Add the suite's own fixtures here.\n"
        '"""\n'
    )


def example_test() -> str:
    return '''"""A mission-critical test any service passes: it accepts an authenticated socket.

Run by `nox -s mission_critical` in every mode that can run here; replace it with tests of your
service's behaviour, using `mc_websocket`, `mc_http` and `mc_endpoints`.
"""

from __future__ import annotations

from typing import Any

import pytest

pytestmark = [pytest.mark.mission_critical, pytest.mark.asyncio]


async def test_the_service_accepts_an_authenticated_websocket(
    mc_websocket: Any, mc_settings: Any
) -> None:
    ws = await mc_websocket()
    if mc_settings.service.ready_message:
        assert ws.ready is not None
    assert ws.close_code is None, "the service closed the socket it had just accepted"
    await ws.close()
'''


def workflow(answers: Answers) -> str:
    return f"""\
# The mission-critical suite as a CI matrix: one job per mode x shard, then one gate over all.
# Written by `python -m test_framework init`.
#
#   matrix  `nox -s ci_matrix` turns `nox -l --json` into {{"include": [cells]}}
#   cell    `nox -s "<mode session>" -- --shard i/N`; uploads reports/ (ledger, transcripts)
#   gate    downloads every cell's ledgers and runs the gate: exit 1 when a test failed, a
#           mission-critical test ran in no mode, a required mode executed nothing, a shard is
#           missing or disagrees, or a run was interrupted.
#
# HARNESS: the requirement that installs the harness next to nox (the noxfile imports it).
# Shards per mode: the MC_SHARDS repository variable ("4", or "minimal=4,docker_local=2").
# Modes that must run: the MC_REQUIRED_MODES repository variable (default: minimal).
# Staging: STAGING_WEBSOCKET_URL (variable) and STAGING_AUTH_TOKEN or STAGING_TEST_USER /
# STAGING_TEST_PASSWORD (secrets of the "mission-critical" environment); without them
# staging_fallback is skipped with that reason.
name: mission-critical

on:
  push:
    branches: [main]
  pull_request:
  workflow_dispatch:

permissions: {{}}

concurrency:
  group: mission-critical-${{{{ github.ref }}}}
  cancel-in-progress: true

env:
  PYTHON_VERSION: "3.11"
  NOX_VERSION: "{NOX_VERSION}"
  HARNESS: {json.dumps(answers.harness)}

jobs:
  matrix:
    name: build the matrix
    runs-on: ubuntu-24.04
    permissions:
      contents: read
    outputs:
      matrix: ${{{{ steps.matrix.outputs.matrix }}}}
    steps:
      - uses: {CHECKOUT}
        with:
          persist-credentials: false
      - uses: {SETUP_PYTHON}
        with:
          python-version: ${{{{ env.PYTHON_VERSION }}}}
      - name: Install nox and the harness
        run: python -m pip install "nox==${{NOX_VERSION}}" "${{HARNESS}}"
      - name: Print the matrix (mode x shard) from the nox session list
        id: matrix
        env:
          MC_SHARDS: ${{{{ vars.MC_SHARDS || '1' }}}}
        run: nox -s ci_matrix -- --shards "$MC_SHARDS" --github-output

  cell:
    name: ${{{{ matrix.name }}}}
    needs: matrix
    runs-on: ubuntu-24.04
    # The staging secrets live in this environment (GitHub creates it on first use).
    environment: mission-critical
    permissions:
      contents: read
    timeout-minutes: 60
    strategy:
      fail-fast: false
      matrix: ${{{{ fromJSON(needs.matrix.outputs.matrix) }}}}
    steps:
      - uses: {CHECKOUT}
        with:
          persist-credentials: false
      - uses: {SETUP_PYTHON}
        with:
          python-version: ${{{{ env.PYTHON_VERSION }}}}
      - name: Install nox and the harness
        run: python -m pip install "nox==${{NOX_VERSION}}" "${{HARNESS}}"
      - name: Run the cell's shard of the suite
        env:
          SESSION: ${{{{ matrix.session }}}}
          SHARD: ${{{{ matrix.shard }}}}/${{{{ matrix.shards }}}}
          MC_REQUIRED_MODES: ${{{{ vars.MC_REQUIRED_MODES || 'minimal' }}}}
          STAGING_WEBSOCKET_URL: ${{{{ vars.STAGING_WEBSOCKET_URL }}}}
          STAGING_TEST_USER: ${{{{ secrets.STAGING_TEST_USER }}}}
          STAGING_TEST_PASSWORD: ${{{{ secrets.STAGING_TEST_PASSWORD }}}}
          STAGING_AUTH_TOKEN: ${{{{ secrets.STAGING_AUTH_TOKEN }}}}
        run: nox -s "$SESSION" -- --shard "$SHARD"
      - name: Upload the cell's ledger and transcripts
        if: ${{{{ !cancelled() }}}}
        uses: {UPLOAD}
        with:
          name: ${{{{ matrix.artifact }}}}
          path: reports/
          if-no-files-found: error
          retention-days: 14

  gate:
    name: gate
    needs: [matrix, cell]
    # Judge whatever the cells left, also when some of them failed.
    if: ${{{{ !cancelled() && needs.matrix.result == 'success' }}}}
    runs-on: ubuntu-24.04
    permissions:
      contents: read
    steps:
      - uses: {CHECKOUT}
        with:
          persist-credentials: false
      - uses: {SETUP_PYTHON}
        with:
          python-version: ${{{{ env.PYTHON_VERSION }}}}
      - name: Install the harness
        run: python -m pip install "${{HARNESS}}"
      - name: Download every cell's ledger
        uses: {DOWNLOAD}
        with:
          pattern: ledger-*
          path: ledgers
      - name: Gate (exit 1 when a test failed or a mission-critical test ran nowhere)
        env:
          MC_REQUIRED_MODES: ${{{{ vars.MC_REQUIRED_MODES || 'minimal' }}}}
        run: python -m test_framework gate ledgers --reports gate-report
      - name: Upload the report (index.html, JUnit per mode)
        if: ${{{{ !cancelled() }}}}
        uses: {UPLOAD}
        with:
          name: mission-critical-report
          path: gate-report/
          if-no-files-found: error
"""

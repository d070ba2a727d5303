"""The per-run secrets reach the service as the adapter documents: compose's environment gets
MC_TEST_PASSWORD, MC_JWT_SECRET and MC_TEST_TOKEN (rendered by the real Compose, no daemon)."""

from __future__ import annotations

from pathlib import Path

import pytest

from test_framework.backends.docker import DockerBackend
from test_framework.engine.compose_command import find_compose
from test_framework.errors import HarnessError
from test_framework.service import ServiceSettings
from test_framework.settings import Settings
from tests.support.runs import run_context

COMPOSE = """\
services:
  web:
    image: local/python-base:bookworm
    environment:
      PASSWORD: ${MC_TEST_PASSWORD}
      SECRET: ${MC_JWT_SECRET}
      TOKEN: ${MC_TEST_TOKEN}
"""


def test_compose_gets_the_runs_password_secret_and_token_as_mc_variables(tmp_path: Path) -> None:
    try:
        find_compose()
    except HarnessError as exc:
        pytest.skip(f"Docker Compose v2 is not installed: {exc}")
    compose_file = tmp_path / "compose.yml"
    compose_file.write_text(COMPOSE)
    run = run_context(
        tmp_path,
        "secrets",
        test_password="run-password-0001",
        jwt_secret="run-jwt-secret-of-at-least-32-bytes!",
        test_token="run-static-token-0001",
    )
    settings = Settings(root=tmp_path, service=ServiceSettings(compose_file=str(compose_file)))
    stack = DockerBackend(settings, run, lambda _: None)._compose_stack(compose_file, None)
    rendered = stack.run("config", timeout=60).stdout
    assert "PASSWORD: run-password-0001" in rendered
    assert "SECRET: run-jwt-secret-of-at-least-32-bytes!" in rendered
    assert "TOKEN: run-static-token-0001" in rendered

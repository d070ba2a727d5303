"""docker_local waits for the published port as the adapter says: ``health_path`` answering 2xx,
or, without one, the WebSocket path answering HTTP at all (the echo service, real sockets)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from test_framework.backends.docker import _wait_for_health
from test_framework.errors import ServiceUnavailableError
from test_framework.service import ServiceSettings
from tests.support.runs import run_context, serving_in_process


@pytest.fixture
def http_url(tmp_path: Path) -> Iterator[str]:
    (tmp_path / "pyproject.toml").write_text(
        '[tool.test_framework.service]\nfactory = "tests.support.echo_service:start_open"\n'
    )
    run = run_context(tmp_path, "readiness")
    with serving_in_process(tmp_path, run) as endpoints:
        yield endpoints.http_url


def test_without_a_health_path_any_http_answer_on_the_websocket_path_means_up(
    http_url: str,
) -> None:
    # A plain GET on a WebSocket endpoint is refused (426): the service is serving.
    _wait_for_health(http_url, ServiceSettings(), timeout_s=5)


def test_with_a_health_path_only_a_2xx_means_up(http_url: str) -> None:
    with pytest.raises(
        ServiceUnavailableError, match=r"/health did not give a 2xx answer from GET /health within"
    ):
        _wait_for_health(http_url, ServiceSettings(health_path="/health"), timeout_s=0.5)

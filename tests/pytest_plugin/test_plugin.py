"""The pytest plugin, run through pytester against a small fake service of its own."""

from __future__ import annotations

import ast
import json
from pathlib import Path
from typing import Any

import pytest

from test_framework.pytest_plugin import fixtures, no_mode
from tests.support.fake_staging import Behaviour, FakeStaging
from tests.support.projects import harness_project

pytest_plugins = ["pytester"]

FAKE_SERVICE = '''
from __future__ import annotations
import asyncio

class FakeService:
    """Accepts TCP connections on loopback; counts graceful shutdowns in a file."""

    def __init__(self, server: asyncio.Server, log: str) -> None:
        self.server = server
        self.log = log

    @property
    def port(self) -> int:
        return self.server.sockets[0].getsockname()[1]

    async def close(self) -> None:
        self.server.close()
        await self.server.wait_closed()

    async def shutdown(self) -> None:
        with open(self.log, "a") as handle:
            handle.write("shutdown\\n")
        await self.close()

async def start(*, host: str, port: int, test_password: str, jwt_secret: str) -> FakeService:
    assert len(test_password) >= 16 and len(jwt_secret) >= 32
    async def answer(reader, writer):
        writer.close()
    server = await asyncio.start_server(answer, host, port)
    return FakeService(server, "shutdowns.log")
'''

PYPROJECT = """
[tool.test_framework]
report_dir = "out"

[tool.test_framework.service]
factory = "fakesvc:start"
"""


@pytest.fixture
def project(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    harness_project(pytester, monkeypatch, PYPROJECT)
    pytester.makepyfile(fakesvc=FAKE_SERVICE)
    monkeypatch.setenv("PYTHONPATH", str(pytester.path))
    return pytester


def ledger(project: pytest.Pytester, mode: str = "minimal") -> dict[str, Any]:
    data: dict[str, Any] = json.loads((project.path / "out" / mode / "ledger.json").read_text())
    return data


def by_name(data: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {t["nodeid"].split("::")[-1]: t for t in data["tests"]}


SUITE = """
import os
import socket
import pytest

pytestmark = pytest.mark.mission_critical

def test_reaches_the_deployment(mc_mode, mc_endpoints):
    assert mc_mode == "minimal"
    port = int(mc_endpoints.http_url.rsplit(":", 1)[1])
    socket.create_connection(("127.0.0.1", port), timeout=5).close()
    assert os.environ["TEST_WEBSOCKET_URL"] == mc_endpoints.ws_url

def test_exports_the_old_fixture_variables():
    assert os.environ["TEST_MODE"] == "minimal"
    assert os.environ["REAL_SERVICES"] == "false"
    assert os.environ["USE_STAGING_SERVICES"] == "false"

def test_fails(mc_endpoints):
    assert 1 == 2, "one is not two"

def test_skips():
    pytest.skip("no reason to run")

@pytest.mark.xfail(reason="known gap")
def test_xfails():
    raise ValueError("gap")
"""


def test_a_minimal_run_writes_a_ledger_with_every_outcome(project: pytest.Pytester) -> None:
    project.makepyfile(test_suite=SUITE)
    result = project.runpytest_subprocess("--mc-mode", "minimal")
    result.assert_outcomes(passed=2, failed=1, skipped=1, xfailed=1)
    result.stdout.fnmatch_lines(["mission-critical mode: minimal (minimal requested*"])
    data = ledger(project)
    assert data["mode"] == "minimal"
    assert data["status"] == "ran"
    assert data["complete"] is True
    assert data["exit_status"] == 1
    assert data["probes"][0]["mode"] == "minimal"
    assert data["deployment"]["ws_url"].startswith("ws://127.0.0.1:")
    assert data["collected"]["count"] == 5
    tests = by_name(data)
    assert tests["test_reaches_the_deployment"]["outcome"] == "passed"
    assert "mission_critical" in tests["test_reaches_the_deployment"]["markers"]
    assert tests["test_fails"]["outcome"] == "failed"
    assert "one is not two" in tests["test_fails"]["message"]
    assert tests["test_skips"]["outcome"] == "skipped"
    assert tests["test_skips"]["skip_reason"] == "no reason to run"
    assert tests["test_xfails"]["outcome"] == "xfailed"
    assert all(t["attempts"] == 1 for t in data["tests"])


def test_workers_share_one_decision_and_the_controller_writes_one_ledger(
    project: pytest.Pytester,
) -> None:
    project.makepyfile(
        test_workers="""
        import os, pytest
        pytestmark = pytest.mark.mission_critical
        @pytest.mark.parametrize("n", range(6))
        def test_sees_the_same_run(n, mc_run, mc_mode):
            assert mc_mode == "minimal"
            with open(f"run-{os.environ['PYTEST_XDIST_WORKER']}-{n}", "w") as handle:
                handle.write(mc_run.run_id)
        """
    )
    result = project.runpytest_subprocess("--mc-mode", "minimal", "-n", "2")
    result.assert_outcomes(passed=6)
    run_ids = {path.read_text() for path in project.path.glob("run-gw*")}
    workers = {path.name.split("-")[1] for path in project.path.glob("run-gw*")}
    assert len(run_ids) == 1
    assert workers == {"gw0", "gw1"}
    data = ledger(project)
    assert data["run_id"] == run_ids.pop()
    assert len(data["tests"]) == 6


def test_a_lost_connection_is_rerun_and_marked_retried_but_an_assertion_is_not(
    project: pytest.Pytester,
) -> None:
    project.makepyfile(
        test_flaky="""
        from pathlib import Path
        import pytest
        from test_framework.errors import ConnectionLostError
        pytestmark = pytest.mark.mission_critical

        def test_drops_once():
            marker = Path("dropped-once")
            if not marker.exists():
                marker.write_text("x")
                raise ConnectionLostError("connection dropped")

        def test_asserts():
            Path("asserted").open("a").write("x")
            assert False, "a real failure"
        """
    )
    result = project.runpytest_subprocess("--mc-mode", "minimal")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*1 failed, 1 passed, 1 rerun*"])
    tests = by_name(ledger(project))
    assert tests["test_drops_once"]["outcome"] == "passed"
    assert tests["test_drops_once"]["attempts"] == 2
    assert tests["test_drops_once"]["retried"] is True
    assert tests["test_asserts"]["attempts"] == 1
    assert (project.path / "asserted").read_text() == "x"
    result.stdout.fnmatch_lines(["retried (2 attempts, 0 connection retries): *test_drops_once"])


def test_the_fast_failure_of_a_deployment_known_to_be_down_is_not_rerun(
    project: pytest.Pytester,
) -> None:
    project.makepyfile(
        test_outage="""
        from pathlib import Path
        from test_framework.client.availability import Availability

        def test_fails_fast():
            Path("attempts").open("a").write("x")
            availability = Availability()
            availability.mark_down("ws://127.0.0.1:9/ws", "connection refused")
            availability.check("ws://127.0.0.1:9/ws")
        """
    )
    result = project.runpytest_subprocess("--mc-mode", "minimal")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*BackendUnavailableError: backend unavailable since*"])
    assert (project.path / "attempts").read_text() == "x"
    assert by_name(ledger(project))["test_fails_fast"]["attempts"] == 1


def test_connections_the_client_retried_mark_the_test_retried_in_the_ledger(
    project: pytest.Pytester,
) -> None:
    # The client fixtures report their retries as this user property; a test that passed only
    # after retried connections must not look like a clean pass.
    project.makepyfile(
        test_retries="""
        def test_after_two_retries(request):
            request.node.user_properties.append(("mc_connection_retries", 2))

        def test_clean(request):
            request.node.user_properties.append(("mc_connection_retries", 0))
        """
    )
    result = project.runpytest_subprocess("--mc-mode", "minimal")
    result.assert_outcomes(passed=2)
    tests = by_name(ledger(project))
    assert tests["test_after_two_retries"]["connection_retries"] == 2
    assert tests["test_after_two_retries"]["retried"] is True
    assert tests["test_after_two_retries"]["attempts"] == 1
    assert tests["test_clean"]["retried"] is False
    result.stdout.fnmatch_lines(
        ["retried (1 attempts, 2 connection retries): *test_after_two_retries"]
    )


NEEDS_A_MODE = """
import pytest

@pytest.mark.parametrize("n", range(20))
def test_needs_a_deployment(mc_endpoints, n):
    pass

@pytest.mark.mission_critical
def test_is_mission_critical():
    pass
"""


@pytest.mark.parametrize("workers", [[], ["-n", "2"]], ids=["one-process", "xdist"])
def test_tests_needing_a_mode_without_one_are_one_usage_error_before_any_test(
    project: pytest.Pytester, workers: list[str]
) -> None:
    project.makepyfile(test_plain=NEEDS_A_MODE)
    result = project.runpytest_subprocess(*workers)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert [line for line in result.errlines if line.strip()] == [f"ERROR: {no_mode.NOT_ACTIVE}"]
    assert "no execution mode chosen" not in result.stdout.str()  # not once per test
    assert "passed" not in result.stdout.str()
    assert not (project.path / "out").exists()


def test_tests_needing_no_mode_run_without_one(project: pytest.Pytester) -> None:
    project.makepyfile(test_plain="def test_plain(tmp_path):\n    assert tmp_path.is_dir()\n")
    result = project.runpytest_subprocess()
    result.assert_outcomes(passed=1)


def test_a_fixture_asked_for_at_run_time_without_a_mode_fails_with_the_fix(
    project: pytest.Pytester,
) -> None:
    project.makepyfile(
        test_plain="def test_late(request):\n    request.getfixturevalue('mc_endpoints')\n"
    )
    result = project.runpytest_subprocess()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*no execution mode chosen: run pytest with --mc-mode auto*"])


def test_every_fixture_of_the_plugin_is_known_to_need_a_mode() -> None:
    tree = ast.parse(Path(fixtures.__file__).read_text("utf-8"))
    reading_the_mode = {
        node.name
        for node in tree.body
        if isinstance(node, ast.FunctionDef)
        and any("fixture" in ast.unparse(decorator) for decorator in node.decorator_list)
        and "_active(" in ast.unparse(node)
    }
    assert reading_the_mode == no_mode.MODE_FIXTURES


def test_a_requested_mode_that_cannot_run_is_a_usage_error_and_leaves_a_ledger(
    project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FORCE_DOCKER_UNAVAILABLE", "true")
    project.makepyfile(test_any="def test_any():\n    pass\n")
    result = project.runpytest_subprocess("--mc-mode", "docker_local")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*mode docker_local cannot run here: unavailable (forced)*"])
    assert "Traceback" not in result.stderr.str()
    data = ledger(project, "docker_local")
    assert data["status"] == "skipped"
    assert "forced" in data["reason"]


@pytest.mark.parametrize("mode_option", ["staging_fallback", "auto"])
def test_a_configured_deployment_that_is_broken_leaves_an_error_ledger_never_a_skip(
    project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, mode_option: str
) -> None:
    project.makepyfile(test_any="def test_any():\n    pass\n")
    monkeypatch.setenv("FORCE_DOCKER_UNAVAILABLE", "true")
    monkeypatch.setenv("STAGING_TEST_USER", "someone")
    monkeypatch.setenv("STAGING_TEST_PASSWORD", "plugin-broken-password")
    # The upgrade refused with 401: broken whatever the service's protocol.
    with FakeStaging(Behaviour(websocket="refuse")) as fake:
        monkeypatch.setenv("STAGING_WEBSOCKET_URL", fake.ws_url)
        result = project.runpytest_subprocess("--mc-mode", mode_option)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["*staging_fallback is configured but unhealthy: websocket failed after*"]
    )
    data = ledger(project, "staging_fallback")
    assert data["status"] == "error"
    assert "401" in data["reason"]


def test_an_unknown_mode_is_a_one_line_usage_error(project: pytest.Pytester) -> None:
    project.makepyfile(test_any="def test_any():\n    pass\n")
    result = project.runpytest_subprocess("--mc-mode", "dockr")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["ERROR: --mc-mode='dockr' (option): unknown mode 'dockr': use one of docker_local, *"]
    )


def test_a_collection_error_is_recorded_in_the_ledger(project: pytest.Pytester) -> None:
    project.makepyfile(
        test_broken="import no_such_module_here\n", test_fine="def test_ok():\n    pass\n"
    )
    project.runpytest_subprocess("--mc-mode", "minimal")
    errors = ledger(project)["collection_errors"]
    assert [e["nodeid"] for e in errors] == ["test_broken.py"]
    assert "no_such_module_here" in errors[0]["message"]


def test_an_interrupted_run_leaves_a_ledger_marked_incomplete(project: pytest.Pytester) -> None:
    project.makepyfile(
        test_interrupt="""
        def test_first():
            pass
        def test_interrupted():
            raise KeyboardInterrupt
        def test_never_reached():
            pass
        """
    )
    result = project.runpytest_subprocess("--mc-mode", "minimal")
    assert result.ret == pytest.ExitCode.INTERRUPTED
    data = ledger(project)
    assert data["complete"] is False
    assert "test_never_reached" not in by_name(data)


def test_deployment_control_gives_a_private_deployment_to_terminate_and_restart(
    project: pytest.Pytester,
) -> None:
    project.makepyfile(
        test_control="""
        import socket, pytest
        pytestmark = [pytest.mark.mission_critical, pytest.mark.deployment_control]

        def port(endpoints):
            return int(endpoints.http_url.rsplit(":", 1)[1])

        def test_terminate_then_restart(mc_control, mc_endpoints):
            assert port(mc_control.endpoints) != port(mc_endpoints)
            mc_control.terminate()
            with pytest.raises(OSError):
                socket.create_connection(("127.0.0.1", port(mc_control.endpoints)), timeout=2)
            fresh = mc_control.restart()
            socket.create_connection(("127.0.0.1", port(fresh)), timeout=5).close()
        """
    )
    result = project.runpytest_subprocess("--mc-mode", "minimal")
    result.assert_outcomes(passed=1)
    assert (project.path / "shutdowns.log").read_text().splitlines() == ["shutdown"]


def test_profile_overrides_reach_the_fixtures(project: pytest.Pytester) -> None:
    project.makepyfile(
        test_profile="""
        def test_profile(mc_profile):
            assert mc_profile.timeouts.connect_s == 1.5
            assert mc_profile.retry.attempts == 4
        """
    )
    result = project.runpytest_subprocess(
        "--mc-mode",
        "minimal",
        "--mc-profile",
        "connect_timeout_s=1.5",
        "--mc-profile",
        "retry_attempts=4",
    )
    result.assert_outcomes(passed=1)


def test_the_ledger_of_a_run_keeps_secrets_out(project: pytest.Pytester) -> None:
    project.makepyfile(
        test_secret="""
        def test_leaks(mc_credentials):
            assert mc_credentials.password == "shown", f"password was {mc_credentials.password}"
        """
    )
    project.runpytest_subprocess("--mc-mode", "minimal")
    text = (project.path / "out" / "minimal" / "ledger.json").read_text()
    message = by_name(json.loads(text))["test_leaks"]["message"]
    assert "password was ***" in message
    assert all(len(word) < 20 for word in message.split())


def test_report_directory_option_wins_over_pyproject(
    project: pytest.Pytester, tmp_path: Path
) -> None:
    project.makepyfile(test_any="def test_any():\n    pass\n")
    project.runpytest_subprocess(
        "--mc-mode", "minimal", "--mc-report-dir", str(tmp_path / "elsewhere")
    )
    assert (tmp_path / "elsewhere" / "minimal" / "ledger.json").is_file()

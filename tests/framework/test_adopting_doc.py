"""docs/adopting.md cannot drift: its commands run, in order, in one shell, as a new user's would.

Every ``sh`` block of the page is preceded by a marker, ``<!-- adopting-step ... -->``, whose
attributes say how this test treats it:

- none: run;
- ``skip="reason"``: shown, not run (it is the setting this test makes itself);
- ``needs="docker nginx"``: run after all the plain steps, where those tools are here; absent,
  the test that runs them is skipped with the reason, and fails instead under ``CI=true`` or when
  ``MC_REQUIRED_MODES`` names docker_local or staging_fallback;
- ``substitutes="..."``: the block's ``export STAGING_*`` lines are replaced by this test's own
  loopback deployment of the example (nginx with TLS in front of ``python -m chat_service``).

The plain steps go from an empty virtualenv to ``gate: PASSED`` in minimal mode: the harness's
wheel built from a clean copy of this checkout, ``init`` in a copy of examples/chat-service
without its ``[tool.test_framework]`` tables, the probe, and ``nox -s mission_critical``. The
same shell (its exported variables and folder) then goes on with the Docker and staging steps,
to ``gate: PASSED`` with docker_local, staging_fallback and minimal all required and all run.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shlex
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from test_framework.probes.docker import probe_docker
from test_framework.settings import load_settings
from tests.support.checkout import clean_copy
from tests.support.dockerd_lock import dockerd_lock
from tests.support.requirements import absent
from tests.support.staging_deployment import Auth, Service, StagingDeployment, find_nginx

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "docs" / "adopting.md"
EXAMPLE = ROOT / "examples" / "chat-service"
BLOCK = re.compile(r"^```sh\n(.*?)^```", re.S | re.M)
STEP = re.compile(r"^<!-- adopting-step((?: \w+=\"[^\"]+\")*) -->\n```sh\n(.*?)^```", re.S | re.M)
ATTRIBUTE = re.compile(r'(\w+)="([^"]+)"')
ATTRIBUTES = {"skip", "needs", "substitutes"}
TOOLS = {"docker", "nginx"}
STAGING_EXPORT = re.compile(r"^export (STAGING_\w+)=.*$", re.M)
SHELL_TIMEOUT_S = 900
# Variables of the machine running this test that would change what the page's commands do.
FOREIGN_ENV = re.compile(
    r"^(VIRTUAL_ENV|PYTHONPATH|PYTHONHOME|TEST_MODE|FORCE_DOCKER_UNAVAILABLE"
    r"|PIP_FIND_LINKS|UV_FIND_LINKS|MC_\w+|STAGING_\w+|USE_STAGING_FALLBACK|PYTEST_\w+)$"
)


@dataclass(frozen=True)
class Step:
    commands: str
    skip: str | None  # why it is shown and not run
    needs: frozenset[str]  # the tools it needs; run after every step that needs none
    substitutes: str | None  # what replaces its `export STAGING_*` lines, as the page says


def steps() -> list[Step]:
    """Every marked block of the page, in order."""
    found: list[Step] = []
    for attributes, commands in STEP.findall(PAGE.read_text()):
        given = dict(ATTRIBUTE.findall(attributes))
        assert set(given) <= ATTRIBUTES, f"unknown marker attribute in {attributes!r}"
        needs = frozenset(given.get("needs", "").split())
        assert needs <= TOOLS, f"unknown tool in needs={given['needs']!r}"
        found.append(Step(commands, given.get("skip"), needs, given.get("substitutes")))
    return found


def plain_steps() -> list[Step]:
    return [step for step in steps() if step.skip is None and not step.needs]


def tool_steps() -> list[Step]:
    return [step for step in steps() if step.skip is None and step.needs]


def without_harness_tables(pyproject: str) -> str:
    """The text without ``[tool.test_framework]`` and its sub-tables: what ``init`` writes."""
    kept: list[str] = []
    skipping = False
    for line in pyproject.splitlines(keepends=True):
        if line.startswith("["):
            skipping = re.match(r"\[tool\.test_framework[.\]]", line) is not None
        if not skipping:
            kept.append(line)
    return "".join(kept)


def test_every_command_block_of_the_page_is_marked_run_or_not_run_with_a_reason() -> None:
    text = PAGE.read_text()
    assert len(BLOCK.findall(text)) == len(steps())
    marked = re.findall(r"<!-- adopting-step[^>]*-->", text)
    assert len(marked) == len(steps()), "a marker not followed by a sh block, or malformed"
    assert any(step.skip for step in steps())
    run = "\n".join(step.commands for step in plain_steps())
    assert "python -m test_framework init" in run
    assert "nox -s mission_critical" in run


def test_the_steps_that_need_docker_or_nginx_come_last_and_end_with_every_mode_required() -> None:
    # They run after the plain ones: in page order only if no plain step follows them.
    order = [step for step in steps() if step.skip is None]
    first = next(i for i, step in enumerate(order) if step.needs)
    assert all(step.needs for step in order[first:])
    assert [sorted(step.needs) for step in tool_steps()] == [["docker"], ["docker", "nginx"]]
    last = tool_steps()[-1]
    assert last.substitutes is not None
    assert set(STAGING_EXPORT.findall(last.commands)) == {
        "STAGING_WEBSOCKET_URL",
        "STAGING_AUTH_TOKEN",
    }
    assert last.commands.rstrip().endswith(
        "MC_REQUIRED_MODES=docker_local,staging_fallback,minimal nox -s mission_critical"
    )


def test_the_example_without_its_harness_tables_has_none_left() -> None:
    original = (EXAMPLE / "pyproject.toml").read_text()
    stripped = without_harness_tables(original)
    assert "[tool.test_framework" in original
    assert "test_framework" not in stripped
    assert "[tool.pytest.ini_options]" in stripped
    assert '[project]\nname = "example-chat-service"' in stripped


def test_the_readme_points_to_the_page() -> None:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Adopting it in your repository", 1)[1].split("\n## ", 1)[0]
    assert "docs/adopting.md" in section


@dataclass(frozen=True)
class Adoption:
    """The plain steps' shell, done: where it ended and what it exported."""

    project: Path
    env: dict[str, str]  # the shell's environment before the first step
    state: Path  # `export -p` and `cd` at its end: what the next shell starts from
    done: subprocess.CompletedProcess[str]


def shell(script: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", "-c", "set -euxo pipefail\n" + script],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=SHELL_TIMEOUT_S,
        check=False,
    )


def user_environment(harness: Path) -> dict[str, str]:
    """This machine's environment without what would change the page's commands."""
    env = {k: v for k, v in os.environ.items() if not FOREIGN_ENV.match(k)}
    env["HARNESS_CHECKOUT"] = str(harness)
    # This test's own virtualenv must not answer for `python`, `pip` or `nox`.
    env["PATH"] = os.pathsep.join(
        p for p in env.get("PATH", "").split(os.pathsep) if not (Path(p) / "activate").exists()
    )
    return env


@pytest.fixture(scope="module")
def adoption(tmp_path_factory: pytest.TempPathFactory) -> Adoption:
    """The page's plain steps, run once in one shell in a scratch folder."""
    if shutil.which("python3.11") is None:
        pytest.skip("the page's commands use python3.11")
    if importlib.util.find_spec("test_framework.runners") is None:
        pytest.skip("the noxfile init writes needs test_framework.runners.nox_sessions")
    scratch = tmp_path_factory.mktemp("adopting")
    harness = scratch / "harness"
    clean_copy(ROOT, harness)
    project = scratch / "chat-service"
    clean_copy(EXAMPLE, project)
    pyproject = project / "pyproject.toml"
    pyproject.write_text(without_harness_tables(pyproject.read_text()))

    env = user_environment(harness)
    state = scratch / "shell-state.sh"
    script = "\n".join(step.commands for step in plain_steps())
    # The shell's state at its end, for the steps that need Docker and nginx to go on from.
    script += f'\n{{ export -p; echo "cd $(printf %q "$PWD")"; }} > {shlex.quote(str(state))}\n'
    return Adoption(project, env, state, shell(script, project, env))


def test_the_pages_commands_run_in_order_from_an_empty_venv_to_a_passing_gate(
    adoption: Adoption,
) -> None:
    output = adoption.done.stdout + adoption.done.stderr
    assert adoption.done.returncode == 0, output[-6000:]
    assert "gate: PASSED" in adoption.done.stdout, output[-6000:]
    ledger = json.loads((adoption.project / "reports" / "minimal" / "ledger.json").read_text())
    passed = {t["nodeid"].rsplit("::", 1)[-1] for t in ledger["tests"] if t["outcome"] == "passed"}
    assert "test_the_service_accepts_an_authenticated_websocket" in passed
    assert "test_health_answers_200_with_json_status_ok" in passed


def missing_tools(env: dict[str, str]) -> str | None:
    """Why the Docker and staging steps cannot run here, or None when they can."""
    # The example's wheelhouse is not a tool: its step fills it.
    probe = probe_docker(load_settings(EXAMPLE, environ=env))
    failed = [step for step in probe.steps if not step.ok and step.name != "wheelhouse"]
    if failed:
        return f"the page's Docker steps need docker_local: {failed[0].detail}"
    if find_nginx() is None:
        return (
            "the page's staging step needs nginx for its loopback TLS deployment:"
            " run .ci/setup-staging.sh (apt-get install -y nginx)"
        )
    return None


def with_deployment(commands: str, variables: dict[str, str]) -> str:
    """``commands`` with its ``export STAGING_*`` lines replaced by the deployment's, unechoed."""
    exports = " ".join(f"{key}={shlex.quote(value)}" for key, value in variables.items())
    block = f"{{ set +x; }} 2>/dev/null\nexport {exports}\nset -x"
    lines = STAGING_EXPORT.findall(commands)
    assert lines
    assert set(lines) <= set(variables), (lines, sorted(variables))
    first = STAGING_EXPORT.search(commands)
    assert first is not None
    head, tail = commands[: first.start()], STAGING_EXPORT.sub("", commands[first.start() :])
    return head + block + tail


def test_the_docker_and_staging_steps_go_on_to_a_gate_passed_in_all_three_modes(
    request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    env = user_environment(ROOT)
    reason = missing_tools(env)
    if reason is not None:
        absent(reason, "docker_local", "staging_fallback")
    adoption: Adoption = request.getfixturevalue("adoption")
    assert adoption.done.returncode == 0, "the plain steps failed: see the test before this one"

    # The page's deployment, on this machine: the example as step 3 installed it, behind nginx.
    chat = Service(
        "chat_service",
        (str(adoption.project / ".venv" / "bin" / "python"), "-m", "chat_service"),
        env={"CHAT_PORT": "{port}", "MC_TEST_TOKEN": "{secret}"},
        health_path="/healthz",
        auth=Auth.BEARER,
    )
    # Shared: a test that stops dockerd (tests/resilience) waits until these steps are done.
    with (
        dockerd_lock(shared=True, poll_s=1.0),
        StagingDeployment(tmp_path / "staging", service=chat) as deployment,
    ):
        script = [f". {shlex.quote(str(adoption.state))}"]
        for step in tool_steps():
            commands = step.commands
            if step.substitutes is not None:
                commands = with_deployment(commands, deployment.variables())
            script.append(commands)
        done = shell("\n".join(script), adoption.project, adoption.env)
        access = (deployment.ca_bundle.parent / "access.log").read_text()

    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-8000:]
    assert deployment.token not in output
    # Both steps end with a gate: docker_local and minimal, then all three.
    assert done.stdout.count("gate: PASSED") == len(tool_steps()), output[-8000:]
    # The last gate's three ledgers: one invocation, each mode ran and passed the example's tests.
    reports = adoption.project / "reports"
    ledgers = {
        mode: json.loads((reports / mode / "ledger.json").read_text())
        for mode in ("docker_local", "staging_fallback", "minimal")
    }
    assert len({ledger["invocation"] for ledger in ledgers.values()}) == 1
    for mode, ledger in ledgers.items():
        assert ledger["status"] == "ran", (mode, ledger["reason"])
        passed = {
            t["nodeid"].rsplit("::", 1)[-1] for t in ledger["tests"] if t["outcome"] == "passed"
        }
        assert "test_the_service_accepts_an_authenticated_websocket" in passed, mode
    # staging_fallback went through nginx's TLS to the WebSocket.
    assert '"GET /ws" 101' in access

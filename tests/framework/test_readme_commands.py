"""The README's everyday commands, each run as written in a fresh copy of the checkout after the
set-up commands' own steps, so the README cannot promise a command that does not work.

Slow by nature (about three minutes: a virtualenv, nox's environments, the minimal suite three
times), so it is a single test that starts everything once. It runs on a machine treated as
having no Docker daemon and no staging, as the README describes for these commands; the rows
that need more, or that are this test's own run, are listed in ``NOT_RUN`` with the reason.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.environment import run_captured

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
COMMAND_TIMEOUT_S = 900.0  # generous: the machine is shared; this only proves "does not hang"

NOT_RUN = {
    "nox -s tests lint typecheck": "the README's test command, which includes this test",
    "nox -s bench": "about ten minutes of benchmarks, and Docker and nginx for most of them",
    "nox -s tests_lowest": "the project's whole test suite again, in a fresh environment",
    "nox -s resilience": "the long fault runs: Hypothesis at 10,000 examples a property",
    "nox -s mutants": "minutes of mutation testing; .github/workflows/mutants.yml runs it",
}
# A command that must fail where a fresh clone has nothing to run it against; 0 for the rest.
EXIT_STATUS = {"nox -s staging": 1}


def fenced_command(text: str, marker: str) -> str:
    """The fenced command that follows ``<!-- marker -->``, as .ci/run reads it."""
    found = re.search(rf"<!-- {marker} -->\n```sh\n(.*?)\n```", text, re.DOTALL)
    assert found, f"README.md has no fenced command after <!-- {marker} -->"
    return found.group(1)


def everyday_commands(text: str) -> list[str]:
    """The first cell of each row of the table under "## Everyday commands"."""
    section = text.split("## Everyday commands", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| `(.+?)` \|", section, re.MULTILINE)
    assert rows, "README.md's everyday commands table has no rows"
    return rows


def setup_steps(text: str) -> list[str]:
    """The steps both set-up commands take before their nox run (the environment with nox)."""
    prefixes = set()
    for marker in ("main-command", "test-command"):
        steps = fenced_command(text, marker).split(" && ")
        assert steps[-1].startswith(".venv/bin/nox "), steps
        prefixes.add(tuple(steps[:-1]))
    assert len(prefixes) == 1, f"the set-up commands build different environments: {prefixes}"
    return list(prefixes.pop())


def fresh_copy(into: Path) -> Path:
    """The files a clone of this checkout would have (tracked or not ignored), as they are now."""
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("the checkout is not a git repository: a fresh clone cannot be made of it")
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        check=True,
        timeout=60,
    ).stdout.decode()
    for name in filter(None, listed.split("\0")):
        source = ROOT / name
        if source.is_file():  # a tracked file deleted in the work tree is not copied
            (into / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, into / name)
    return into


def user_environment(no_daemon: Path) -> dict[str, str]:
    """A user's shell: none of this run's harness settings, virtualenvs or nox; no Docker."""
    ours = [Path(sys.prefix), ROOT / ".venv", ROOT / ".nox"]
    path = [
        entry
        for entry in os.environ.get("PATH", "").split(os.pathsep)
        if entry and not any(Path(entry).is_relative_to(prefix) for prefix in ours)
    ]
    env = {
        key: value
        for key, value in os.environ.items()
        # nox's uv-backed session sets UV_PYTHON and UV_PROJECT_ENVIRONMENT to its own
        # environment, which would send the README's `uv pip install` there instead of .venv.
        if not key.startswith(
            ("PYTEST_", "TEST_", "MC_", "STAGING_", "COV_", "NOX", "HYPOTHESIS", "UV_")
        )
        and key
        not in ("USE_STAGING_FALLBACK", "FORCE_DOCKER_UNAVAILABLE", "VIRTUAL_ENV", "PYTHONPATH")
    }
    # Nobody listens there: the commands run as on a machine without a Docker daemon.
    env.update(PATH=os.pathsep.join(path), DOCKER_HOST=f"unix://{no_daemon}")
    return env


def run(command: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return run_captured(["bash", "-c", command], cwd=cwd, env=env, timeout=COMMAND_TIMEOUT_S)


def check_output(command: str, done: subprocess.CompletedProcess[str]) -> None:
    """What each command must have done beyond exiting 0."""
    if command.startswith(("nox -s mission_critical", 'nox -s "mission_critical(', "nox -t")):
        assert "gate: PASSED" in done.stdout + done.stderr
    elif command.startswith("nox -s staging"):
        # Nothing is configured in a fresh clone: asked for by name, staging fails.
        assert "cannot run here: not configured: set STAGING_WEBSOCKET_URL" in done.stderr
    elif command == "nox -l --json":
        assert any(s["name"] == "mission_critical" for s in json.loads(done.stdout))
    elif command.startswith("python -m test_framework probe"):
        assert "minimal" in done.stdout
    elif command.startswith("pytest "):
        assert "mission-critical mode: minimal" in done.stdout
        assert re.search(r"\b\d+ passed\b", done.stdout)
    else:
        pytest.fail(f"a new everyday command, {command!r}: say here what it must print")


def test_every_everyday_command_in_the_readme_works_as_written_in_a_fresh_clone(
    tmp_path: Path,
) -> None:
    text = README.read_text("utf-8")
    commands = everyday_commands(text)
    assert set(NOT_RUN) <= set(commands), "NOT_RUN names a command the README no longer has"
    clone = fresh_copy(tmp_path / "clone")
    env = user_environment(tmp_path / "no-docker.sock")

    for step in [*setup_steps(text), fenced_command(text, "everyday-setup")]:
        done = run(step, clone, env)
        assert done.returncode == 0, f"{step}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"

    activate = ". .venv/bin/activate && "
    for command in (c for c in commands if c not in NOT_RUN):
        program = command.split()[0]
        found = run(f"{activate}command -v {program}", clone, env).stdout.strip()
        assert found == str(clone / ".venv" / "bin" / program), (
            f"{command}: {program} is not the project environment's but {found or 'missing'}"
        )
        done = run(activate + command, clone, env)
        output = f"{command} exited {done.returncode}\n{done.stdout[-4000:]}\n{done.stderr[-3000:]}"
        assert done.returncode == EXIT_STATUS.get(command, 0), output
        check_output(command, done)

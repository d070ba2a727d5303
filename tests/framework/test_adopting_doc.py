"""docs/adopting.md cannot drift: its commands run, in order, in one shell, as a new user's would.

Every ``sh`` block of the page is preceded by ``<!-- adopting-step -->`` (run here) or
``<!-- adopting-step skip="reason" -->`` (shown, not run: it needs Docker, a deployment, or is the
setting this test makes itself). The run steps go from an empty virtualenv to ``gate: PASSED``:
the harness's wheel built from a clean copy of this checkout, ``init`` in a copy of
examples/chat-service without its ``[tool.test_framework]`` tables, the probe, and
``nox -s mission_critical`` with minimal mode alone.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "docs" / "adopting.md"
EXAMPLE = ROOT / "examples" / "chat-service"
BLOCK = re.compile(r"^```sh\n(.*?)^```", re.S | re.M)
STEP = re.compile(r'^<!-- adopting-step(?: skip="([^"]+)")? -->\n```sh\n(.*?)^```', re.S | re.M)
# What a fresh clone does not hold: environments, caches, build output, wheelhouses.
UNTRACKED = shutil.ignore_patterns(
    ".git",
    ".venv",
    ".nox",
    ".tox",
    "reports",
    "build",
    "dist",
    "wheels",
    "*.egg-info",
    "__pycache__",
    ".*_cache",
    ".hypothesis",
)
# Variables of the machine running this test that would change what the page's commands do.
FOREIGN_ENV = re.compile(
    r"^(VIRTUAL_ENV|PYTHONPATH|PYTHONHOME|TEST_MODE|FORCE_DOCKER_UNAVAILABLE"
    r"|PIP_FIND_LINKS|UV_FIND_LINKS|MC_\w+|STAGING_\w+|USE_STAGING_FALLBACK)$"
)


def steps() -> list[tuple[str | None, str]]:
    """(the reason it is not run, or None; the commands) of every marked block, in order."""
    return [(skip or None, commands) for skip, commands in STEP.findall(PAGE.read_text())]


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
    assert any(skip for skip, _ in steps())
    run = "\n".join(commands for skip, commands in steps() if skip is None)
    assert "python -m test_framework init" in run
    assert "nox -s mission_critical" in run


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


@pytest.mark.skipif(shutil.which("python3.11") is None, reason="the page's commands use python3.11")
@pytest.mark.skipif(
    importlib.util.find_spec("test_framework.runners") is None,
    reason="the noxfile init writes needs test_framework.runners.nox_sessions, not in this tree",
)
def test_the_pages_commands_run_in_order_from_an_empty_venv_to_a_passing_gate(
    tmp_path: Path,
) -> None:
    harness = tmp_path / "harness"
    shutil.copytree(ROOT, harness, ignore=UNTRACKED)
    project = tmp_path / "chat-service"
    shutil.copytree(EXAMPLE, project, ignore=UNTRACKED)
    pyproject = project / "pyproject.toml"
    pyproject.write_text(without_harness_tables(pyproject.read_text()))

    env = {k: v for k, v in os.environ.items() if not FOREIGN_ENV.match(k)}
    env["HARNESS_CHECKOUT"] = str(harness)
    # This test's own virtualenv must not answer for `python`, `pip` or `nox`.
    env["PATH"] = os.pathsep.join(
        p for p in env.get("PATH", "").split(os.pathsep) if not (Path(p) / "activate").exists()
    )
    script = "set -euxo pipefail\n" + "\n".join(c for skip, c in steps() if skip is None)
    done = subprocess.run(
        ["bash", "-c", script],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-6000:]
    assert "gate: PASSED" in done.stdout, output[-6000:]
    ledger = json.loads((project / "reports" / "minimal" / "ledger.json").read_text())
    passed = {t["nodeid"].rsplit("::", 1)[-1] for t in ledger["tests"] if t["outcome"] == "passed"}
    assert "test_the_service_accepts_an_authenticated_websocket" in passed
    assert "test_health_answers_200_with_json_status_ok" in passed

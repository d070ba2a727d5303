"""Sessions: the mission-critical suite per mode and its gate (the harness's nox helper), and the
project's own checks.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import nox

ROOT = Path(__file__).resolve().parent
# This checkout is the harness: nox's own interpreter imports it from here, not installed.
sys.path.insert(0, str(ROOT))

from test_framework.runners.nox_sessions import define_sessions  # noqa: E402

# Read by nox before it runs this file (an older nox says so in one line): the sessions run in
# parallel as nox 2026.10.20 first allows (test_framework.runners.nox_sessions.NOX_LOWEST).
nox.needs_version = ">=2026.10.20"
nox.options.default_venv_backend = "uv|virtualenv"
nox.options.reuse_venv = "yes"

# The mode sessions, staging, the gate and ci_matrix, from [tool.test_framework] (suite, install).
define_sessions(ROOT)

SUITE = "tests/mission_critical"
# The reference service, a distribution of its own: the project's tests use its dependencies.
SERVICE = "services/agent-backend"


@nox.session(tags=["checks"])
def tests(session: nox.Session) -> None:
    """The project's own tests: backend, harness, docker and staging support."""
    session.install("-e", SERVICE, "-e", ".[test]")
    session.run("pytest", "tests", "--ignore", SUITE, "-p", "no:cacheprovider", *session.posargs)


@nox.session(tags=["nightly"], default=False, reuse_venv=False)
def tests_lowest(session: nox.Session) -> None:
    """The project's tests on the lowest versions pyproject.toml allows (a fresh venv each run)."""
    if session.venv_backend != "uv":
        session.error("tests_lowest resolves with uv's lowest-direct: pip install 'nox[uv]'")
    session.install("--resolution", "lowest-direct", "-e", SERVICE, "-e", ".[test]")
    session.run("pytest", "tests", "--ignore", SUITE, "-p", "no:cacheprovider", *session.posargs)


@nox.session(tags=["nightly"], default=False)
def resilience(session: nox.Session) -> None:
    """tests/resilience with the long Hypothesis profile (10,000+ examples a property)."""
    session.install("-e", SERVICE, "-e", ".[test]")
    session.run(
        "pytest",
        "tests/resilience",
        "-p",
        "no:cacheprovider",
        *session.posargs,
        env={"HYPOTHESIS_PROFILE": "nightly"},
    )


@nox.session(tags=["bench"], default=False)
def bench(session: nox.Session) -> None:
    """The benchmarks, side by side in one run, printed as one table (about 10 minutes)."""
    # Installed as a team has them, from wheels: an editable install's import finder costs
    # every Python process 10-15 ms at start-up, which the probe's figure would carry.
    session.install(SERVICE, ".[docker,contract,bench]")
    session.run("python", "benchmarks/run_all.py", *session.posargs)


@nox.session(tags=["nightly"], default=False)
def mutants(session: nox.Session) -> None:
    """Mutation testing of the honesty code (mutmut; docs/performance.md): fails under 95 %
    killed or on a survivor that mutation/equivalents.txt does not list; a fresh run first
    removes each gate rule in turn (mutation/remove_each_rule.py), which fails when no test
    named after the rule notices.

    What is mutated and which unit tests run are [tool.mutmut] in pyproject.toml. A run starts
    afresh (mutmut's mutants/ folder is removed); ``-- NAME...`` re-tests only those mutants of
    the last run (mutmut's names, as printed), e.g. after adding the test that kills them.
    """
    session.install("-e", ".[mutants]")
    if not session.posargs:
        session.run("python", "mutation/remove_each_rule.py")
        shutil.rmtree(ROOT / "mutants", ignore_errors=True)
    session.run("mutmut", "run", *session.posargs)
    session.run("python", "mutation/report.py")


@nox.session(tags=["checks"])
def lint(session: nox.Session) -> None:
    session.install("ruff")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session(tags=["checks"])
def typecheck(session: nox.Session) -> None:
    session.install("-e", SERVICE, "-e", ".[lint]")
    session.run("mypy")

"""Sessions: the mission-critical suite per mode, the gate, and the project's own checks.

A mode session is a short pipeline: probe (standard library, before anything is installed),
skip with the probe's reason or fail when the mode is required, install, run the suite with the
mode's parallelism, and hand over to the ``gate`` session, which every mode session queues last.
"""

from __future__ import annotations

import secrets
import sys
import time
from pathlib import Path

import nox

ROOT = Path(__file__).resolve().parent
# The harness's settings, probes and ledger are standard library only, so this process can
# decide about a mode before any session has installed anything.
sys.path.insert(0, str(ROOT))

from test_framework.errors import HarnessError  # noqa: E402
from test_framework.modes import Mode  # noqa: E402
from test_framework.probes.decision import (  # noqa: E402
    Action,
    clear_ledgers,
    decide_mode,
    shard_from_args,
)
from test_framework.results.ledger import INVOCATION_ENV  # noqa: E402
from test_framework.settings import (  # noqa: E402
    Settings,
    load_settings,
    writable_report_dir,
)

nox.options.default_venv_backend = "uv|virtualenv"
nox.options.reuse_venv = "yes"

MODES = [mode.value for mode in Mode]
SUITE = "tests/mission_critical"
# The reference service, a distribution of its own: the minimal mode's factory imports it and
# the suite and the project's tests use its dependencies (PyJWT).
SERVICE = "services/agent-backend"
# The mode folders whose ledgers this nox run wrote; the gate judges these and nothing older.
_judged: list[str] = []
# This nox run's id, in every ledger its sessions write: the gate refuses any other as stale.
INVOCATION = time.strftime("%Y%m%d%H%M%S") + "-nox-" + secrets.token_hex(3)


# The session that met a settings error first: it prints the error, the others refer to it.
_settings_failed_in: list[str] = []


def _settings(session: nox.Session) -> Settings:
    if _settings_failed_in:
        session.error(f"the settings are wrong: see session {_settings_failed_in[0]} above")
    try:
        settings = load_settings(ROOT)
        writable_report_dir(settings)
    except HarnessError as exc:
        _settings_failed_in.append(session.name)
        session.error(str(exc))
    return settings


def _run_mode(session: nox.Session, mode: Mode, *, judge: bool = True) -> None:
    settings = _settings(session)
    try:
        shard = shard_from_args(session.posargs)
    except HarnessError as exc:
        session.error(str(exc))
    # One shard (`-- --shard i/N`, a CI matrix cell) cannot be judged alone: the gate runs
    # over all the cells' ledgers in the workflow's last job.
    if judge and shard[1] == 1:
        session.notify("gate")
    clear_ledgers(settings, mode, shard, f"nox run {INVOCATION}")
    _judged.append(mode.value)
    decision = decide_mode(settings, mode, shard, INVOCATION)
    session.log(decision.probe_line)
    if decision.action is Action.FAIL:
        session.error(decision.message)
    if decision.action is Action.SKIP:
        # The probe line above gave the reason and the gate's summary repeats it: not here too.
        session.skip(f"{mode} cannot run here (the probe line above says why)")

    _install(session, mode)
    workers = settings.profile(mode).pacing.workers
    # The environment's own interpreter: a bare `pytest` would be whatever PATH finds first
    # when the environment lacks one.
    args = ["python", "-m", "pytest", SUITE, "--mc-mode", mode.value, "-p", "no:cacheprovider"]
    if workers > 0:
        args += ["-n", str(workers)]
    # The gate writes reports/<mode>/junit.xml from the ledgers, with every mode's tests.
    session.run(*args, *session.posargs, env={INVOCATION_ENV: INVOCATION})


def _install(session: nox.Session, mode: Mode) -> None:
    """Install the harness into the session's environment, under ``-R`` too when it lacks it.

    nox creates a session's environment before the session runs, so a mode its probe skipped
    leaves an empty one behind, and ``-R`` (no install into a reused environment) would then
    run the suite without the harness.
    """
    packages = ["-e", SERVICE, "-e", ".[docker]" if mode is Mode.DOCKER_LOCAL else "."]
    session.install(*packages)
    missing = _missing_modules(session, mode)
    if not missing:
        return
    session.log(
        f"{session.virtualenv.location} lacks {', '.join(missing)} (made by a run that"
        " installed nothing, e.g. one that skipped this mode): installing the harness"
    )
    if session.venv_backend == "uv":
        session.run("uv", "pip", "install", *packages, silent=True)
    else:
        session.run("python", "-m", "pip", "install", *packages, silent=True)
    missing = _missing_modules(session, mode)
    if missing:
        session.error(
            f"{session.virtualenv.location} still lacks {', '.join(missing)} after installing:"
            " run without -R to rebuild it"
        )


# Printed by the environment's interpreter, isolated (-I) so that the project folder, which
# holds test_framework itself, does not count as an installation.
_FIND_MISSING = (
    "import importlib.util, sys;"
    " print(' '.join(m for m in sys.argv[1:] if importlib.util.find_spec(m) is None))"
)


def _missing_modules(session: nox.Session, mode: Mode) -> list[str]:
    """The modules a mode session needs that its environment cannot import."""
    needed = ["pytest", "xdist", "test_framework", "agent_backend"]
    if mode is Mode.DOCKER_LOCAL:
        needed.append("docker")
    output = session.run("python", "-I", "-c", _FIND_MISSING, *needed, silent=True, log=False)
    # None: nothing runs under --install-only, and nothing needs the harness then either.
    return output.split() if isinstance(output, str) else []


@nox.session(tags=["mission_critical"])
@nox.parametrize("mode", [nox.param(mode, tags=[mode]) for mode in MODES])
def mission_critical(session: nox.Session, mode: str) -> None:
    """The mission-critical suite in one mode; skipped, with the reason, where it cannot run."""
    _run_mode(session, Mode(mode))


@nox.session(tags=["staging"], default=False)
def staging(session: nox.Session) -> None:
    """The mission-critical suite against the configured staging deployment alone.

    Not judged by the gate: staging gives no control of the deployment, so the tests that need
    it never run here, and the gate would fail every staging-only run for that. pytest's own
    verdict stands; `nox -s mission_critical` judges staging together with the other modes.
    """
    _run_mode(session, Mode.STAGING_FALLBACK, judge=False)


@nox.session(venv_backend="none", default=False)
def gate(session: nox.Session) -> None:
    """Judge the ledgers this nox run wrote: fails when any test failed or ran nowhere."""
    settings = _settings(session)
    folders = [str(settings.report_dir / mode) for mode in _judged] or [str(settings.report_dir)]
    # Run alone (`nox -s gate`), it judges whatever the report folder holds.
    judged = ["--invocation", INVOCATION] if _judged else []
    session.run(
        sys.executable,
        "-m",
        "test_framework",
        "gate",
        *folders,
        *judged,
        "--reports",
        str(settings.report_dir),
        env={"PYTHONPATH": str(ROOT)},
        external=True,
    )


@nox.session(venv_backend="none", default=False, tags=["ci"])
def ci_matrix(session: nox.Session) -> None:
    """Print the GitHub Actions matrix (mode x shard), e.g. `nox -s ci_matrix -- --shards 4`."""
    session.run(
        sys.executable,
        "-m",
        "test_framework.ci.github_matrix",
        *session.posargs,
        env={"PYTHONPATH": str(ROOT)},
        external=True,
    )


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
    session.install("-e", SERVICE, "-e", ".[test,bench]")
    session.run("python", "benchmarks/run_all.py", *session.posargs)


@nox.session(tags=["checks"])
def lint(session: nox.Session) -> None:
    session.install("ruff")
    session.run("ruff", "check", ".")


@nox.session(tags=["checks"])
def typecheck(session: nox.Session) -> None:
    session.install("-e", SERVICE, "-e", ".[lint]")
    session.run("mypy")

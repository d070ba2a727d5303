"""Sessions: the mission-critical suite per mode, the gate, and the project's own checks.

A mode session is a short pipeline: probe (standard library, before anything is installed),
skip with the probe's reason or fail when the mode is required, install, run the suite with the
mode's parallelism, and hand over to the ``gate`` session, which every mode session queues last.
"""

from __future__ import annotations

import sys
from pathlib import Path

import nox

ROOT = Path(__file__).resolve().parent
# The harness's settings, probes and ledger are standard library only, so this process can
# decide about a mode before any session has installed anything.
sys.path.insert(0, str(ROOT))

from test_framework.errors import HarnessError  # noqa: E402
from test_framework.ledger import (  # noqa: E402
    broken_ledger,
    ledger_path,
    skipped_ledger,
    write_ledger,
)
from test_framework.modes import Mode  # noqa: E402
from test_framework.probes.runner import probe_modes  # noqa: E402
from test_framework.settings import (  # noqa: E402
    Settings,
    load_settings,
    writable_report_dir,
)
from test_framework.sharding import parse_shard  # noqa: E402

nox.options.default_venv_backend = "uv|virtualenv"
nox.options.reuse_venv = "yes"

MODES = [mode.value for mode in Mode]
SUITE = "tests/mission_critical"
# The mode folders whose ledgers this nox run wrote; the gate judges these and nothing older.
_judged: list[str] = []


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


def _shard(session: nox.Session) -> tuple[int, int]:
    """The ``--shard i/N`` among the posargs, or (1, 1)."""
    args = list(session.posargs)
    for index, arg in enumerate(args):
        if arg.startswith("--shard="):
            return parse_shard(arg.partition("=")[2])
        if arg == "--shard" and index + 1 < len(args):
            return parse_shard(args[index + 1])
    return (1, 1)


def _clear_ledgers(settings: Settings, mode: Mode, shard: tuple[int, int]) -> None:
    """Remove what earlier runs left for this mode, which the gate would judge with this run.

    A shard keeps its sibling shards' ledgers of the same split, so shards run one after
    another into one folder can be gated together.
    """
    own = ledger_path(settings.report_dir, mode.value, *shard)
    for old in own.parent.glob("ledger*.json"):
        sibling = shard[1] > 1 and old.name.endswith(f"-of-{shard[1]}.json")
        if old == own or not sibling:
            old.unlink()


def _run_mode(session: nox.Session, mode: Mode, *, judge: bool = True) -> None:
    settings = _settings(session)
    try:
        shard = _shard(session)
    except HarnessError as exc:
        session.error(str(exc))
    # One shard (`-- --shard i/N`, a CI matrix cell) cannot be judged alone: the gate runs
    # over all the cells' ledgers in the workflow's last job.
    if judge and shard[1] == 1:
        session.notify("gate")
    _clear_ledgers(settings, mode, shard)
    _judged.append(mode.value)
    probe = probe_modes(settings, [mode])[mode]
    session.log(f"probe {mode}: {probe.status} in {probe.elapsed_ms:.1f} ms: {probe.reason}")
    if not probe.available:
        # Absent (nothing configured, no daemon) is a skip; configured but failing a step is
        # a failure, here and in the gate, whether or not the mode is required.
        make = broken_ledger if probe.broken else skipped_ledger
        write_ledger(
            make(mode.value, probe.verdict, [probe.to_json()], shard),
            ledger_path(settings.report_dir, mode.value, *shard),
        )
        if probe.broken:
            session.error(f"{mode} is {probe.verdict}")
        if mode in settings.required_modes:
            session.error(f"{mode} is required by MC_REQUIRED_MODES but cannot run: {probe.reason}")
        session.skip(f"{mode} cannot run here: {probe.reason}")

    session.install("-e", ".[docker]" if mode is Mode.DOCKER_LOCAL else ".")
    workers = settings.profile(mode).pacing.workers
    args = ["pytest", SUITE, "--mc-mode", mode.value, "-p", "no:cacheprovider"]
    if workers > 0:
        args += ["-n", str(workers)]
    # The gate writes reports/<mode>/junit.xml from the ledgers, with every mode's tests.
    session.run(*args, *session.posargs)


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
    session.run(
        sys.executable,
        "-m",
        "test_framework",
        "gate",
        *folders,
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
        "test_framework.ci_matrix",
        *session.posargs,
        env={"PYTHONPATH": str(ROOT)},
        external=True,
    )


@nox.session(tags=["checks"])
def tests(session: nox.Session) -> None:
    """The project's own tests: backend, harness, docker and staging support."""
    session.install("-e", ".[test]")
    session.run("pytest", "tests", "--ignore", SUITE, "-p", "no:cacheprovider", *session.posargs)


@nox.session(tags=["nightly"], default=False, reuse_venv=False)
def tests_lowest(session: nox.Session) -> None:
    """The project's tests on the lowest versions pyproject.toml allows (a fresh venv each run)."""
    if session.venv_backend != "uv":
        session.error("tests_lowest resolves with uv's lowest-direct: pip install 'nox[uv]'")
    session.install("--resolution", "lowest-direct", "-e", ".[test]")
    session.run("pytest", "tests", "--ignore", SUITE, "-p", "no:cacheprovider", *session.posargs)


@nox.session(tags=["nightly"], default=False)
def resilience(session: nox.Session) -> None:
    """tests/resilience with the long Hypothesis profile (10,000+ examples a property)."""
    session.install("-e", ".[test]")
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
    """Issue 7's benchmarks, side by side in one run, printed as one table (about 10 minutes)."""
    session.install("-e", ".[test,bench]")
    session.run("python", "benchmarks/run_all.py", *session.posargs)


@nox.session(tags=["checks"])
def lint(session: nox.Session) -> None:
    session.install("ruff")
    session.run("ruff", "check", ".")


@nox.session(tags=["checks"])
def typecheck(session: nox.Session) -> None:
    session.install("-e", ".[lint]")
    session.run("mypy")

"""The mission-critical nox sessions, defined by one call in a project's ``noxfile.py``::

    from test_framework.runners.nox_sessions import define_sessions

    define_sessions()

It defines ``mission_critical(mode=...)`` (one session per mode, tags ``mission_critical`` and
the mode), ``staging`` (staging alone, not judged), ``gate`` and ``ci_matrix``, from
``[tool.test_framework]`` in the project's ``pyproject.toml``: ``suite`` is what a mode session
runs, ``install`` what it installs first (requirement lines, e.g. ``-e .``), and
``docker_local`` adds the harness's ``docker`` extra. nox's own environment needs the harness
(``pip install nox <harness>``): this module, the settings, the probes and the gate run there,
before any session has installed anything.

A mode session is a short pipeline: probe, skip with the probe's reason or fail when the mode is
required or broken, install, run the suite with the mode's workers, and hand over to the gate,
which judges the ledgers this nox run wrote (its invocation id, ``MC_INVOCATION_ID``).

Run one after another (``nox -s mission_critical``) each mode session queues the gate last.
Under ``nox --parallel N`` every session runs in a child nox of its own, where nothing can be
queued: the gate is then selected with the modes by its tag, ``nox -t mission_critical
--parallel 3``, and the scheduling process gives it ``requires=`` the modes, so it starts once,
after all of them (nox aborts it when a mode session failed: the run fails, and ``nox -s gate``
prints that run's table). A mode session of a parallel run that did not select the gate fails
at once, naming that command, rather than pass ungated.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
from collections.abc import Mapping, Sequence
from importlib import metadata
from pathlib import Path

import nox
from packaging.version import Version

import test_framework
from test_framework.errors import EXIT_USAGE, HarnessError
from test_framework.mode_specs import MODE_SPECS
from test_framework.modes import ALL_MODES, GATE_TAG, SESSION_TAG, Mode
from test_framework.results.ledger import INVOCATION_ENV
from test_framework.runners.decision import Action, shard_from_args
from test_framework.runners.extras import DISTRIBUTION, extra_requirements
from test_framework.runners.pipeline import gate_argv, new_invocation, prepare_mode, pytest_argv
from test_framework.runners.working_tree import copied_folders, reinstall_arguments
from test_framework.settings import Settings, load_settings, writable_report_dir

__all__ = ["define_sessions"]

PARALLEL_COMMAND = "nox -t mission_critical --parallel 3"
# The first nox whose sessions take allow_parallel= and know they run in parallel
# (session.parallel, the --parallel-worker children): 2026.8.10 has allow_parallel= but not
# those. pyproject.toml's extras and the noxfile's needs_version say the same.
NOX_LOWEST = "2026.10.20"
# Set by the nox process that schedules a parallel run, to this run's invocation id, when it
# selected the gate: its children (separate processes) read it.
GATE_FOLLOWS_ENV = "MC_NOX_GATE_FOLLOWS"
# The option nox gives the child processes of a parallel run.
_PARALLEL_WORKER = "--parallel-worker"
# The folder holding the harness's package, for the gate and the matrix, run by nox's own
# interpreter: a checkout of the harness (not installed there) works as an installed one.
_HARNESS_PATH = str(Path(test_framework.__file__).resolve().parent.parent)

# Printed by an environment's interpreter, isolated (-I) so that the project folder, which may
# hold test_framework itself, does not count as an installation.
_FIND_MISSING = (
    "import importlib.util, sys;"
    " print(' '.join(m for m in sys.argv[1:] if importlib.util.find_spec(m) is None))"
)
_HARNESS_REQUIRES = (
    "import importlib.metadata as m, json, sys\n"
    "try:\n"
    "    print(json.dumps(m.requires(sys.argv[1]) or []))\n"
    "except m.PackageNotFoundError:\n"
    "    print('null')\n"
)


class _CommandLine:
    """What the nox command line asks for, as far as the gate's place in the run goes."""

    def __init__(self, argv: Sequence[str], environ: Mapping[str, str]) -> None:
        parser = argparse.ArgumentParser(add_help=False, allow_abbrev=False)
        parser.add_argument("-s", "-e", "--sessions", "--session", nargs="*", action="extend")
        parser.add_argument("-t", "--tags", nargs="*", action="extend")
        parser.add_argument("-k", "--keywords")
        parser.add_argument("-j", "--parallel", default=environ.get("NOX_PARALLEL", "1"))
        known, _ = parser.parse_known_args(list(argv))
        # `-t mission_critical` and no other selection; anything else counts as not, so that a
        # mode session fails rather than pass ungated.
        self.gate_selected = (
            not any(environ.get(name) for name in ("NOX_SESSION", "NOX_TAGS", "NOX_KEYWORDS"))
            and not known.sessions
            and known.keywords is None
            and SESSION_TAG in (known.tags or [])
        )
        self.parallel = known.parallel not in ("1", "0")


class _Run:
    """What one nox process knows of its run: its settings, the modes it judged, its id."""

    def __init__(self, root: Path) -> None:
        self.root = root
        # The mode folders whose ledgers this process wrote; the gate judges these.
        self.judged: list[str] = []
        # The session that met a settings error first: it prints it, the others refer to it.
        self.settings_failed_in: list[str] = []
        self.command_line = _CommandLine(sys.argv[1:], os.environ)
        # One id for the whole nox run: the children of a parallel run inherit it from the
        # process that scheduled them, which set it when it loaded the noxfile. One after
        # another, the mode sessions pass it to pytest themselves, and nothing else gets it.
        inherited = os.environ.get(INVOCATION_ENV)
        if _PARALLEL_WORKER in sys.argv and inherited:
            self.invocation = inherited
            return
        # A CI pipeline sets it to its own id (GitLab's CI_PIPELINE_ID, GitHub's run id), so
        # that every cell's ledgers carry the one id its gate job judges (docs/ci.md).
        self.invocation = inherited or new_invocation("nox")
        os.environ.pop(GATE_FOLLOWS_ENV, None)
        if self.command_line.parallel and self.command_line.gate_selected:
            os.environ[INVOCATION_ENV] = self.invocation
            os.environ[GATE_FOLLOWS_ENV] = self.invocation

    def settings(self, session: nox.Session) -> Settings:
        if self.settings_failed_in:
            session.error(f"the settings are wrong: see session {self.settings_failed_in[0]} above")
        try:
            settings = load_settings(self.root)
            writable_report_dir(settings)
        except HarnessError as exc:
            self.settings_failed_in.append(session.name)
            session.error(str(exc))
        return settings

    def run_mode(
        self, session: nox.Session, mode: Mode, *, judge: bool = True, asked_by: str = ""
    ) -> None:
        settings = self.settings(session)
        try:
            shard = shard_from_args(session.posargs)
        except HarnessError as exc:
            session.error(str(exc))
        # A CI matrix cell (`-- --shard i/N`, 1/1 too) cannot be judged alone: the gate runs
        # over all the cells' ledgers in the pipeline's last job.
        if judge and not _names_a_shard(session.posargs):
            self._queue_gate(session)
        self.judged.append(mode.value)
        decision = prepare_mode(settings, mode, shard, self.invocation, "nox", asked_by=asked_by)
        session.log(decision.probe_line)
        if decision.action is Action.FAIL:
            session.error(decision.message)
        if decision.action is Action.SKIP:
            # The probe line above gave the reason and the gate's summary repeats it.
            session.skip(f"{mode} cannot run here (the probe line above says why)")

        self._install(session, settings, mode)
        # The environment's own interpreter: a bare `pytest` would be whatever PATH finds
        # first when the environment lacks one.
        args = pytest_argv(["python", "-m", "pytest"], settings, mode, settings.suite)
        # The gate writes reports/<mode>/junit.xml from the ledgers, with every mode's tests.
        session.run(*args, *session.posargs, env={INVOCATION_ENV: self.invocation})

    def _queue_gate(self, session: nox.Session) -> None:
        if session.parallel:
            # A child of a parallel run: the gate runs only where the run selected it.
            if os.environ.get(GATE_FOLLOWS_ENV) != self.invocation:
                session.error(
                    "under nox --parallel the gate runs only when selected with the modes:"
                    f" run `{PARALLEL_COMMAND}`"
                )
            return
        try:
            session.notify("gate")
        except ValueError:  # --no-dependencies: nothing can be queued
            session.error(
                f"--no-dependencies leaves the modes ungated: run `{PARALLEL_COMMAND}`,"
                " or without --no-dependencies"
            )

    def _install(self, session: nox.Session, settings: Settings, mode: Mode) -> None:
        """Install ``install`` (and the mode's extra of the harness) into the session's
        environment, under ``-R`` too when it lacks them.

        nox creates a session's environment before the session runs, so a mode its probe
        skipped leaves an empty one behind, and ``-R`` (no install into a reused environment)
        would then run the suite without the harness.
        """
        packages = [arg for line in settings.install for arg in shlex.split(line)]
        needed = ["pytest", "xdist", "test_framework"]
        _ensure(session, packages, needed, "the harness")
        factory_module = settings.service.factory.partition(":")[0].split(".")[0]
        # Installing the same packages again cannot bring a module they do not have.
        in_minimal = mode is Mode.MINIMAL and factory_module and packages
        if in_minimal and _missing_modules(session, [factory_module]):
            session.error(
                f"module {factory_module} not found after installing {' '.join(packages)}:"
                " fix factory in [tool.test_framework.service], or add the service to"
                " install in [tool.test_framework]"
            )
        extra = MODE_SPECS[mode].extra
        if extra is not None:
            requirements = _harness_extra(session, extra.name)
            _ensure(session, requirements, [extra.module], f"the harness's {extra.name} extra")
        _reinstall_copies(session, settings.root, packages)


def _reinstall_copies(session: nox.Session, root: Path, packages: list[str]) -> None:
    """Reinstall the working tree's folders that ``install`` installs as copies, without their
    dependencies, on every run: ``-R`` skips ``session.install``, and pip and uv both keep an
    installed folder as it was (docs/adopting.md, "Reused environments")."""
    folders = copied_folders(packages, root)
    if not folders:
        return
    session.log(
        f"reinstalling {', '.join(f.word for f in folders)} from the working tree (installed"
        " as a copy, which a reused environment keeps), without dependencies"
    )
    uv = session.venv_backend == "uv"
    installer = ["uv", "pip", "install"] if uv else ["python", "-m", "pip", "install"]
    session.run(*installer, *reinstall_arguments(folders, uv=uv), silent=True)


def _names_a_shard(args: Sequence[str]) -> bool:
    return any(arg == "--shard" or arg.startswith("--shard=") for arg in args)


def _ensure(session: nox.Session, packages: list[str], needed: list[str], what: str) -> None:
    """Install ``packages``, and again without nox when the environment still lacks one of the
    ``needed`` modules (``-R`` installs nothing)."""
    if not packages:
        return
    session.install(*packages)
    missing = _missing_modules(session, needed)
    if not missing:
        return
    session.log(
        f"{session.virtualenv.location} lacks {', '.join(missing)} (made by a run that"
        f" installed nothing, e.g. one that skipped this mode): installing {what}"
    )
    if session.venv_backend == "uv":
        session.run("uv", "pip", "install", *packages, silent=True)
    else:
        session.run("python", "-m", "pip", "install", *packages, silent=True)
    missing = _missing_modules(session, needed)
    if missing:
        session.error(
            f"{session.virtualenv.location} still lacks {', '.join(missing)} after installing"
            f" {' '.join(packages)}: check install in [tool.test_framework], or run without -R"
        )


def _missing_modules(session: nox.Session, needed: list[str]) -> list[str]:
    """The modules of ``needed`` that the session's environment cannot import."""
    output = session.run("python", "-I", "-c", _FIND_MISSING, *needed, silent=True, log=False)
    # None: nothing runs under --install-only, and nothing needs the harness then either.
    return output.split() if isinstance(output, str) else []


def _harness_extra(session: nox.Session, extra: str) -> list[str]:
    """The requirements of the harness's ``extra``, from the harness the session's environment
    installed (its version, not the one nox runs with)."""
    output = session.run(
        "python", "-I", "-c", _HARNESS_REQUIRES, DISTRIBUTION, silent=True, log=False
    )
    if not isinstance(output, str):
        return []  # --install-only
    requires = json.loads(output)
    if requires is None:
        session.error(
            f"{session.virtualenv.location} has test_framework but not the distribution"
            f" {DISTRIBUTION}: install the harness by install in [tool.test_framework]"
        )
    return extra_requirements(requires, extra)


def check_nox_version(installed: str) -> None:
    """Refuse, in one line, a nox older than the sessions need."""
    if Version(installed) < Version(NOX_LOWEST):
        raise HarnessError(
            f"the mission-critical sessions need nox {NOX_LOWEST} or later (sessions run in"
            f" parallel: allow_parallel=, session.parallel), and this is nox {installed}:"
            f" pip install -U 'nox>={NOX_LOWEST}'"
        )


def define_sessions(root: Path | str | None = None) -> None:
    """Define the mission-critical sessions for the project at ``root`` (default: the current
    folder, which nox makes the noxfile's own).

    Under a nox older than ``NOX_LOWEST`` it prints why in one line and exits 2: nox would
    otherwise show the noxfile's traceback (an unexpected keyword argument)."""
    try:
        check_nox_version(metadata.version("nox"))
    except HarnessError as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise SystemExit(EXIT_USAGE) from None
    run = _Run(Path(root).resolve() if root is not None else Path.cwd())
    modes = [mode.value for mode in ALL_MODES]

    @nox.session(name="mission_critical", tags=[SESSION_TAG], allow_parallel=True)
    @nox.parametrize("mode", [nox.param(mode, tags=[mode]) for mode in modes])
    def mission_critical(session: nox.Session, mode: str) -> None:
        """The mission-critical suite in one mode; skipped, with the reason, where it cannot run."""
        run.run_mode(session, Mode(mode))

    @nox.session(name="staging", tags=["staging"], default=False, allow_parallel=True)
    def staging(session: nox.Session) -> None:
        """The mission-critical suite against the configured staging deployment alone.

        Not judged by the gate: staging gives no control of the deployment, so the tests that
        need it never run here, and the gate would fail every staging-only run for that.
        pytest's own verdict stands; `nox -s mission_critical` judges staging together with the
        other modes. Asked for by name, staging must run: not configured is a failure here.
        """
        run.run_mode(session, Mode.STAGING_FALLBACK, judge=False, asked_by="nox -s staging")

    # The scheduler of a parallel run starts the gate after all the modes; one after another,
    # each mode session queues it instead, and the gate judges a mode that failed too.
    parallel_gate = run.command_line.gate_selected and run.command_line.parallel
    gate_requires = [f"mission_critical(mode='{mode}')" for mode in modes] if parallel_gate else []

    @nox.session(
        name="gate",
        venv_backend="none",
        default=False,
        tags=[SESSION_TAG, GATE_TAG],
        requires=gate_requires,
    )
    def gate(session: nox.Session) -> None:
        """Judge the ledgers this nox run wrote: fails when any test failed or ran nowhere."""
        settings = run.settings(session)
        # A parallel run's gate runs in a process of its own, after all the modes it requires.
        judged = modes if session.parallel else run.judged
        # Alone (`nox --no-dependencies -s gate`), it judges whatever the report folder holds.
        words = gate_argv(settings.report_dir, judged, run.invocation if judged else None)
        session.run(
            sys.executable,
            "-m",
            "test_framework",
            "gate",
            *words,
            env={"PYTHONPATH": _HARNESS_PATH},
            external=True,
        )

    @nox.session(name="ci_matrix", venv_backend="none", default=False, tags=["ci"])
    def ci_matrix(session: nox.Session) -> None:
        """Print the CI matrix (mode x shard): `nox -s ci_matrix -- --shards 4 --format cells`."""
        session.run(
            sys.executable,
            "-m",
            "test_framework.ci.matrix",
            *session.posargs,
            env={"PYTHONPATH": _HARNESS_PATH},
            external=True,
        )

"""The mission-critical suite as tox 4 environments, registered when the harness is installed
next to tox (the ``tox`` entry point).

``mc-docker_local``, ``mc-staging_fallback`` and ``mc-minimal`` run the suite in one mode each;
``mc-gate`` judges the ledgers this tox run wrote; the four carry the label
``mission_critical``, and the gate depends on the three, so ``tox -m mission_critical`` (also
with ``-p``) runs the modes, then the gate. ``mc-staging`` runs staging alone, unjudged, as
``nox -s staging`` does.

A mode environment is probed before anything is installed into it, by the same decision as the
nox sessions (:mod:`test_framework.runners.decision`): absent is tox's own skip with the probe's
reason, a required or broken mode fails; a mode that runs gets ``install`` from
``[tool.test_framework]``, then the environment's own ``deps``. The plugin owns each
environment's ``commands``, ``labels``, ``depends`` and ``skip_install``; the project's tox
configuration adds ``deps``, ``pass_env`` and ``set_env`` around them as for any environment.
"""

from __future__ import annotations

import logging
import os
import shlex
import sys
import threading
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tox.config.loader.memory import MemoryLoader
from tox.config.of_type import ConfigDynamicDefinition
from tox.config.types import Command, EnvList
from tox.execute.request import StdinSource
from tox.plugin import impl
from tox.report import HandledError
from tox.tox_env.errors import Fail, Skip
from tox.tox_env.python.pip.pip_install import Pip
from tox.tox_env.python.pip.req_file import PythonDeps

from test_framework.errors import HarnessError
from test_framework.mode_specs import MODE_SPECS
from test_framework.modes import ALL_MODES, Mode
from test_framework.results.ledger import INVOCATION_ENV
from test_framework.runners.decision import Action, shard_from_args
from test_framework.runners.extras import DISTRIBUTION, extra_requirements
from test_framework.runners.pipeline import gate_argv, new_invocation, prepare_mode, pytest_argv
from test_framework.runners.working_tree import copied_folders, reinstall_arguments
from test_framework.settings import Settings, load_settings, writable_report_dir
from test_framework.settings_table import SETTINGS

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

    from tox.config.main import Config
    from tox.config.sets import ConfigSet, EnvConfigSet
    from tox.session.state import State
    from tox.tox_env.api import ToxEnv
    from tox.tox_env.installer import InstallArguments

LABEL = "mission_critical"
GATE = "mc-gate"
STAGING = "mc-staging"
JUDGED: dict[str, Mode] = {f"mc-{mode.value}": mode for mode in ALL_MODES}
MODE_ENVS: dict[str, Mode] = {**JUDGED, STAGING: Mode.STAGING_FALLBACK}
# What the probes, the pytest plugin and the gate read (every setting of the table, and the
# Docker CLI's and XDG's variables the docker mode follows); tox passes nothing it is not told to.
_PREFIXES = ("MC_", "STAGING_", "DOCKER_")
PASS_ENV = (
    *(f"{prefix}*" for prefix in _PREFIXES),
    *(s.env for s in SETTINGS if s.env and not s.env.startswith(_PREFIXES)),
    "XDG_RUNTIME_DIR",
    "XDG_CACHE_HOME",
)

_LOG = logging.getLogger(__name__)


class _Run:
    """What this tox process decided so far; tox runs environments in threads under ``-p``."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.decided: set[str] = set()
        # The settings each mode environment's probe used, which its commands then follow.
        self.settings: dict[str, Settings] = {}
        # The mode folders whose ledgers this run wrote: the gate judges these and nothing older.
        self.judged: list[str] = []
        self.pos_args: tuple[str, ...] = ()
        # This tox run's id, in every ledger its environments write (MC_INVOCATION_ID, which
        # pass_env hands to pytest): the gate refuses any other as stale.
        self.invocation = new_invocation("tox")


_RUN = _Run()


def _settings(root: Path, environ: Mapping[str, str]) -> Settings:
    try:
        settings = load_settings(root, environ)
        # As the nox sessions do: a report folder that cannot be written fails in one line,
        # before the probe writes a ledger there.
        writable_report_dir(settings)
        return settings
    except HarnessError as exc:
        raise Fail(str(exc)) from None


def _harness_extra(extra: str) -> list[str]:
    """The requirements the harness's ``extra`` adds, as deps lines."""
    return extra_requirements(metadata.requires(DISTRIBUTION) or (), extra)


def _mode_commands(settings: Settings, mode: Mode, pos_args: Iterable[str]) -> list[Command]:
    args = pytest_argv(["pytest"], settings, mode, settings.suite)
    return [Command([*args, *pos_args])]


def _gate_commands(settings: Settings, judged: list[str]) -> list[Command]:
    ordered = [mode.value for mode in ALL_MODES if mode.value in judged]
    words = gate_argv(settings.report_dir, ordered, _RUN.invocation)
    # The gate is standard library only and runs on the interpreter that runs tox, which has
    # the harness (it loaded this plugin): the gate environment installs nothing.
    return [Command([sys.executable, "-m", "test_framework", "gate", *words])]


class _Seed(MemoryLoader):
    """The settings the plugin owns. ``commands`` are built when tox first reads them: when the
    environment runs, that is after the probe (from the settings the probe used; the gate's,
    from the modes this run judged), so a bad setting fails the environment that needs it and
    not every tox command."""

    def __init__(self, commands: Callable[[Settings], list[Command]], **kwargs: Any):
        super().__init__(**kwargs)
        self._commands = commands

    def found_keys(self) -> set[str]:
        return {*super().found_keys(), "commands"}

    def load_raw(self, key: str, conf: Config | None, env_name: str | None) -> object:
        if key != "commands":
            return super().load_raw(key, conf, env_name)
        if conf is None:
            raise KeyError(key)
        with _RUN.lock:
            settings = _RUN.settings.get(env_name or "")
        if settings is None:  # not probed in this process: `tox config`, or the gate
            try:
                settings = load_settings(conf.core["tox_root"])
            except HarnessError as exc:
                raise HandledError(str(exc)) from None
        return self._commands(settings)


def _mode_seed(mode: Mode, *, judged: bool) -> _Seed:
    def commands(settings: Settings) -> list[Command]:
        return _mode_commands(settings, mode, _RUN.pos_args)

    where = "judged by mc-gate" if judged else "not judged: pytest's verdict stands"
    return _Seed(
        commands,
        description=f"the mission-critical suite in {mode} mode; skipped with the probe's"
        f" reason where it cannot run ({where})",
        labels=[LABEL] if judged else [],
        # The probe comes first; then the plugin installs what install names (tox_on_install).
        skip_install=True,
    )


def _gate_seed() -> _Seed:
    def commands(settings: Settings) -> list[Command]:
        with _RUN.lock:
            judged = list(_RUN.judged)
        return _gate_commands(settings, judged)

    return _Seed(
        commands,
        description="judge the ledgers this tox run wrote: fails when a test failed or ran nowhere",
        labels=[LABEL],
        depends=EnvList(list(JUDGED)),
        skip_install=True,
        allowlist_externals=[sys.executable],
        # Under -p tox shows a passing environment's output only when asked: the gate's table
        # is the run's summary, with every skipped mode's reason.
        parallel_show_output=True,
    )


def _extend_pass_env(conf: ConfigSet) -> None:
    """Add the harness's variables to what the project passes, as tox adds its own defaults:
    the project's ``pass_env`` keeps working around the plugin's."""
    found = [d for d in conf.get_configs() if "pass_env" in d.keys]
    if not found or not isinstance(found[0], ConfigDynamicDefinition):
        raise HandledError(f"tox has no pass_env setting for {conf.env_name}: upgrade tox")
    definition = found[0]
    original: Callable[[list[str]], list[str]] | None = definition.post_process

    def post_process(values: list[str]) -> list[str]:
        values = [*values, *PASS_ENV]
        return values if original is None else original(values)

    definition.post_process = post_process


@impl
def tox_extend_envs() -> tuple[str, ...]:
    return (*MODE_ENVS, GATE)


@impl
def tox_add_core_config(core_conf: ConfigSet, state: State) -> None:
    _RUN.pos_args = tuple(state.conf.pos_args(None) or ())
    os.environ[INVOCATION_ENV] = _RUN.invocation
    for name, mode in MODE_ENVS.items():
        state.conf.memory_seed_loaders[name].append(_mode_seed(mode, judged=name in JUDGED))
    state.conf.memory_seed_loaders[GATE].append(_gate_seed())


@impl
def tox_add_env_config(env_conf: EnvConfigSet, state: State) -> None:
    if env_conf.env_name in MODE_ENVS or env_conf.env_name == GATE:
        _extend_pass_env(env_conf)


def _decide(tox_env: ToxEnv, mode: Mode) -> None:
    """Probe once per environment and run: skip or fail it, or keep the settings it runs with."""
    name = tox_env.name
    with _RUN.lock:
        if name in _RUN.decided:
            return
        _RUN.decided.add(name)
    # The variables the suite will see: tox's pass_env and the project's set_env applied.
    settings = _settings(tox_env.core["tox_root"], tox_env.environment_variables)
    try:
        shard = shard_from_args(_RUN.pos_args)
    except HarnessError as exc:
        raise Fail(str(exc)) from None
    if name in JUDGED:
        with _RUN.lock:
            _RUN.judged.append(mode.value)
    # mc-staging exists only to run staging: absent there fails, as nox -s staging does.
    asked_by = f"tox -e {STAGING}" if name == STAGING else ""
    decision = prepare_mode(settings, mode, shard, _RUN.invocation, "tox", asked_by=asked_by)
    _LOG.warning("%s", decision.probe_line)
    if decision.action is Action.FAIL:
        raise Fail(decision.message)
    if decision.action is Action.SKIP:
        raise Skip(decision.message)
    with _RUN.lock:
        _RUN.settings[name] = settings


@impl
def tox_on_install(
    tox_env: ToxEnv, arguments: InstallArguments, section: str, of_type: str
) -> None:
    # The first install of a mode environment (its deps, even when empty) comes before any
    # package reaches it: the probe decides there.
    mode = MODE_ENVS.get(tox_env.name)
    if mode is None:
        return
    _decide(tox_env, mode)
    with _RUN.lock:
        settings = _RUN.settings[tox_env.name]
    lines = list(settings.install)
    extra = MODE_SPECS[mode].extra
    if extra is not None:
        lines += _harness_extra(extra.name)
    # What install names goes in before whatever tox installs, through the environment's own
    # installer (pip, or uv under tox-uv), which installs only what changed, as for deps; so
    # also into an environment tox recreates part way.
    tox_env.installer.install(PythonDeps(lines, settings.root), "mission_critical", "requirements")
    _reinstall_copies(tox_env, settings)


def _reinstall_copies(tox_env: ToxEnv, settings: Settings) -> None:
    """Reinstall the working tree's folders that ``install`` installs as copies, without their
    dependencies, on every run: tox installs requirement lines only when they change, and pip
    and uv both keep an installed folder as it was (docs/adopting.md, "Reused environments")."""
    words = [word for line in settings.install for word in shlex.split(line)]
    folders = copied_folders(words, settings.root)
    if not folders:
        return
    installer = tox_env.installer
    if not isinstance(installer, Pip):
        raise Fail(
            f"{tox_env.name}: cannot reinstall {', '.join(f.word for f in folders)} with the"
            f" installer {type(installer).__name__}: install it editable (-e) in install"
        )
    # tox-uv's installer is pip's with uv's command: its words say which options apply.
    uv = "uv" in {Path(word).name for word in installer.build_install_cmd([])[:2]}
    command = installer.build_install_cmd(reinstall_arguments(folders, uv=uv))
    _LOG.warning(
        "reinstalling %s from the working tree (installed as a copy, which a reused"
        " environment keeps), without dependencies",
        ", ".join(f.word for f in folders),
    )
    outcome = tox_env.execute(command, stdin=StdinSource.OFF, run_id="mission_critical-reinstall")
    outcome.assert_success()


@impl
def tox_before_run_commands(tox_env: ToxEnv) -> None:
    # Where nothing was installed (--skip-env-install) the probe still decides before the suite.
    mode = MODE_ENVS.get(tox_env.name)
    if mode is not None:
        _decide(tox_env, mode)

"""The pytest plugin: options, markers, the mode decision, the deployment fixtures, the ledger.

The controller process (or the only process, without pytest-xdist) probes and selects the mode
once and hands the decision to every worker, so all workers of a run agree on the mode, the run
id and the deployment's test credentials. Workers start the deployment lazily, the first time a
test asks for ``mc_endpoints``; the controller writes the ledger from the reports it receives.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import shutil
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import pytest

from test_framework.backends.base import Backend, ControllableBackend, LoggingBackend, RunContext
from test_framework.backends.factory import make_backend
from test_framework.backends.staging import staging_credentials
from test_framework.client.credentials import DEFAULT_USER_PREFIX, Credentials
from test_framework.client.redaction import register_secret, register_secret_settings
from test_framework.endpoints import Endpoints
from test_framework.errors import (
    BackendUnavailableError,
    ConnectionLostError,
    HarnessError,
    ModeBrokenError,
)
from test_framework.interrupts import how_interrupted, sigterm_as_interrupt
from test_framework.modes import ALL_MODES, Mode
from test_framework.profiles import Profile
from test_framework.pytest_plugin.recorder import LedgerRecorder
from test_framework.pytest_plugin.report_redaction import redact_report
from test_framework.results.code import code_root
from test_framework.results.code import record as code_record
from test_framework.results.ledger import (
    Deselected,
    Ledger,
    RunStatus,
    Selection,
    broken_ledger,
    collected_digest,
    invocation_from_environment,
    ledger_path,
    skipped_ledger,
    write_ledger,
)
from test_framework.settings import Settings, load_settings, writable_report_dir
from test_framework.settings_table import MODE, PROFILE, PROFILE_OPTION, SETTINGS, Setting

MARKERS = {
    "mission_critical": "a test of the service's protocol that must run in at least one mode",
    "deployment_control": "needs control of the deployment (e.g. terminate and restart it);"
    " skipped, with the reason, in modes that give no such control",
}
NOT_ACTIVE = (
    f"no execution mode chosen: run pytest with {MODE.option} auto (or minimal, docker_local,"
    f" staging_fallback), or set {MODE.env}; `nox -s mission_critical` does this for you"
)
# The session fixtures that need the run's mode (each calls ``_active``); every other
# harness fixture builds on them, so a test's fixture closure names one of these.
MODE_FIXTURES = frozenset(
    {
        "mc_settings",
        "mc_mode",
        "mc_profile",
        "mc_run",
        "mc_credentials",
        "mc_transcript_dir",
        "mc_endpoints",
        "mc_control",
    }
)
WORKER_PIDS = "worker-pids"
# The failures the profile's retry policy may rerun ("the connection failed")...
RERUN_ON: tuple[type[BaseException], ...] = (ConnectionLostError,)
# ...except these (the fast failure of a deployment already known to be down).
NO_RERUN_ON: tuple[type[BaseException], ...] = (BackendUnavailableError,)


@dataclass
class HarnessState:
    """The decision a run works under, and the deployment of this process."""

    settings: Settings
    mode: Mode
    reason: str
    run: RunContext
    probes: list[dict[str, Any]]
    shard: tuple[int, int] = (1, 1)
    backend: Backend | None = None
    endpoints: Endpoints | None = None
    recorder: LedgerRecorder | None = None
    control_count: int = 0
    started_at: float = field(default_factory=time.time)
    # The tests this process's selection options (-k, -m, --deselect, a plugin) deselected.
    deselected: list[Deselected] = field(default_factory=list)

    @property
    def profile(self) -> Profile:
        return self.settings.profile(self.mode)

    @property
    def mode_dir(self) -> Path:
        return self.settings.report_dir / self.mode.value

    def to_workerinput(self) -> str:
        run = asdict(self.run)
        run["shared_dir"] = str(self.run.shared_dir)
        return json.dumps(
            {"mode": self.mode.value, "reason": self.reason, "run": run, "probes": self.probes}
        )


STATE = pytest.StashKey[HarnessState]()
# Set in the controller when a pytest-xdist worker found tests that need a mode and none chosen.
NO_MODE = pytest.StashKey[bool]()
NO_MODE_OUTPUT = "mc_no_mode"
# The settings of the table that are pytest options (--mc-profile is several, below).
OPTIONS = tuple(s for s in SETTINGS if s.option and not s.profile and not s.read_by)


def _dest(setting: Setting) -> str:
    return f"mc_{setting.name}"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("mission-critical", "mission-critical harness (test_framework)")
    for setting in OPTIONS:
        group.addoption(
            setting.option,
            dest=_dest(setting),
            metavar=setting.metavar,
            help=setting.option_help(),
        )
    group.addoption(
        PROFILE_OPTION,
        dest="mc_profile",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a profile setting for every mode, e.g. connect_timeout_s=5 (repeatable;"
        f" {', '.join(s.name for s in PROFILE)})",
    )
    group.addoption(
        "--shard",
        dest="mc_shard",
        metavar="I/N",
        help="run only shard I of N of the collected tests (deterministic split)",
    )
    group.addoption(
        "--shard-durations",
        dest="mc_shard_durations",
        metavar="FILE",
        help="a ledger or JSON {nodeid: seconds} used to balance --shard by recorded durations",
    )


def pytest_configure(config: pytest.Config) -> None:
    for name, text in MARKERS.items():
        config.addinivalue_line("markers", f"{name}: {text}")
    config.pluginmanager.import_plugin("test_framework.pytest_plugin.fixtures")
    workerinput = getattr(config, "workerinput", None)
    if workerinput is not None:
        if "mc_state" in workerinput:
            state = _state_from_workerinput(config, workerinput)
            _adopt(config, state)
            # Where the controller finds this worker to pass a SIGTERM on to it as Ctrl-C.
            folder = state.run.shared_dir / WORKER_PIDS
            folder.mkdir(parents=True, exist_ok=True)
            (folder / state.run.worker_id).write_text(str(os.getpid()), "utf-8")
        return
    if not (config.getoption(_dest(MODE)) or os.environ.get(MODE.env)):
        return
    # SIGTERM to this process alone (a CI runner cancelling the job) ends the run as Ctrl-C
    # does: the workers get SIGINT, and the session's end removes the deployment.
    sigterm_as_interrupt(lambda: _worker_pids(config))
    try:
        state = _decide(config)
    except HarnessError as exc:
        _write_unavailable_ledger(config, exc)
        raise pytest.UsageError(str(exc)) from None
    except KeyboardInterrupt as exc:
        _write_interrupted_ledger(config, how_interrupted(exc))
        raise
    _adopt(config, state)
    # Imported here: only the process that writes the ledger needs it.
    from test_framework.results.leftovers import clear_for_new_run

    clear_for_new_run(
        state.settings.report_dir,
        state.mode.value,
        f"pytest run {state.run.run_id}",
        state.started_at,
        keep_transcripts=state.shard[1] > 1,
    )
    state.recorder = LedgerRecorder(
        path=ledger_path(state.settings.report_dir, state.mode.value, *state.shard),
        base=Ledger(
            run_id=state.run.run_id,
            mode=state.mode.value,
            status=RunStatus.RAN,
            reason=state.reason,
            started_at=state.started_at,
            shard_index=state.shard[0],
            shard_count=state.shard[1],
            probes=tuple(state.probes),
            invocation=invocation_from_environment(),
            # Only minimal serves the installed copy of the project; the other modes test an
            # image built from the tree, or a deployment.
            code=code_record(
                code_root(state.settings.root, dict(os.environ)),
                check_install=state.mode is Mode.MINIMAL,
            ),
        ),
    )
    state.recorder.flush()
    # The recorder's report hooks run in this process only: it alone writes the ledger.
    config.pluginmanager.register(state.recorder, "mc-ledger-recorder")


def _worker_pids(config: pytest.Config) -> list[int]:
    """The pytest-xdist workers of this run, as they recorded themselves."""
    state = config.stash.get(STATE, None)
    if state is None:
        return []
    folder = state.run.shared_dir / WORKER_PIDS
    return [int(path.read_text("utf-8")) for path in folder.glob("gw*")]


def _adopt(config: pytest.Config, state: HarnessState) -> None:
    """Make ``state`` this process's decision."""
    config.stash[STATE] = state
    _export_environment(state)
    _configure_reruns(config, state.profile)
    register_secret(state.run.test_password)
    register_secret(state.run.jwt_secret)
    register_secret(state.run.test_token)
    register_secret_settings(state.settings.given)


def _options(config: pytest.Config) -> dict[str, str]:
    options: dict[str, str] = {}
    for setting in OPTIONS:
        value = config.getoption(_dest(setting))
        if value is not None:
            options[setting.name] = str(value)
    for item in config.getoption("mc_profile"):
        key, sep, value = str(item).partition("=")
        if not sep:
            raise HarnessError(
                f"{PROFILE_OPTION} {item!r} is not KEY=VALUE: e.g. connect_timeout_s=5"
            )
        options[f"profile.{key.strip()}"] = value.strip()
    return options


def _decide(config: pytest.Config) -> HarnessState:
    # Imported here: the probes are only needed by the process that decides.
    from test_framework.probes.runner import probe_modes
    from test_framework.probes.selection import select_mode

    settings = load_settings(config.rootpath, os.environ, _options(config))
    writable_report_dir(settings)
    shard = (1, 1)
    if config.getoption("mc_shard"):
        from test_framework.sharding import parse_shard

        shard = parse_shard(str(config.getoption("mc_shard")))
    wanted = [settings.mode] if settings.mode is not None else list(ALL_MODES)
    # In the session's environment, where the service is installed: a factory that cannot be
    # found here is broken, not merely out of the probing process's reach.
    probes = probe_modes(settings, wanted, in_session=True)
    selection = select_mode(settings.mode, probes)
    run_id = time.strftime("%Y%m%d%H%M%S") + "-" + secrets.token_hex(3)
    shared_dir = settings.report_dir / selection.mode.value / f".run-{run_id}"
    shared_dir.mkdir(parents=True, exist_ok=True)
    workers = int(getattr(config.option, "numprocesses", 0) or 0)
    run = RunContext(
        run_id=run_id,
        owner_pid=os.getpid(),
        shared_dir=shared_dir,
        test_password=secrets.token_urlsafe(18),
        jwt_secret=secrets.token_urlsafe(32),
        test_token=secrets.token_urlsafe(24),
        worker_count=max(workers, 1),
    )
    return HarnessState(
        settings=settings,
        mode=selection.mode,
        reason=selection.reason,
        run=run,
        probes=[result.to_json() for result in probes.values()],
        shard=shard,
    )


def _state_from_workerinput(config: pytest.Config, workerinput: dict[str, Any]) -> HarnessState:
    data = json.loads(workerinput["mc_state"])
    settings = load_settings(config.rootpath, os.environ, _options(config))
    run_data = dict(data["run"])
    run_data["shared_dir"] = Path(run_data["shared_dir"])
    run_data["worker_id"] = str(workerinput.get("workerid", "gw0"))
    return HarnessState(
        settings=settings,
        mode=Mode(data["mode"]),
        reason=data["reason"],
        run=RunContext(**run_data),
        probes=data["probes"],
    )


def _write_unavailable_ledger(config: pytest.Config, error: HarnessError) -> None:
    """A run that cannot start still leaves a ledger, so the gate can say why: an error for
    each broken mode (under ``auto`` too), a skip for a mode that is merely absent."""
    if isinstance(error, ModeBrokenError):
        broken = tuple(Mode(name) for name in error.modes)
        _write_early_ledger(config, lambda mode: broken_ledger(mode, str(error)), broken)
    else:
        _write_early_ledger(config, lambda mode: skipped_ledger(mode, str(error)))


def _write_interrupted_ledger(config: pytest.Config, how: str) -> None:
    """Interrupted while probing: the ledger says the run began and never ended. Under ``auto``
    no mode was chosen yet, so every mode it probes gets one: the gate fails on each, and no
    earlier run's ledger in those folders passes for this run's."""
    _write_early_ledger(
        config,
        lambda mode: Ledger(
            run_id="not-started",
            mode=mode,
            status=RunStatus.RAN,
            reason=f"interrupted ({how}) while probing the modes",
            started_at=time.time(),
            exit_status=int(pytest.ExitCode.INTERRUPTED),
        ),
        under_auto=ALL_MODES,
    )


def _write_early_ledger(
    config: pytest.Config, make: Callable[[str], Ledger], under_auto: tuple[Mode, ...] = ()
) -> None:
    """A ledger for a run that ended before the mode was decided: for the mode it asked for,
    or under ``auto`` (none chosen yet) for the modes ``under_auto``. Nothing when the settings
    themselves are wrong, the report folder included: their error is the whole story."""
    try:
        settings = load_settings(config.rootpath, os.environ, _options(config))
        writable_report_dir(settings)
    except HarnessError:
        return
    for mode in [settings.mode] if settings.mode is not None else under_auto:
        ledger = replace(make(mode.value), invocation=invocation_from_environment())
        write_ledger(ledger, ledger_path(settings.report_dir, mode.value))


def _export_environment(state: HarnessState) -> None:
    """The variables tests written against the old fixtures read."""
    os.environ[MODE.env] = state.mode.value
    os.environ["REAL_SERVICES"] = "false" if state.mode is Mode.MINIMAL else "true"
    os.environ["USE_STAGING_SERVICES"] = "true" if state.mode is Mode.STAGING_FALLBACK else "false"


def _configure_reruns(config: pytest.Config, profile: Profile) -> None:
    """Rerun tests that lost their connection, as the profile's retry policy allows.

    Uses pytest-rerunfailures; a user's own --reruns settings win.
    """
    if not config.pluginmanager.hasplugin("rerunfailures"):
        return
    option = config.option
    if getattr(option, "reruns", None) is None:
        option.reruns = max(profile.retry.attempts - 1, 0)
        option.reruns_delay = profile.retry.delay_s
        option.reruns_delay_backoff_factor = profile.retry.backoff
        if not getattr(option, "only_rerun", None):
            option.only_rerun = [_names_pattern(RERUN_ON, but_not=NO_RERUN_ON)]
        if not getattr(option, "rerun_except", None):
            option.rerun_except = [_names_pattern(NO_RERUN_ON)]


def _names_pattern(
    classes: tuple[type[BaseException], ...], but_not: tuple[type[BaseException], ...] = ()
) -> str:
    """A regex matching a failure of one of ``classes`` or their subclasses (but not of
    ``but_not``'s). pytest-rerunfailures matches its filters against a failure's text, ``Name:
    message`` (older versions ``module.Name: message``), not its type: the class names are what
    tells the types apart there."""
    names: set[str] = set()
    pending = list(classes)
    while pending:
        cls = pending.pop()
        if not issubclass(cls, but_not):
            names.add(cls.__name__)
        pending.extend(cls.__subclasses__())
    return r"\b(?:" + "|".join(sorted(map(re.escape, names))) + "): "


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    state = node.config.stash.get(STATE, None)
    if state is not None:
        node.workerinput["mc_state"] = state.to_workerinput()


def pytest_report_header(config: pytest.Config) -> list[str]:
    state = config.stash.get(STATE, None)
    if state is None:
        return []
    lines = [f"mission-critical mode: {state.mode} ({state.reason})"]
    for probe in state.probes:
        verdict = "available" if probe["available"] else "unavailable"
        lines.append(
            f"  probe {probe['mode']:<17} {verdict:<11} {probe['elapsed_ms']:>8.1f} ms"
            f"  {probe['reason']}"
        )
    return lines


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(
    session: pytest.Session, config: pytest.Config, items: list[pytest.Item]
) -> None:
    for item in items:
        item.user_properties.append(("mc_markers", sorted({m.name for m in item.iter_markers()})))
    state = config.stash.get(STATE, None)
    if state is None:
        refuse_without_mode(config, items)
        return
    if state.mode is Mode.STAGING_FALLBACK:
        reason = (
            "staging_fallback gives no control of the deployment: this test runs in minimal"
            " or docker_local"
        )
        for item in items:
            if item.get_closest_marker("deployment_control"):
                item.add_marker(pytest.mark.skip(reason=reason))
    # The whole set before the shard split: every shard records it, so the gate can tell
    # whether the shards of a mode agree on what the suite is.
    nodeids = [item.nodeid for item in items]
    collected = {"count": len(set(nodeids)), "sha256": collected_digest(nodeids)}
    # The selection before the shard split, whose deselection is not one: shards of a mode
    # together are the whole suite.
    collected["selection"] = _selection(config, state).to_json()
    (state.run.shared_dir / "collected.json").write_text(json.dumps(collected), "utf-8")
    shard_option = config.getoption("mc_shard")
    if shard_option:
        _select_shard(config, items, str(shard_option))


def refuse_without_mode(config: pytest.Config, items: list[pytest.Item]) -> None:
    """A run with no mode chosen that collected tests needing one (a harness fixture, or the
    mission_critical marker) is one usage error before any test, never a mode picked for it
    and never the same setup error once per test."""
    needing = [
        item
        for item in items
        if item.get_closest_marker("mission_critical")
        or MODE_FIXTURES.intersection(getattr(item, "fixturenames", ()))
    ]
    if not needing:
        return
    workeroutput = getattr(config, "workeroutput", None)
    if workeroutput is None:
        raise pytest.UsageError(NOT_ACTIVE)
    # A pytest-xdist worker cannot end the run with a usage error (the controller reports an
    # internal error): it runs nothing and tells the controller, which does.
    workeroutput[NO_MODE_OUTPUT] = True
    config.hook.pytest_deselected(items=list(items))
    items[:] = []


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: object) -> None:
    if getattr(node, "workeroutput", {}).get(NO_MODE_OUTPUT):
        node.config.stash[NO_MODE] = True


def pytest_deselected(items: list[pytest.Item]) -> None:
    if not items:
        return
    state = items[0].config.stash.get(STATE, None)
    if state is not None:
        state.deselected.extend(
            Deselected(item.nodeid, tuple(sorted({m.name for m in item.iter_markers()})))
            for item in items
        )


def _selection(config: pytest.Config, state: HarnessState) -> Selection:
    """What the run was asked to run, in node-id terms: the gate judges the baseline against
    it and names a subset run (docs/ledger.md)."""
    root, here = config.rootpath, config.invocation_params.dir
    suite = state.settings.suite.partition("::")[0]

    def node(arg: str, base: Path = here) -> str:
        path, sep, rest = str(arg).partition("::")
        relative = Path(os.path.relpath(base / path, root)).as_posix()
        return ("" if relative == "." else relative) + sep + rest

    return Selection(
        paths=tuple(node(arg) for arg in config.args),
        # A suite setting that names nothing here cannot say what the whole is.
        suite=node(suite, state.settings.root) if (state.settings.root / suite).exists() else "",
        keyword=str(config.option.keyword or ""),
        markexpr=str(config.option.markexpr or ""),
        deselect=tuple(node(d) for d in config.getoption("deselect", None) or ()),
        ignore=tuple(node(i) for i in config.getoption("ignore", None) or ()),
        ignore_glob=tuple(str(g) for g in config.getoption("ignore_glob", None) or ()),
        last_failed=bool(getattr(config.option, "lf", False)),
        deselected=tuple(state.deselected),
        allowed=state.settings.allow_subset,
    )


def _select_shard(config: pytest.Config, items: list[pytest.Item], shard_option: str) -> None:
    from test_framework.sharding import load_durations, parse_shard, select_shard

    index, count = parse_shard(shard_option)
    durations_file = config.getoption("mc_shard_durations")
    durations = load_durations(Path(durations_file)) if durations_file else None
    keep = set(select_shard([item.nodeid for item in items], index, count, durations))
    selected = [item for item in items if item.nodeid in keep]
    deselected = [item for item in items if item.nodeid not in keep]
    if deselected:
        config.hook.pytest_deselected(items=deselected)
    items[:] = selected


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    state = session.config.stash.get(STATE, None)
    if state is None:
        if session.config.stash.get(NO_MODE, False):
            # What pytest prints for a usage error, once, however many workers found it.
            print(f"ERROR: {NOT_ACTIVE}", file=sys.stderr)
            session.exitstatus = pytest.ExitCode.USAGE_ERROR
        return
    if state.backend is None and hasattr(session.config, "workerinput"):
        # Every worker checks out of the deployment, even one that never used it, so that one
        # the workers share goes when the last of them is out.
        state.backend = make_backend(state.mode, state.settings, state.run)
    if state.backend is not None:
        state.backend.stop()
    if state.recorder is not None:
        _close_run(state, int(exitstatus), complete=exitstatus != pytest.ExitCode.INTERRUPTED)


def _close_run(state: HarnessState, exit_status: int, *, complete: bool) -> None:
    """The controller's last word on a run: the final ledger, then nothing of it left behind."""
    assert state.recorder is not None
    collected_file = state.run.shared_dir / "collected.json"
    collected = json.loads(collected_file.read_text("utf-8")) if collected_file.is_file() else {}
    state.recorder.finish(
        exit_status=exit_status,
        complete=complete,
        deployment=_read_deployment(state),
        collected_count=collected.get("count"),
        collected_sha256=collected.get("sha256"),
        selection=Selection.from_json(collected["selection"]) if "selection" in collected else None,
    )
    (state.backend or make_backend(state.mode, state.settings, state.run)).end_run()
    shutil.rmtree(state.run.shared_dir, ignore_errors=True)


@pytest.hookimpl(wrapper=True, tryfirst=True, specname="pytest_sessionfinish")
def pytest_sessionfinish_interrupted(session: pytest.Session, exitstatus: int) -> Iterator[None]:
    """Ctrl-C while the session ends (in any plugin's ``pytest_sessionfinish``, this one's
    too, e.g. a coverage report being written) skips the rest of them: the deployment still
    goes, the ledger is still written (incomplete), and pytest exits 2, not with a traceback."""
    try:
        return (yield)
    except KeyboardInterrupt:
        state = session.config.stash.get(STATE, None)
        if state is None or state.recorder is None:
            raise
        session.exitstatus = pytest.ExitCode.INTERRUPTED
        _close_run(state, int(pytest.ExitCode.INTERRUPTED), complete=False)
        print(f"\ninterrupted while the session ended; ledger (incomplete): {state.recorder.path}")
        return None


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """A local service that exited on its own fails each remaining test that needs the
    deployment at once, saying when and how, instead of letting it wait out its timeouts."""
    state = item.config.stash.get(STATE, None)
    exit_message = getattr(state.backend, "exit_message", None) if state is not None else None
    if exit_message is None or "mc_endpoints" not in getattr(item, "fixturenames", ()):
        return
    message = exit_message()
    if message is not None:
        pytest.fail(message, pytrace=False)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """A test's report is redacted; a failed one's carries the service's recent logs, where the
    backend has them."""
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    state = item.config.stash.get(STATE, None)
    if state is not None:
        redact_report(report)
    backend = state.backend if state is not None else None
    # A fast failure on a known outage adds nothing to the logs the first failure carried, and
    # each fetch costs a Compose call while the rest of the suite is failing fast.
    if call.excinfo is not None and isinstance(call.excinfo.value, NO_RERUN_ON):
        return
    if report.failed and isinstance(backend, LoggingBackend):
        from test_framework.client.redaction import redact_text

        report.sections.append(("service logs", redact_text(backend.service_logs(tail=100))))


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    state = config.stash.get(STATE, None)
    if state is None or state.recorder is None:
        return
    recorder = state.recorder
    terminalreporter.section("mission-critical ledger")
    terminalreporter.write_line(f"mode {state.mode}: {state.reason}")
    terminalreporter.write_line(f"ledger: {recorder.path}")
    for record in recorder.retried():
        terminalreporter.write_line(
            f"retried ({record.attempts} attempts, {record.connection_retries} connection"
            f" retries): {record.nodeid}"
        )


def _read_deployment(state: HarnessState) -> dict[str, Any]:
    """What the workers recorded of the deployment they used (URLs carry no secrets)."""
    deployment: dict[str, Any] = {}
    if state.endpoints is not None:
        deployment = state.endpoints.to_json()
    for path in sorted(state.run.shared_dir.glob("endpoints-*.json")):
        deployment = json.loads(path.read_text("utf-8"))
    return deployment


# Fixtures -----------------------------------------------------------------------------------


def _active(request: pytest.FixtureRequest) -> HarnessState:
    state = request.config.stash.get(STATE, None)
    if state is None:
        pytest.fail(NOT_ACTIVE, pytrace=False)
    return state


@pytest.fixture(scope="session")
def mc_settings(request: pytest.FixtureRequest) -> Settings:
    return _active(request).settings


@pytest.fixture(scope="session")
def mc_mode(request: pytest.FixtureRequest) -> Mode:
    return _active(request).mode


@pytest.fixture(scope="session")
def mc_profile(request: pytest.FixtureRequest) -> Profile:
    return _active(request).profile


@pytest.fixture(scope="session")
def mc_run(request: pytest.FixtureRequest) -> RunContext:
    return _active(request).run


@pytest.fixture(scope="session")
def mc_credentials(request: pytest.FixtureRequest) -> Credentials:
    state = _active(request)
    if state.mode is Mode.STAGING_FALLBACK:
        return staging_credentials(state.settings)
    return Credentials(
        user_prefix=DEFAULT_USER_PREFIX,
        password=state.run.test_password,
        token=state.run.test_token,
    )


@pytest.fixture(scope="session")
def mc_transcript_dir(request: pytest.FixtureRequest) -> Path:
    path = _active(request).mode_dir / "transcripts"
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(scope="session")
def mc_endpoints(request: pytest.FixtureRequest) -> Endpoints:
    """The shared deployment of this run, started on first use and stopped at session end."""
    state = _active(request)
    if state.endpoints is None:
        if state.backend is None:
            state.backend = make_backend(state.mode, state.settings, state.run)
        # Capture off while starting: a docker build and start-up show progress, not silence.
        capture = request.config.pluginmanager.getplugin("capturemanager")
        failure: str | None = None
        try:
            with capture.global_and_fixture_disabled() if capture else contextlib.nullcontext():
                state.endpoints = state.backend.start()
        except HarnessError as exc:
            failure = str(exc)
        if failure is not None or state.endpoints is None:
            # Outside the except block: otherwise pytest prints the message twice, chained.
            pytest.fail(failure or "the backend started without endpoints", pytrace=False)
        os.environ["TEST_WEBSOCKET_URL"] = state.endpoints.ws_url
        record = state.run.shared_dir / f"endpoints-{state.run.worker_id}.json"
        record.write_text(json.dumps(state.endpoints.to_json()), "utf-8")
    return state.endpoints


@dataclass
class DeploymentControl:
    """A private deployment a ``deployment_control`` test may terminate and restart."""

    backend: ControllableBackend
    endpoints: Endpoints

    def terminate(self) -> None:
        self.backend.terminate()

    def restart(self) -> Endpoints:
        self.endpoints = self.backend.restart()
        return self.endpoints


@pytest.fixture
def mc_control(request: pytest.FixtureRequest) -> Iterator[DeploymentControl]:
    state = _active(request)
    if state.mode is Mode.STAGING_FALLBACK:
        pytest.skip("staging_fallback gives no control of the deployment")
    state.control_count += 1
    private = replace(
        state.run,
        run_id=f"{state.run.run_id}c{state.run.worker_id}{state.control_count}".lower(),
        shared_dir=state.run.shared_dir / f"control-{state.run.worker_id}-{state.control_count}",
        worker_count=1,
    )
    private.shared_dir.mkdir(parents=True, exist_ok=True)
    backend = make_backend(state.mode, state.settings, private)
    if not isinstance(backend, ControllableBackend):
        pytest.skip(f"the {state.mode} backend offers no control of its deployment")
    try:
        endpoints = backend.start()
    except HarnessError as exc:
        backend.stop()
        pytest.fail(str(exc), pytrace=False)
    try:
        yield DeploymentControl(backend, endpoints)
    finally:
        backend.stop()

"""The pytest plugin's entry point (``pytest11``): it adds the options (``options.py``), registers
the markers and the fixtures, and at ``pytest_configure`` the plugin object the run works with.

The controller process (or the only process, without pytest-xdist) probes and selects the mode
once (``state.decide``) and hands the decision to every worker, so all workers of a run agree on
the mode, the run id and the deployment's test credentials. Each process then registers a
``HarnessSession`` (``session.py``) whose hooks work on that decision, or, when no mode was
chosen, a ``NoModeSession`` (``no_mode.py``).
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from test_framework.backends.base import ControllableBackend, Endpoints, RunContext
from test_framework.backends.factory import make_backend
from test_framework.backends.staging import staging_credentials
from test_framework.client.credentials import DEFAULT_USER_PREFIX, Credentials
from test_framework.client.redaction import register_secret, register_secret_settings
from test_framework.errors import HarnessError
from test_framework.interrupts import how_interrupted, sigterm_as_interrupt
from test_framework.modes import Mode
from test_framework.profiles import Profile
from test_framework.pytest_plugin.early_ledger import (
    write_interrupted_ledger,
    write_unavailable_ledger,
)
from test_framework.pytest_plugin.markers import register_markers
from test_framework.pytest_plugin.no_mode import NOT_ACTIVE, NoModeSession
from test_framework.pytest_plugin.options import add_options, dest
from test_framework.pytest_plugin.recorder import LedgerRecorder
from test_framework.pytest_plugin.reruns import configure_reruns
from test_framework.pytest_plugin.session import HarnessSession
from test_framework.pytest_plugin.state import STATE, HarnessState, decide
from test_framework.results.code import code_root
from test_framework.results.code import record as code_record
from test_framework.results.ledger import (
    Ledger,
    RunStatus,
    invocation_from_environment,
    ledger_path,
)
from test_framework.settings import Settings
from test_framework.settings_table import MODE

WORKER_PIDS = "worker-pids"


def pytest_addoption(parser: pytest.Parser) -> None:
    add_options(parser)


def pytest_configure(config: pytest.Config) -> None:
    register_markers(config)
    config.pluginmanager.import_plugin("test_framework.pytest_plugin.fixtures")
    workerinput = getattr(config, "workerinput", None)
    if workerinput is not None:
        if "mc_state" not in workerinput:
            config.pluginmanager.register(NoModeSession(), "mc-no-mode")
            return
        state = HarnessState.from_workerinput(config, workerinput)
        _adopt(config, state)
        # Where the controller finds this worker to pass a SIGTERM on to it as Ctrl-C.
        folder = state.run.shared_dir / WORKER_PIDS
        folder.mkdir(parents=True, exist_ok=True)
        (folder / state.run.worker_id).write_text(str(os.getpid()), "utf-8")
        return
    if not (config.getoption(dest(MODE)) or os.environ.get(MODE.env)):
        config.pluginmanager.register(NoModeSession(), "mc-no-mode")
        return
    # SIGTERM to this process alone (a CI runner cancelling the job) ends the run as Ctrl-C
    # does: the workers get SIGINT, and the session's end removes the deployment.
    sigterm_as_interrupt(lambda: _worker_pids(config))
    try:
        state = decide(config)
    except HarnessError as exc:
        write_unavailable_ledger(config, exc)
        raise pytest.UsageError(str(exc)) from None
    except KeyboardInterrupt as exc:
        write_interrupted_ledger(config, how_interrupted(exc))
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
    """Make ``state`` this process's decision, and register the plugin that works with it."""
    config.stash[STATE] = state
    _export_environment(state)
    configure_reruns(config, state.profile)
    register_secret(state.run.test_password)
    register_secret(state.run.jwt_secret)
    register_secret(state.run.test_token)
    register_secret_settings(state.settings.given)
    config.pluginmanager.register(HarnessSession(config, state), "mc-session")


def _export_environment(state: HarnessState) -> None:
    """The variables tests written against the old fixtures read."""
    os.environ[MODE.env] = state.mode.value
    os.environ["REAL_SERVICES"] = "false" if state.mode is Mode.MINIMAL else "true"
    os.environ["USE_STAGING_SERVICES"] = "true" if state.mode is Mode.STAGING_FALLBACK else "false"


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

"""The pytest plugin's entry point (``pytest11``): it adds the options (``options.py``), registers
the markers and the fixtures, and at ``pytest_configure`` the plugin object the run works with.

The controller process (or the only process, without pytest-xdist) probes and selects the mode
once (``state.decide``) and hands the decision to every worker, so all workers of a run agree on
the mode, the run id and the deployment's test credentials. Each process then registers a
``HarnessSession`` (``session.py``) whose hooks work on that decision, or, when no mode was
chosen, a ``NoModeSession`` (``no_mode.py``).
"""

from __future__ import annotations

import os

import pytest

from test_framework.client.redaction import register_secret, register_secret_settings
from test_framework.errors import HarnessError
from test_framework.interrupts import how_interrupted, sigterm_as_interrupt
from test_framework.modes import Mode
from test_framework.pytest_plugin.early_ledger import (
    write_interrupted_ledger,
    write_unavailable_ledger,
)
from test_framework.pytest_plugin.markers import register_markers
from test_framework.pytest_plugin.no_mode import NoModeSession
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
from test_framework.settings_table import MODE

WORKER_PIDS = "worker-pids"


def pytest_addoption(parser: pytest.Parser) -> None:
    add_options(parser)


def pytest_configure(config: pytest.Config) -> None:
    register_markers(config)
    session = _configure(config)
    if session is not None:
        session.begin_early()
    # After the early start: importing the fixtures (websockets, the clients) then overlaps a
    # local service's start-up.
    config.pluginmanager.import_plugin("test_framework.pytest_plugin.fixtures")


def _configure(config: pytest.Config) -> HarnessSession | None:
    """This process's decision, made (or, in a worker, received) and adopted: its plugin
    object, or None when no mode was asked for."""
    workerinput = getattr(config, "workerinput", None)
    if workerinput is not None:
        if "mc_state" not in workerinput:
            config.pluginmanager.register(NoModeSession(), "mc-no-mode")
            return None
        state = HarnessState.from_workerinput(config, workerinput)
        session = _adopt(config, state)
        # Where the controller finds this worker to pass a SIGTERM on to it as Ctrl-C.
        folder = state.run.shared_dir / WORKER_PIDS
        folder.mkdir(parents=True, exist_ok=True)
        (folder / state.run.worker_id).write_text(str(os.getpid()), "utf-8")
        return session
    if not (config.getoption(dest(MODE)) or os.environ.get(MODE.env)):
        config.pluginmanager.register(NoModeSession(), "mc-no-mode")
        return None
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
    session = _adopt(config, state)
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
    return session


def _worker_pids(config: pytest.Config) -> list[int]:
    """The pytest-xdist workers of this run, as they recorded themselves."""
    state = config.stash.get(STATE, None)
    if state is None:
        return []
    folder = state.run.shared_dir / WORKER_PIDS
    return [int(path.read_text("utf-8")) for path in folder.glob("gw*")]


def _adopt(config: pytest.Config, state: HarnessState) -> HarnessSession:
    """Make ``state`` this process's decision, and register the plugin that works with it."""
    config.stash[STATE] = state
    _export_environment(state)
    configure_reruns(config, state.profile)
    register_secret(state.run.test_password)
    register_secret(state.run.jwt_secret)
    register_secret(state.run.test_token)
    register_secret_settings(state.settings.given)
    session = HarnessSession(config, state)
    config.pluginmanager.register(session, "mc-session")
    return session


def _export_environment(state: HarnessState) -> None:
    """The variables tests written against the old fixtures read."""
    os.environ[MODE.env] = state.mode.value
    os.environ["REAL_SERVICES"] = "false" if state.mode is Mode.MINIMAL else "true"
    os.environ["USE_STAGING_SERVICES"] = "true" if state.mode is Mode.STAGING_FALLBACK else "false"

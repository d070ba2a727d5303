"""The plugin of a run with no mode chosen: tests that need one make it one usage error."""

from __future__ import annotations

import sys
from typing import Any

import pytest

from test_framework.pytest_plugin.markers import record_markers
from test_framework.settings_table import MODE

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
NO_MODE_OUTPUT = "mc_no_mode"


class NoModeSession:
    """Registered instead of ``HarnessSession`` when the run has no mode."""

    def __init__(self) -> None:
        # In the controller: a pytest-xdist worker found tests that need a mode.
        self.refused = False

    @pytest.hookimpl(trylast=True)
    def pytest_collection_modifyitems(
        self, session: pytest.Session, config: pytest.Config, items: list[pytest.Item]
    ) -> None:
        record_markers(items)
        refuse_without_mode(config, items)

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node: Any, error: object) -> None:
        if getattr(node, "workeroutput", {}).get(NO_MODE_OUTPUT):
            self.refused = True

    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        if self.refused:
            # What pytest prints for a usage error, once, however many workers found it.
            print(f"ERROR: {NOT_ACTIVE}", file=sys.stderr)
            session.exitstatus = pytest.ExitCode.USAGE_ERROR


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

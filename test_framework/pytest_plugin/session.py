"""The plugin of a run with a mode: its hooks work on the run's ``HarnessState``.

Registered at ``pytest_configure`` in every process of the run (the controller and each
pytest-xdist worker), as pytest-xdist registers its ``DSession``. Workers start the deployment
when the first test asks for it (the ``mc_endpoints`` fixture); a local service is set starting
as soon as the decision is made, so that its start-up overlaps the collection. The controller
writes the ledger from the reports it receives, and removes what the run leaves behind.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from test_framework.backends.base import EarlyStartBackend, LoggingBackend
from test_framework.backends.factory import make_backend
from test_framework.mode_specs import MODE_SPECS
from test_framework.modes import ALL_MODES
from test_framework.pytest_plugin.markers import record_markers
from test_framework.pytest_plugin.report_redaction import redact_report
from test_framework.pytest_plugin.reruns import NO_RERUN_ON
from test_framework.pytest_plugin.state import HarnessState
from test_framework.results.ledger import Deselected, Selection, collected_digest

# pytest's options under which it runs no test: --collect-only, --help, --version, --markers,
# --fixtures, --fixtures-per-test, --setup-plan.
_NO_TESTS = (
    "collectonly",
    "help",
    "version",
    "markers",
    "showfixtures",
    "show_fixtures_per_test",
    "setupplan",
)


class HarnessSession:
    def __init__(self, config: pytest.Config, state: HarnessState) -> None:
        self.config = config
        self.state = state

    @pytest.hookimpl(optionalhook=True)
    def pytest_configure_node(self, node: Any) -> None:
        node.workerinput["mc_state"] = self.state.to_workerinput()

    def pytest_report_header(self, config: pytest.Config) -> list[str]:
        state = self.state
        lines = [f"mission-critical mode: {state.mode} ({state.reason})"]
        for probe in state.probes:
            verdict = "available" if probe["available"] else "unavailable"
            lines.append(
                f"  probe {probe['mode']:<17} {verdict:<11} {probe['elapsed_ms']:>8.1f} ms"
                f"  {probe['reason']}"
            )
        return lines

    def begin_early(self) -> None:
        """A local service is set starting once the run's decision is made (at the end of
        ``pytest_configure``), as Playwright's ``webServer`` starts before the tests: a Node
        service's 100-200 ms start-up then overlaps the fixtures' imports, pytest's header and
        the collection. Not in pytest-xdist's controller, nor when pytest runs no test."""
        config, state = self.config, self.state
        controller = getattr(config.option, "dist", "no") != "no" and not hasattr(
            config, "workerinput"
        )
        if controller or any(getattr(config.option, name, False) for name in _NO_TESTS):
            return
        if state.settings.service.start_kind not in MODE_SPECS[state.mode].early_start:
            return
        state.backend = make_backend(state.mode, state.settings, state.run)
        assert isinstance(state.backend, EarlyStartBackend), state.backend
        state.backend.begin()

    # Collection ---------------------------------------------------------------------------

    @pytest.hookimpl(trylast=True)
    def pytest_collection_modifyitems(
        self, session: pytest.Session, config: pytest.Config, items: list[pytest.Item]
    ) -> None:
        record_markers(items)
        state = self.state
        if not MODE_SPECS[state.mode].controllable:
            elsewhere = [m for m in reversed(ALL_MODES) if MODE_SPECS[m].controllable]
            reason = (
                f"{state.mode} gives no control of the deployment: this test runs in"
                f" {' or '.join(elsewhere)}"
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
        collected["selection"] = self._selection().to_json()
        (state.run.shared_dir / "collected.json").write_text(json.dumps(collected), "utf-8")
        shard_option = config.getoption("mc_shard")
        if shard_option:
            self._select_shard(items, str(shard_option))

    def pytest_deselected(self, items: list[pytest.Item]) -> None:
        self.state.deselected.extend(
            Deselected(item.nodeid, tuple(sorted({m.name for m in item.iter_markers()})))
            for item in items
        )

    def _selection(self) -> Selection:
        """What the run was asked to run, in node-id terms: the gate judges the baseline
        against it and names a subset run (docs/ledger.md)."""
        config, state = self.config, self.state
        root, here = config.rootpath, config.invocation_params.dir
        suite = state.settings.suite.partition("::")[0]

        def node(arg: str, base: Path = here) -> str:
            path, sep, rest = str(arg).partition("::")
            relative = Path(os.path.relpath(base / path, root)).as_posix()
            return ("" if relative == "." else relative) + sep + rest

        settings = state.settings
        return Selection(
            paths=tuple(node(arg) for arg in config.args),
            # A suite setting that names nothing here cannot say what the whole is.
            suite=node(suite, settings.root) if (settings.root / suite).exists() else "",
            keyword=str(config.option.keyword or ""),
            markexpr=str(config.option.markexpr or ""),
            deselect=tuple(node(d) for d in config.getoption("deselect", None) or ()),
            ignore=tuple(node(i) for i in config.getoption("ignore", None) or ()),
            ignore_glob=tuple(str(g) for g in config.getoption("ignore_glob", None) or ()),
            last_failed=bool(getattr(config.option, "lf", False)),
            deselected=tuple(state.deselected),
            allowed=settings.allow_subset,
        )

    def _select_shard(self, items: list[pytest.Item], shard_option: str) -> None:
        from test_framework.sharding import load_durations, parse_shard, select_shard

        index, count = parse_shard(shard_option)
        durations_file = self.config.getoption("mc_shard_durations")
        durations = load_durations(Path(durations_file)) if durations_file else None
        keep = set(select_shard([item.nodeid for item in items], index, count, durations))
        selected = [item for item in items if item.nodeid in keep]
        deselected = [item for item in items if item.nodeid not in keep]
        if deselected:
            self.config.hook.pytest_deselected(items=deselected)
        items[:] = selected

    # Tests --------------------------------------------------------------------------------

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_setup(self, item: pytest.Item) -> None:
        """A local service that exited on its own fails each remaining test that needs the
        deployment at once, saying when and how, instead of letting it wait out its timeouts."""
        exit_message = getattr(self.state.backend, "exit_message", None)
        if exit_message is None or "mc_endpoints" not in getattr(item, "fixturenames", ()):
            return
        message = exit_message()
        if message is not None:
            pytest.fail(message, pytrace=False)

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(
        self, item: pytest.Item, call: pytest.CallInfo[None]
    ) -> Iterator[None]:
        """A test's report is redacted; a failed one's carries the service's recent logs, where
        the backend has them."""
        outcome = yield
        report = outcome.get_result()  # type: ignore[attr-defined]
        redact_report(report)
        backend = self.state.backend
        # A fast failure on a known outage adds nothing to the logs the first failure carried,
        # and each fetch costs a Compose call while the rest of the suite is failing fast.
        if call.excinfo is not None and isinstance(call.excinfo.value, NO_RERUN_ON):
            return
        if report.failed and isinstance(backend, LoggingBackend):
            from test_framework.client.redaction import redact_text

            report.sections.append(("service logs", redact_text(backend.service_logs(tail=100))))

    # The end of the session ---------------------------------------------------------------

    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        state = self.state
        if state.backend is None and hasattr(session.config, "workerinput"):
            # Every worker checks out of the deployment, even one that never used it, so that
            # one the workers share goes when the last of them is out.
            state.backend = make_backend(state.mode, state.settings, state.run)
        if state.backend is not None:
            state.backend.stop()
        if state.recorder is not None:
            self._close_run(int(exitstatus), complete=exitstatus != pytest.ExitCode.INTERRUPTED)

    @pytest.hookimpl(wrapper=True, tryfirst=True, specname="pytest_sessionfinish")
    def pytest_sessionfinish_interrupted(
        self, session: pytest.Session, exitstatus: int
    ) -> Iterator[None]:
        """Ctrl-C while the session ends (in any plugin's ``pytest_sessionfinish``, this one's
        too, e.g. a coverage report being written) skips the rest of them: the deployment still
        goes, the ledger is still written (incomplete), and pytest exits 2, not with a
        traceback."""
        try:
            return (yield)
        except KeyboardInterrupt:
            recorder = self.state.recorder
            if recorder is None:
                raise
            session.exitstatus = pytest.ExitCode.INTERRUPTED
            self._close_run(int(pytest.ExitCode.INTERRUPTED), complete=False)
            print(f"\ninterrupted while the session ended; ledger (incomplete): {recorder.path}")
            return None

    def pytest_keyboard_interrupt(self, excinfo: pytest.ExceptionInfo[BaseException]) -> None:
        """Ctrl-C before any test waited for the early start (while pytest configured or
        collected): its group is ended, in one line, as an interrupted ``start`` says."""
        if isinstance(self.state.backend, EarlyStartBackend):
            self.state.backend.abandon()

    def pytest_unconfigure(self, config: pytest.Config) -> None:
        """An early start whose session never ended (a usage error in a later plugin's
        ``pytest_configure``) is ended here, not left to the watchdog."""
        if isinstance(self.state.backend, EarlyStartBackend):
            self.state.backend.stop()  # a second stop does nothing

    def _close_run(self, exit_status: int, *, complete: bool) -> None:
        """The controller's last word on a run: the final ledger, then nothing of it left
        behind."""
        state = self.state
        assert state.recorder is not None
        collected_file = state.run.shared_dir / "collected.json"
        collected = (
            json.loads(collected_file.read_text("utf-8")) if collected_file.is_file() else {}
        )
        state.recorder.finish(
            exit_status=exit_status,
            complete=complete,
            deployment=self._read_deployment(),
            collected_count=collected.get("count"),
            collected_sha256=collected.get("sha256"),
            selection=Selection.from_json(collected["selection"])
            if "selection" in collected
            else None,
        )
        (state.backend or make_backend(state.mode, state.settings, state.run)).end_run()
        shutil.rmtree(state.run.shared_dir, ignore_errors=True)

    def _read_deployment(self) -> dict[str, Any]:
        """What the workers recorded of the deployment they used (URLs carry no secrets)."""
        deployment: dict[str, Any] = {}
        if self.state.endpoints is not None:
            deployment = self.state.endpoints.to_json()
        for path in sorted(self.state.run.shared_dir.glob("endpoints-*.json")):
            deployment = json.loads(path.read_text("utf-8"))
        return deployment

    def pytest_terminal_summary(self, terminalreporter: Any, config: pytest.Config) -> None:
        state = self.state
        recorder = state.recorder
        if recorder is None:
            return
        terminalreporter.section("mission-critical ledger")
        terminalreporter.write_line(f"mode {state.mode}: {state.reason}")
        terminalreporter.write_line(f"ledger: {recorder.path}")
        for record in recorder.retried():
            terminalreporter.write_line(
                f"retried ({record.attempts} attempts, {record.connection_retries} connection"
                f" retries): {record.nodeid}"
            )

"""Turns pytest's reports into the run's ledger, in the one process that writes it.

Registered as a plugin object in the controller (or the only process without pytest-xdist):
xdist forwards every worker's reports there, with their ``user_properties``.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from test_framework.client.redaction import redact_text
from test_framework.results.ledger import CollectionError, Ledger, Outcome, TestRecord, write_ledger

SKIP_PREFIX = "Skipped: "


@dataclass
class _Draft:
    """A test's record while its setup, call and teardown reports arrive."""

    nodeid: str
    outcome: Outcome | None = None
    markers: tuple[str, ...] = ()
    duration_s: float = 0.0
    skip_reason: str | None = None
    message: str | None = None
    reruns: int = 0
    transcript: str | None = None
    connection_retries: int = 0

    def record(self) -> TestRecord:
        return TestRecord(
            nodeid=self.nodeid,
            outcome=self.outcome or Outcome.ERROR,
            markers=self.markers,
            duration_s=self.duration_s,
            skip_reason=self.skip_reason,
            message=self.message if self.outcome is not None else "the test never finished",
            attempts=self.reruns + 1,
            transcript=self.transcript,
            connection_retries=self.connection_retries,
        )


# eq=False keeps identity hashing: pytest keeps the plugins it has seen in a set (8.4.0 fails
# to start with an unhashable plugin).
@dataclass(eq=False)
class LedgerRecorder:
    path: Path
    base: Ledger
    _drafts: dict[str, _Draft] = field(default_factory=dict)
    _collection_errors: list[CollectionError] = field(default_factory=list)

    # pytest hooks (this object is registered as a plugin) ----------------------------------

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.failed:
            self._collection_errors.append(
                CollectionError(report.nodeid or "<session>", _message(report))
            )

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        draft = self._drafts.setdefault(report.nodeid, _Draft(report.nodeid))
        draft.duration_s += report.duration
        # An item's user_properties outlive a rerun, so a report carries every attempt's count.
        retries = [v for n, v in report.user_properties if n == "mc_connection_retries"]
        if retries:
            draft.connection_retries = sum(v for v in retries if isinstance(v, int))
        for name, value in report.user_properties:
            if name == "mc_markers" and isinstance(value, list | tuple):
                draft.markers = tuple(str(marker) for marker in value)
            elif name == "mc_transcript":
                draft.transcript = str(value)
        # pytest-rerunfailures sets this outcome, which pytest's own types do not list.
        if str(report.outcome) == "rerun":  # this attempt failed and will be run again
            draft.reruns += 1
            draft.outcome = None
            draft.message = _message(report)
            return
        outcome = _outcome(report)
        if outcome is None:
            return
        if report.when == "teardown":
            # A failing teardown turns any verdict into an error; a clean one changes nothing.
            if outcome is Outcome.ERROR:
                draft.outcome, draft.message = outcome, _message(report)
            return
        draft.outcome = outcome
        if outcome is Outcome.SKIPPED:
            draft.skip_reason = _skip_reason(report)
        elif outcome in (Outcome.FAILED, Outcome.ERROR, Outcome.XFAILED):
            draft.message = _message(report)

    # ---------------------------------------------------------------------------------------

    def ledger(self, **changes: Any) -> Ledger:
        return dataclasses.replace(
            self.base,
            collection_errors=tuple(self._collection_errors),
            tests=tuple(draft.record() for draft in self._drafts.values()),
            **changes,
        )

    def flush(self) -> None:
        """Write what is known so far; an interrupted run leaves this, marked incomplete."""
        write_ledger(self.ledger(), self.path)

    def finish(self, *, exit_status: int, complete: bool, **facts: Any) -> Ledger:
        """The final ledger; ``facts`` are Ledger fields known only at the end."""
        ledger = self.ledger(
            ended_at=time.time(), complete=complete, exit_status=exit_status, **facts
        )
        write_ledger(ledger, self.path)
        return ledger

    def retried(self) -> list[TestRecord]:
        return [record for record in map(_Draft.record, self._drafts.values()) if record.retried]


def _outcome(report: pytest.TestReport) -> Outcome | None:
    """The verdict one phase's report gives, or None when it says nothing new."""
    xfail = hasattr(report, "wasxfail")
    if report.when == "call":
        if report.passed:
            return Outcome.XPASSED if xfail else Outcome.PASSED
        if report.skipped:
            return Outcome.XFAILED if xfail else Outcome.SKIPPED
        return Outcome.FAILED
    if report.failed:
        return Outcome.ERROR
    if report.skipped:
        return Outcome.XFAILED if xfail else Outcome.SKIPPED
    return None


def _skip_reason(report: pytest.TestReport) -> str:
    longrepr = report.longrepr
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        return str(longrepr[2]).removeprefix(SKIP_PREFIX)
    return str(longrepr)


def _message(report: pytest.TestReport | pytest.CollectReport) -> str:
    """A short, redacted statement of what went wrong."""
    if hasattr(report, "wasxfail"):
        return redact_text(str(report.wasxfail))
    crash = getattr(report.longrepr, "reprcrash", None)
    text = getattr(crash, "message", None) or report.longreprtext.strip().splitlines()[-1:]
    if isinstance(text, list):
        text = text[0] if text else ""
    return redact_text(str(text))[:2000]

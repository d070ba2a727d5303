"""A test's report, redacted where pytest made it: before the terminal prints it, pytest's own
``--junitxml`` writes it, pytest-xdist sends it to the controller or the ledger records it.

A failure's message is the test's own text: an assertion may show a response whose URL carries
a token, or a test may put what it holds in its message. The report keeps its structure (the
traceback's entries, the crash line, the captured output's sections), with every string in it
passed through ``redact_text``.
"""

from __future__ import annotations

import dataclasses

import pytest

from test_framework.client.redaction import redact_text


def redact_report(report: pytest.TestReport) -> None:
    longrepr = report.longrepr
    if longrepr is not None:
        report.longrepr = _redacted(longrepr)  # type: ignore[assignment]
    report.sections = [(title, redact_text(content)) for title, content in report.sections]


def _redacted(value: object) -> object:
    """``value`` with every string in it redacted; pytest's repr objects in place."""
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, list):
        return [_redacted(item) for item in value]
    if isinstance(value, tuple):
        return tuple(_redacted(item) for item in value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        for field in dataclasses.fields(value):
            setattr(value, field.name, _redacted(getattr(value, field.name)))
    return value

"""The pytest plugin ``python -m test_framework baseline`` loads (``-p``) into the collection it
runs: with ``--mc-collect-to FILE`` it writes what pytest collected, each test with whether it
is marked ``mission_critical``, and the modules that failed to collect or skipped themselves.
It starts nothing: a collection runs no fixture, and no mode is chosen.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from test_framework.results.baseline_command import OPTION
from test_framework.results.ledger import MISSION_CRITICAL


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(OPTION, dest="mc_collect_to", metavar="FILE", help="(the baseline command's)")


def pytest_configure(config: pytest.Config) -> None:
    target = config.getoption("mc_collect_to")
    if target:
        config.pluginmanager.register(Collector(Path(str(target))), "mc-baseline-collector")


# eq=False: pytest keeps its plugins in a set.
@dataclass(eq=False)
class Collector:
    path: Path
    errors: list[dict[str, str]] = field(default_factory=list)
    skipped: list[dict[str, str]] = field(default_factory=list)

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.failed:
            lines = [line for line in report.longreprtext.splitlines() if line.strip()]
            # pytest's "E   " before the exception's own line.
            message = re.sub(r"^E\s+", "", lines[-1]) if lines else ""
            self.errors.append({"nodeid": report.nodeid or "<session>", "message": message})
        elif report.skipped:
            longrepr = report.longrepr
            reason = longrepr[2] if isinstance(longrepr, tuple) else str(longrepr)
            self.skipped.append(
                {"nodeid": report.nodeid, "reason": str(reason).removeprefix("Skipped: ")}
            )

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        tests: list[dict[str, Any]] = [
            {
                "nodeid": item.nodeid,
                "mission_critical": item.get_closest_marker(MISSION_CRITICAL) is not None,
            }
            for item in session.items
        ]
        data = {"tests": tests, "errors": self.errors, "skipped": self.skipped}
        self.path.write_text(json.dumps(data), "utf-8")

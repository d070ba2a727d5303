"""JUnit XML per mode, for CI tools: ``<reports>/<mode>/junit.xml``.

Each mode's file lists every test of the matrix, so a skipped mode shows its tests as skipped
with the mode's reason, and a test another mode collected shows as "not collected" here;
a CI dashboard then never counts a missing test as nothing to worry about. Standard library
only.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from test_framework.results.ledger import Outcome
from test_framework.results.matrix import Matrix, ModeRun
from test_framework.results.verdict import utc

JUNIT_NAME = "junit.xml"


def split_nodeid(nodeid: str) -> tuple[str, str]:
    """``tests/a/test_b.py::TestC::test_d[x]`` -> ``("tests.a.test_b.TestC", "test_d[x]")``,
    the names pytest's own JUnit XML uses."""
    parts = nodeid.split("::")
    module = parts[0].removesuffix(".py").replace("/", ".").replace("\\", ".")
    return ".".join([module, *parts[1:-1]]), parts[-1] if len(parts) > 1 else parts[0]


def build(matrix: Matrix, run: ModeRun) -> ET.ElementTree[ET.Element]:
    suites = ET.Element("testsuites")
    suite = ET.SubElement(suites, "testsuite", name=run.mode)
    properties = ET.SubElement(suite, "properties")
    status = run.status.value if run.status else "missing"
    # Which runs these results come from, and when: a file read later must not pass for newer.
    runs = "; ".join(
        f"{lo.label}: run {lo.ledger.run_id} started {utc(lo.ledger.started_at)}"
        for lo in run.ledgers
    )
    for name, value in (
        ("mode", run.mode),
        ("status", status),
        ("reason", run.reason),
        ("runs", runs or "no ledger"),
    ):
        ET.SubElement(properties, "property", name=name, value=value)
    totals = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    elapsed = 0.0
    for nodeid in matrix.nodeids:
        cell = matrix.cell(nodeid, run.mode)
        classname, name = split_nodeid(nodeid)
        duration = cell.record.duration_s if cell.record else 0.0
        elapsed += duration
        case = ET.SubElement(
            suite, "testcase", classname=classname, name=name, time=f"{duration:.3f}"
        )
        totals["tests"] += 1
        outcome = cell.outcome
        if outcome is Outcome.FAILED:
            totals["failures"] += 1
            child = ET.SubElement(case, "failure", message=_head(cell.reason) or "failed")
            child.text = cell.reason
        elif outcome is Outcome.ERROR:
            totals["errors"] += 1
            child = ET.SubElement(case, "error", message=_head(cell.reason) or "error")
            child.text = cell.reason
        elif outcome in (Outcome.SKIPPED, Outcome.NOT_COLLECTED):
            totals["skipped"] += 1
            label = "not collected" if outcome is Outcome.NOT_COLLECTED else "skipped"
            ET.SubElement(case, "skipped", type=outcome.value, message=cell.reason or label)
        elif outcome is Outcome.XFAILED:
            totals["skipped"] += 1
            ET.SubElement(case, "skipped", type="pytest.xfail", message=cell.reason or "xfail")
        transcript = cell.transcript_path
        if transcript is not None:
            ET.SubElement(case, "system-out").text = f"transcript: {transcript}"
    for key, total in totals.items():
        suite.set(key, str(total))
    suite.set("time", f"{elapsed:.3f}")
    ET.indent(suites)
    return ET.ElementTree(suites)


def _head(text: str) -> str:
    lines = text.splitlines()
    return lines[0] if lines else ""


def write_all(matrix: Matrix, report_dir: Path) -> list[Path]:
    """Write one file per mode of the matrix; return their paths."""
    written: list[Path] = []
    for run in matrix.modes:
        path = report_dir / run.mode / JUNIT_NAME
        path.parent.mkdir(parents=True, exist_ok=True)
        build(matrix, run).write(path, encoding="utf-8", xml_declaration=True)
        written.append(path)
    return written
